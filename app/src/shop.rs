//! The shop's own settings, as the owner sets them at `/admin/settings`: its name and logo, how
//! shoppers reach the owner, the default language, the currency, the time zone and how to pay.
//!
//! Every server reads them with the catalogue (at most a quarter of a second old, so a change
//! shows on every server of the shop at once) and puts them on each request; a page reads them
//! with [`use_shop`].

use crate::domain::{Currency, Money};
use crate::language::Language;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The most characters of each setting the owner types.
pub const MAX_NAME_CHARS: usize = 60;
pub const MAX_CONTACT_CHARS: usize = 100;
pub const MAX_PAYMENT_TEXT_CHARS: usize = 2000;

/// The time zone of a shop that has not chosen one: China's.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopSettings {
    /// Goes up with every change the owner saves.
    pub version: i64,
    /// The shop's name; empty: the translated default ("Holdfast 小店").
    pub name: String,
    /// The logo: a picture's hash (served at [`picture_url`]), or none.
    pub logo: Option<String>,
    pub contact_phone: String,
    pub contact_wechat: String,
    pub contact_email: String,
    /// For a visitor whose browser names neither language the shop speaks.
    pub default_language: Language,
    pub currency: Currency,
    /// An IANA time zone name (`Asia/Shanghai`): sale times are entered and shown in it.
    pub time_zone: String,
    /// How to pay, in the owner's words: shown while an order awaits payment.
    pub payment_text: String,
    /// A picture to pay with (a WeChat Pay or Alipay receiving code): a hash, or none.
    pub payment_picture: Option<String>,
}

impl Default for ShopSettings {
    fn default() -> ShopSettings {
        ShopSettings {
            version: 0,
            name: String::new(),
            logo: None,
            contact_phone: String::new(),
            contact_wechat: String::new(),
            contact_email: String::new(),
            default_language: Language::DEFAULT,
            currency: Currency::default(),
            time_zone: DEFAULT_TIME_ZONE.to_owned(),
            payment_text: String::new(),
            payment_picture: None,
        }
    }
}

impl ShopSettings {
    /// The name shoppers see: the owner's, else the shop's default in `lang`.
    pub fn display_name(&self, lang: Language) -> String {
        if self.name.trim().is_empty() {
            crate::tr!(lang, shop_name)
        } else {
            self.name.clone()
        }
    }

    /// An amount in the shop's currency (`¥19.00`); a stored amount that is not one, a dash.
    pub fn price(&self, cents: i64) -> String {
        Money::from_cents(cents).map_or_else(|| "—".to_owned(), |m| m.show(self.currency))
    }

    /// A stored UTC time on the shop's clock, `2026-12-24 09:00` (in the browser, where the
    /// zone tables are not, as stored).
    pub fn local_time(&self, at: crate::domain::At) -> String {
        #[cfg(feature = "ssr")]
        {
            crate::shop_time::ShopZone::of_setting(&self.time_zone).show(at)
        }
        #[cfg(not(feature = "ssr"))]
        {
            at.to_string()
        }
    }

    /// Whether there is anything to say about paying.
    pub fn has_payment_instructions(&self) -> bool {
        !self.payment_text.trim().is_empty() || self.payment_picture.is_some()
    }

    /// Whether shoppers have any way to reach the owner.
    pub fn has_contact(&self) -> bool {
        [
            &self.contact_phone,
            &self.contact_wechat,
            &self.contact_email,
        ]
        .iter()
        .any(|c| !c.trim().is_empty())
    }
}

/// Where a picture of the shop's own (logo, payment code) is served, by its hash.
pub fn picture_url(hash: &str) -> String {
    format!("/shop-pictures/{hash}")
}

/// The settings the server put on this request ([`attach`] is the server's job), else the
/// defaults.
#[cfg(feature = "ssr")]
pub fn of_request(extensions: &http::Extensions) -> Arc<ShopSettings> {
    extensions
        .get::<Arc<ShopSettings>>()
        .cloned()
        .unwrap_or_default()
}

/// The settings of the page being rendered: read once per page ([`crate::shell`] provides them),
/// else from the request; in the browser the defaults (islands are given what they show).
pub fn use_shop() -> Arc<ShopSettings> {
    if let Some(shop) = leptos::prelude::use_context::<Arc<ShopSettings>>() {
        return shop;
    }
    #[cfg(feature = "ssr")]
    if let Some(parts) = leptos::prelude::use_context::<http::request::Parts>() {
        return of_request(&parts.extensions);
    }
    Arc::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unnamed_shop_is_called_by_its_default_name_in_each_language() {
        let shop = ShopSettings::default();
        assert_eq!(shop.display_name(Language::ZhCn), "Holdfast 小店");
        assert_eq!(shop.display_name(Language::En), "Holdfast");
        let named = ShopSettings {
            name: "王姐的小店".to_owned(),
            ..ShopSettings::default()
        };
        assert_eq!(named.display_name(Language::En), "王姐的小店");
    }

    #[test]
    fn prices_follow_the_shops_currency() {
        let mut shop = ShopSettings::default();
        assert_eq!(shop.price(1900), "¥19.00");
        shop.currency = Currency::Eur;
        assert_eq!(shop.price(1900), "€19.00");
        assert_eq!(shop.price(-1), "—");
    }
}
