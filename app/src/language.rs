//! The shopper's language: Simplified Chinese or English. Chosen on the first visit from the
//! browser's `Accept-Language`, then by the shopper with the switch on every page (a plain link:
//! no JavaScript needed), remembered in the `hf_lang` cookie. The texts live in
//! `locales/*.json`, compiled into the typed `i18n` module; pages are translated on the server,
//! so the browser's WASM carries no translations (an island is given its words by its page).
//!
//! The cookie is a preference, not a credential: it is read strictly into [`Language`] and
//! anything else is ignored, so it needs no signature.

/// The cookie that remembers the shopper's choice.
pub const COOKIE: &str = "hf_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Language {
    ZhCn,
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::ZhCn, Language::En];
    /// For a visitor whose browser names neither language, until the owner chooses another
    /// (`ShopSettings::default_language`): a Chinese shop speaks Chinese.
    pub const DEFAULT: Language = Language::ZhCn;

    /// The BCP 47 tag, for `<html lang>`, the cookie and the switch's address.
    pub fn tag(self) -> &'static str {
        match self {
            Language::ZhCn => "zh-CN",
            Language::En => "en",
        }
    }

    /// A tag as the switch and the cookie write it (`zh-CN`, `en`; any case).
    pub fn from_tag(tag: &str) -> Option<Language> {
        Language::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(tag.trim()))
    }

    pub fn other(self) -> Language {
        match self {
            Language::ZhCn => Language::En,
            Language::En => Language::ZhCn,
        }
    }

    pub fn locale(self) -> crate::i18n::Locale {
        match self {
            Language::ZhCn => crate::i18n::Locale::zh_CN,
            Language::En => crate::i18n::Locale::en,
        }
    }

    /// The language of a browser's `Accept-Language` the shop speaks, by preference (`q`):
    /// any Chinese (`zh`, `zh-CN`, `zh-Hans`, `zh-TW`) reads the Chinese shop, any English the
    /// English one.
    pub fn from_accept_language(header: &str) -> Option<Language> {
        let mut best: Option<(u16, Language)> = None;
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), thousandths);
            let Some(quality) = quality.filter(|q| *q > 0) else {
                continue;
            };
            let primary = tag.split('-').next().unwrap_or_default();
            let language = if primary.eq_ignore_ascii_case("zh") {
                Language::ZhCn
            } else if primary.eq_ignore_ascii_case("en") {
                Language::En
            } else {
                continue;
            };
            if best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, language));
            }
        }
        best.map(|(_, language)| language)
    }

    /// The shopper's choice (the [`COOKIE`]'s value) if it names a language the shop speaks,
    /// else the browser's, else the shop's default.
    pub fn resolve(
        chosen: Option<&str>,
        accept_language: Option<&str>,
        shop_default: Language,
    ) -> Language {
        chosen
            .and_then(Language::from_tag)
            .or_else(|| accept_language.and_then(Language::from_accept_language))
            .unwrap_or(shop_default)
    }

    /// The language a request asks for ([`Language::resolve`] of its cookie and
    /// `Accept-Language`, else the shop's default): for the page it renders, the page cache's
    /// key and the JSON API's messages.
    #[cfg(feature = "ssr")]
    pub fn of_request(headers: &http::HeaderMap, shop_default: Language) -> Language {
        let accept_language = headers
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Language::resolve(
            crate::api::cookies::in_headers(headers, COOKIE),
            accept_language,
            shop_default,
        )
    }
}

/// A `q` value (`0.8`, `1`, `0.125`) in thousandths; `None` if it is not one.
fn thousandths(q: &str) -> Option<u16> {
    let (whole, fraction) = q.trim().split_once('.').unwrap_or((q.trim(), ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = whole.parse().ok()?;
    let fraction: u16 = format!("{fraction:0<3}").parse().ok()?;
    let value = whole.checked_mul(1000)?.checked_add(fraction)?;
    (value <= 1000).then_some(value)
}

/// The language of the page being rendered: decided once per page ([`crate::shell`] provides
/// it), else from the request (a server function); in the browser (islands are given their
/// words, so this is rarely asked) the default.
pub fn use_language() -> Language {
    if let Some(lang) = leptos::prelude::use_context::<Language>() {
        return lang;
    }
    #[cfg(feature = "ssr")]
    if let Some(parts) = leptos::prelude::use_context::<http::request::Parts>() {
        let shop_default = crate::shop::of_request(&parts.extensions).default_language;
        return Language::of_request(&parts.headers, shop_default);
    }
    Language::DEFAULT
}

/// A text of the page's language: `tr!(lang, key)` or `tr!(lang, key, name = value)`. A key
/// missing from `locales/*.json` does not compile.
#[macro_export]
macro_rules! tr {
    ($lang:expr, $($rest:tt)*) => {
        leptos_i18n::td_string!($lang.locale(), $($rest)*).to_string()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browsers_preferred_language_wins_among_those_the_shop_speaks() {
        let table = [
            ("zh-CN,zh;q=0.9,en;q=0.8", Some(Language::ZhCn)),
            ("en-US,en;q=0.9,zh-CN;q=0.8", Some(Language::En)),
            ("zh-TW,zh;q=0.9", Some(Language::ZhCn)),
            ("zh-Hans-CN", Some(Language::ZhCn)),
            ("fr-FR,fr;q=0.9,en;q=0.5,zh;q=0.4", Some(Language::En)),
            ("fr-FR,de;q=0.9", None),
            ("en;q=0, zh;q=0.1", Some(Language::ZhCn)),
            ("en;q=0.5, zh;q=0.500", Some(Language::En)),
            ("EN-gb", Some(Language::En)),
            ("*", None),
            ("", None),
            ("en;q=abc, zh", Some(Language::ZhCn)),
            ("en;q=1.5, zh;q=0.2", Some(Language::ZhCn)),
        ];
        for (header, expected) in table {
            assert_eq!(Language::from_accept_language(header), expected, "{header}");
        }
    }

    #[test]
    fn the_shoppers_choice_beats_the_browser_and_nonsense_is_ignored() {
        let resolve = |chosen, accept| Language::resolve(chosen, accept, Language::DEFAULT);
        assert_eq!(resolve(Some("en"), Some("zh-CN")), Language::En);
        assert_eq!(resolve(Some("zh-cn"), Some("en")), Language::ZhCn);
        assert_eq!(resolve(Some("<script>"), Some("en")), Language::En);
        assert_eq!(resolve(None, Some("de")), Language::DEFAULT);
        assert_eq!(resolve(None, None), Language::ZhCn);
    }

    #[test]
    fn a_visitor_who_names_no_language_gets_the_shops_default() {
        for shop in Language::ALL {
            assert_eq!(Language::resolve(None, None, shop), shop);
            assert_eq!(Language::resolve(None, Some("fr, de"), shop), shop);
            assert_eq!(Language::resolve(Some("xx"), Some("*"), shop), shop);
            // a browser's language or the shopper's own choice still beats it
            assert_eq!(Language::resolve(None, Some("en"), shop), Language::En);
            assert_eq!(
                Language::resolve(Some("zh-CN"), Some("en"), shop),
                Language::ZhCn
            );
        }
    }

    #[test]
    fn every_language_round_trips_through_its_tag() {
        for language in Language::ALL {
            assert_eq!(Language::from_tag(language.tag()), Some(language));
            assert_ne!(language.other(), language);
        }
        assert_eq!(Language::from_tag("fr"), None);
    }
}
