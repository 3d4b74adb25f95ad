//! The owner's product forms as typed (every field a string) and their checks into values the
//! queries take: a bad field is named with what is wrong, and nothing is changed.

use super::super::pages::{lang, t};
use super::super::products_db::{AdminProduct, ProductFields, SaleInput};
use app::domain::Money;
use app::domain::{At, Problem};
use app::shop_time::ShopZone;
use serde::Deserialize;

/// The product form as typed: every field a string, checked by [`ProductForm::fields`].
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ProductForm {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) slug: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) price: String,
    #[serde(default)]
    pub(super) max_per_order: String,
    /// Only when creating: the opening stock.
    #[serde(default)]
    pub(super) stock: String,
}

/// A form's problems, shown above it.
pub(super) type Problems = Vec<String>;

impl ProductForm {
    pub(super) fn of(p: &AdminProduct) -> ProductForm {
        ProductForm {
            name: p.name.clone(),
            slug: p.slug.clone(),
            description: p.description.clone(),
            price: Money::from_cents(p.price_cents)
                .map(Money::plain)
                .unwrap_or_default(),
            max_per_order: p.max_per_order.map(|l| l.to_string()).unwrap_or_default(),
            stock: String::new(),
        }
    }

    pub(super) fn fields(&self) -> Result<ProductFields, Problems> {
        let mut problems = Vec::new();
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            problems.push(t!(admin_err_product_name));
        }
        let slug = if self.slug.trim().is_empty() {
            slug_from(&name)
        } else {
            self.slug.trim().to_lowercase()
        };
        if !valid_slug(&slug) {
            problems.push(t!(admin_err_slug));
        }
        let description = self.description.trim().replace("\r\n", "\n");
        if description.chars().count() > 2000
            || description
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            problems.push(t!(admin_err_description));
        }
        let price = Money::parse_amount(&self.price)
            .map_err(|e| t!(admin_err_price, problem = e.say(lang())));
        let max_per_order = match optional_count(&self.max_per_order, 1, 99) {
            Ok(l) => l,
            Err(()) => {
                problems.push(t!(admin_err_per_order));
                None
            }
        };
        match price {
            Ok(price) if problems.is_empty() => Ok(ProductFields {
                slug,
                name,
                description,
                price_cents: price.cents(),
                max_per_order,
            }),
            Ok(_) => Err(problems),
            Err(e) => {
                problems.push(e);
                Err(problems)
            }
        }
    }
}

/// An empty field is `None`; otherwise a whole number in `min..=max`.
/// How long a sale's orders may stay unpaid when the owner does not say.
pub(super) const DEFAULT_PAY_MINUTES: i64 = 15;

fn optional_count(text: &str, min: i64, max: i64) -> Result<Option<i64>, ()> {
    match text.trim() {
        "" => Ok(None),
        t => t
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .map(Some)
            .ok_or(()),
    }
}

fn valid_slug(s: &str) -> bool {
    (1..=60).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `Big Harbour Mug (blue)` → `big-harbour-mug-blue`; letters outside a–z are dropped. A name
/// with none (`港湾马克杯`) gets `p-` and eight letters and digits drawn from it, so a shop that
/// names its products in Chinese need not think of an address.
pub fn slug_from(name: &str) -> String {
    let latin = latin_slug(name);
    if !latin.is_empty() || name.trim().is_empty() {
        return latin;
    }
    let hash = crate::store::clock::fingerprint_hash(name.trim());
    format!("p-{}", hash.get(..8).unwrap_or(&hash))
}

fn latin_slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    slug.trim_end_matches('-').to_owned()
}

#[derive(Deserialize)]
pub struct StockForm {
    #[serde(default)]
    pub(super) delta: String,
    #[serde(default)]
    pub(super) reason: String,
}

#[derive(Deserialize)]
pub struct ArchiveForm {
    #[serde(default)]
    pub(super) archived: String,
}

#[derive(Deserialize)]
pub struct RemovePictureForm {
    #[serde(default)]
    pub(super) position: String,
}

/// The sale form as typed. Times are on the shop's clock (its time zone, a setting), as
/// `datetime-local` inputs send them (`2026-12-24T09:00`); they are stored in UTC.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SaleForm {
    #[serde(default)]
    pub(super) starts_at: String,
    #[serde(default)]
    pub(super) ends_at: String,
    #[serde(default)]
    pub(super) sale_price: String,
    #[serde(default)]
    pub(super) per_customer_limit: String,
    #[serde(default)]
    pub(super) waiting_room: String,
    #[serde(default)]
    pub(super) hold_minutes: String,
    #[serde(default)]
    pub(super) pay_minutes: String,
}

impl SaleForm {
    pub(super) fn of(p: &AdminProduct, zone: ShopZone) -> SaleForm {
        let local = |t: At| zone.input_value(t);
        match &p.sale {
            Some(s) => SaleForm {
                starts_at: local(s.starts_at),
                ends_at: local(s.ends_at),
                sale_price: Money::from_cents(s.sale_price_cents)
                    .map(Money::plain)
                    .unwrap_or_default(),
                per_customer_limit: s
                    .per_customer_limit
                    .map(|l| l.to_string())
                    .unwrap_or_default(),
                waiting_room: if s.waiting_room {
                    "on".into()
                } else {
                    String::new()
                },
                hold_minutes: (s.hold_seconds / 60).max(1).to_string(),
                pay_minutes: (s.pay_seconds / 60).max(1).to_string(),
            },
            None => SaleForm {
                hold_minutes: "5".into(),
                pay_minutes: "15".into(),
                ..SaleForm::default()
            },
        }
    }

    pub(super) fn input(&self, zone: ShopZone) -> Result<SaleInput, Problems> {
        let mut problems = Vec::new();
        let mut time = |t: &str, what: &str| match zone.to_utc(t) {
            Ok(s) => s,
            Err(Problem::NotATime) => {
                problems.push(t!(admin_err_sale_time, what = what));
                At::from_millis(0)
            }
            Err(e) => {
                problems.push(format!("{what}: {}", e.say(lang())));
                At::from_millis(0)
            }
        };
        let starts_at = time(&self.starts_at, &t!(admin_sale_starts));
        let ends_at = time(&self.ends_at, &t!(admin_sale_ends));
        let price = Money::parse_amount(&self.sale_price)
            .map_err(|e| problems.push(t!(admin_err_sale_price, problem = e.say(lang()))))
            .ok();
        let limit = optional_count(&self.per_customer_limit, 1, 99)
            .map_err(|()| problems.push(t!(admin_err_per_customer)))
            .ok()
            .flatten();
        let hold = optional_count(&self.hold_minutes, 1, 60)
            .ok()
            .flatten()
            .or_else(|| {
                problems.push(t!(admin_err_hold_minutes));
                None
            });
        // empty: the default window, 15 minutes
        let pay = optional_count(&self.pay_minutes, 1, 1440)
            .ok()
            .map(|m| m.unwrap_or(DEFAULT_PAY_MINUTES))
            .or_else(|| {
                problems.push(t!(admin_err_pay_minutes));
                None
            });
        match (price, hold, pay) {
            (Some(price), Some(hold), Some(pay)) if problems.is_empty() => Ok(SaleInput {
                starts_at,
                ends_at,
                sale_price_cents: price.cents(),
                per_customer_limit: limit,
                waiting_room: self.waiting_room == "on",
                hold_seconds: hold * 60,
                pay_seconds: pay * 60,
            }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn slugs_are_made_from_names() {
        assert_eq!(slug_from("Big Harbour Mug (blue)"), "big-harbour-mug-blue");
        assert_eq!(slug_from("  Crème brûlée!! "), "cr-me-br-l-e");
        let chinese = slug_from("港湾马克杯");
        assert!(
            chinese.starts_with("p-") && valid_slug(&chinese),
            "{chinese}"
        );
        assert_eq!(
            chinese,
            slug_from(" 港湾马克杯 "),
            "the same name, the same address"
        );
        assert_ne!(chinese, slug_from("海盐焦糖"));
        assert_eq!(slug_from("  "), "");
        assert!(valid_slug("harbour-mug-2"));
        assert!(!valid_slug("-mug") && !valid_slug("Mug") && !valid_slug("") && !valid_slug("a b"));
    }

    #[test]
    pub(super) fn sale_times_are_read_on_the_shops_clock() {
        let form = |starts: &str| SaleForm {
            starts_at: starts.into(),
            ends_at: "2026-12-25T09:00".into(),
            sale_price: "9".into(),
            hold_minutes: "5".into(),
            pay_minutes: "15".into(),
            ..SaleForm::default()
        };
        let shanghai = ShopZone::of_setting("Asia/Shanghai");
        let input = form("2026-12-24 09:00")
            .input(shanghai)
            .unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(input.starts_at.to_string(), "2026-12-24T01:00:00.000Z");
        assert_eq!(input.ends_at.to_string(), "2026-12-25T01:00:00.000Z");
        let utc = ShopZone::of_setting("UTC");
        let input = form("2026-12-24T09:00")
            .input(utc)
            .unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(input.starts_at.to_string(), "2026-12-24T09:00:00.000Z");
        assert_eq!(
            form("24/12/2026 9am")
                .input(shanghai)
                .err()
                .map(|p| p.len()),
            Some(1)
        );
        let berlin = ShopZone::of_setting("Europe/Berlin");
        let skipped = form("2026-03-29T02:30")
            .input(berlin)
            .err()
            .unwrap_or_default();
        assert!(skipped[0].contains("does not exist"), "{skipped:?}");
    }

    #[test]
    pub(super) fn a_product_form_reports_every_bad_field() {
        let form = ProductForm {
            name: String::new(),
            price: "12.345".into(),
            max_per_order: "0".into(),
            slug: "Not OK".into(),
            ..ProductForm::default()
        };
        let problems = form.fields().err().unwrap_or_default();
        assert_eq!(problems.len(), 4, "{problems:?}");
        let good = ProductForm {
            name: "Harbour Mug".into(),
            price: "18".into(),
            ..ProductForm::default()
        };
        let fields = good.fields().unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(
            (fields.slug.as_str(), fields.price_cents),
            ("harbour-mug", 1800)
        );
    }
}
