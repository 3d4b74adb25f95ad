//! Products as the shop shows them, and the stock badge a shopper reads.

use super::sale::SaleView;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductImage {
    pub url: String,
    pub alt: String,
}

/// The sizes an owner's picture is stored in (`/media/<id>-xs.jpg` 320 px, `-s.jpg` 640 px,
/// `-l.jpg` 1280 px wide), as an `<img srcset>`, for the URL of any of them; `None` for other
/// pictures (the demo's drawings, which are SVG and need one size).
pub fn picture_srcset(url: &str) -> Option<String> {
    let stem = url.strip_prefix("/media/")?;
    let id = ["-xs.jpg", "-s.jpg", "-l.jpg"]
        .iter()
        .find_map(|suffix| stem.strip_suffix(suffix))?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(format!(
        "/media/{id}-xs.jpg 320w, /media/{id}-s.jpg 640w, /media/{id}-l.jpg 1280w"
    ))
}

/// [`picture_srcset`] without the 1280 px size: what a phone may choose from, whatever its pixel
/// density (a 360 px phone never downloads the 1280 px picture).
pub fn picture_srcset_for_phones(url: &str) -> Option<String> {
    picture_srcset(url).and_then(|all| all.rsplit_once(", ").map(|(small, _)| small.to_owned()))
}

/// A product with its current stock, as served to pages and the JSON API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i64,
    /// The main picture.
    pub image_url: String,
    pub images: Vec<ProductImage>,
    /// A limited, low-stock item the shop is promoting.
    pub flash_sale: bool,
    /// Its flash sale, if one is announced, running or just over.
    #[serde(default)]
    pub sale: Option<SaleView>,
    /// The most units one order may hold, when the owner set a limit.
    #[serde(default)]
    pub max_per_order: Option<u32>,
    /// Its name and description in other languages, where the shop has them (the demo's).
    #[serde(default)]
    pub texts: Vec<ProductText>,
    /// The owner has paused checkout for it (or for the whole shop) for a moment.
    #[serde(default)]
    pub paused: bool,
}

/// A product's name and description in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductText {
    pub lang: crate::language::Language,
    pub name: String,
    pub description: String,
}

impl ProductView {
    /// Its name for a shopper reading `lang`: the text in that language if the shop has one,
    /// else the name as entered.
    pub fn name_in(&self, lang: crate::language::Language) -> &str {
        self.text_in(lang).map_or(&self.name, |t| &t.name)
    }

    /// Its description for a shopper reading `lang` (as [`ProductView::name_in`]).
    pub fn description_in(&self, lang: crate::language::Language) -> &str {
        self.text_in(lang)
            .map_or(&self.description, |t| &t.description)
    }

    /// The product as a shopper reading `lang` sees it: its name and description in that
    /// language, without the others (a page carries only what it shows).
    pub fn in_language(mut self, lang: crate::language::Language) -> ProductView {
        if let Some(text) = self.texts.iter().position(|t| t.lang == lang) {
            let text = self.texts.swap_remove(text);
            // pictures described by the product's name are described by its name in `lang`
            for image in &mut self.images {
                if let Some(rest) = image.alt.strip_prefix(self.name.as_str()) {
                    image.alt = format!("{}{rest}", text.name);
                }
            }
            self.name = text.name;
            self.description = text.description;
        }
        self.texts.clear();
        self
    }

    fn text_in(&self, lang: crate::language::Language) -> Option<&ProductText> {
        self.texts.iter().find(|t| t.lang == lang)
    }

    /// What one unit costs right now: the sale price while the sale is live.
    pub fn price_now_cents(&self) -> i64 {
        match &self.sale {
            Some(sale) if sale.is_live() => sale.sale_price_cents,
            _ => self.price_cents,
        }
    }

    /// Whether shoppers must join the waiting room rather than use the cart.
    pub fn queues(&self) -> bool {
        self.sale.as_ref().is_some_and(SaleView::queues)
    }

    /// Whether orders are refused because the sale has not started.
    pub fn not_yet_on_sale(&self) -> bool {
        self.sale
            .as_ref()
            .is_some_and(|s| s.phase == super::sale::SalePhase::Upcoming)
    }

    /// The most a shopper can put in one order right now: what is in stock, within the
    /// per-order limit and the largest quantity an order line takes.
    pub fn max_quantity(&self) -> i64 {
        let limit = self.max_per_order.map_or(i64::MAX, i64::from);
        self.stock
            .min(limit)
            .clamp(1, i64::from(super::Quantity::MAX))
    }

    pub fn badge(&self) -> StockBadge {
        StockBadge::for_stock(self.stock)
    }
}

/// What a shopper is told about stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockBadge {
    SoldOut,
    OnlyLeft(i64),
    InStock,
}

impl StockBadge {
    /// At or below this many units the exact count is shown ("only 3 left").
    pub const LOW_STOCK: i64 = 5;

    pub fn for_stock(stock: i64) -> StockBadge {
        match stock {
            s if s <= 0 => StockBadge::SoldOut,
            s if s <= Self::LOW_STOCK => StockBadge::OnlyLeft(s),
            _ => StockBadge::InStock,
        }
    }

    /// The badge's words in the page's language.
    pub fn text(self, lang: crate::language::Language) -> String {
        match self {
            StockBadge::SoldOut => crate::tr!(lang, stock_sold_out),
            StockBadge::OnlyLeft(count) => crate::tr!(lang, stock_only_left, count = count),
            StockBadge::InStock => crate::tr!(lang, stock_in_stock),
        }
    }

    pub fn css_class(self) -> &'static str {
        match self {
            StockBadge::SoldOut => "badge badge-soldout",
            StockBadge::OnlyLeft(_) => "badge badge-low",
            StockBadge::InStock => "badge badge-ok",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::Language;

    #[test]
    fn an_owners_picture_offers_its_three_sizes_and_a_drawing_none() {
        let all = "/media/ab12-xs.jpg 320w, /media/ab12-s.jpg 640w, /media/ab12-l.jpg 1280w";
        assert_eq!(picture_srcset("/media/ab12-l.jpg").as_deref(), Some(all));
        assert_eq!(picture_srcset("/media/ab12-s.jpg").as_deref(), Some(all));
        assert_eq!(picture_srcset("/images/mug.svg"), None);
        assert_eq!(
            picture_srcset_for_phones("/media/ab12-l.jpg").as_deref(),
            Some("/media/ab12-xs.jpg 320w, /media/ab12-s.jpg 640w")
        );
        assert_eq!(picture_srcset_for_phones("/images/mug.svg"), None);
        assert_eq!(picture_srcset("/media/a b-s.jpg"), None);
        assert_eq!(picture_srcset("/media/-s.jpg"), None);
    }

    #[test]
    fn the_badge_says_sold_out_only_left_or_in_stock() {
        assert_eq!(StockBadge::for_stock(0).text(Language::En), "Sold out");
        assert_eq!(StockBadge::for_stock(-2), StockBadge::SoldOut);
        assert_eq!(StockBadge::for_stock(1).text(Language::En), "Only 1 left");
        assert_eq!(StockBadge::for_stock(5).text(Language::En), "Only 5 left");
        assert_eq!(StockBadge::for_stock(6).text(Language::En), "In stock");
    }
}
