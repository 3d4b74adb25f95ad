//! The card a chat app or a social site shows for a shared link (Open Graph): the product or the
//! shop, its picture, and for a product its price and whether it is in stock, in the page's
//! language. The picture and the link are absolute on the shop's public address
//! ([`PublicUrl`], set by the operator); without one, the card names no picture or link rather
//! than guess an address.

use crate::domain::{Currency, Money, ProductView, PublicUrl};
use crate::language::Language;
use crate::shop::ShopSettings;
use leptos::prelude::*;
use leptos_meta::Meta;

/// What a shared link's card says.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub title: String,
    pub description: String,
    /// The picture: the shop's own path (`/images/…`) or an absolute URL.
    pub image: Option<String>,
    /// The page's own path.
    pub path: String,
    /// A product's price now and whether it can be bought.
    pub offer: Option<Offer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    pub price: Money,
    pub currency: Currency,
    pub in_stock: bool,
}

/// Longer descriptions are cut (chat apps show two or three lines).
const DESCRIPTION_CHARS: usize = 160;

impl Card {
    /// A product's card: its name, description, first picture, and the price paid now.
    pub fn product(product: &ProductView, lang: Language, shop: &ShopSettings) -> Card {
        let description = match product.description_in(lang).trim() {
            "" => product.name_in(lang),
            text => text,
        };
        Card {
            title: product.name_in(lang).to_owned(),
            description: shortened(description),
            image: Some(
                product
                    .images
                    .first()
                    .map_or_else(|| product.image_url.clone(), |img| img.url.clone()),
            ),
            path: format!("/p/{}", product.slug),
            offer: Money::from_cents(product.price_now_cents()).map(|price| Offer {
                price,
                currency: shop.currency,
                // as the product's stock badge says it
                in_stock: product.badge() != crate::domain::StockBadge::SoldOut,
            }),
        }
    }

    /// The catalogue's card: the shop, a few of its products, its logo (else the first product's
    /// picture).
    pub fn catalogue(products: &[ProductView], lang: Language, shop: &ShopSettings) -> Card {
        let name = shop.display_name(lang);
        let separator = crate::tr!(lang, list_separator);
        let names: Vec<&str> = products.iter().take(3).map(|p| p.name_in(lang)).collect();
        let description = if names.is_empty() {
            name.clone()
        } else {
            crate::tr!(
                lang,
                share_catalogue_description,
                shop = name.as_str(),
                names = names.join(&separator)
            )
        };
        Card {
            title: name,
            description: shortened(&description),
            image: shop
                .logo
                .as_deref()
                .map(crate::shop::picture_url)
                .or_else(|| products.first().map(|p| p.image_url.clone())),
            path: "/".to_owned(),
            offer: None,
        }
    }
}

/// One line, at most [`DESCRIPTION_CHARS`] characters (cut with an ellipsis).
fn shortened(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= DESCRIPTION_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(DESCRIPTION_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The card's tags, for the page's `<head>` (leptos_meta escapes their values).
#[component]
pub fn ShareCard(card: Card) -> impl IntoView {
    let lang = crate::language::use_language();
    let shop = crate::shop::use_shop();
    let public = use_context::<PublicUrl>();
    let url = public.as_ref().map(|p| p.join(&card.path));
    let image = public
        .as_ref()
        .zip(card.image.as_deref())
        .map(|(p, i)| p.join(i));
    let locale = match lang {
        Language::ZhCn => "zh_CN",
        Language::En => "en_US",
    };
    let kind = if card.offer.is_some() {
        "product"
    } else {
        "website"
    };
    view! {
        <Meta name="description" content=card.description.clone() />
        <Meta property="og:type" content=kind />
        <Meta property="og:site_name" content=shop.display_name(lang) />
        <Meta property="og:title" content=card.title />
        <Meta property="og:description" content=card.description />
        <Meta property="og:locale" content=locale />
        {url.map(|url| view! { <Meta property="og:url" content=url /> })}
        {image.map(|image| view! { <Meta property="og:image" content=image /> })}
        {card.offer.map(|offer| view! {
            <Meta property="product:price:amount" content=offer.price.plain() />
            <Meta property="product:price:currency" content=offer.currency.code() />
            <Meta
                property="product:availability"
                content=if offer.in_stock { "in stock" } else { "out of stock" }
            />
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_description_is_cut_to_one_short_line() {
        assert_eq!(shortened("  two\n lines  "), "two lines");
        let long = "ü".repeat(200);
        let cut = shortened(&long);
        assert_eq!(cut.chars().count(), DESCRIPTION_CHARS);
        assert!(cut.ends_with('…'));
    }
}
