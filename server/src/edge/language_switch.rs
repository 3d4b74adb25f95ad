//! `GET /language/{tag}?back=/where/the/shopper/was`: the language switch on every page. A plain
//! link, so it works without JavaScript: it remembers the choice in the `hf_lang` cookie for a
//! year and sends the shopper back to the page they were on (only ever a path on this shop: a
//! `back` that would leave it is replaced by the front page).

use app::language::{Language, COOKIE};
use axum::extract::{Path, Query};
use axum::http::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// The choice is kept this long (a year).
const KEPT_SECS: u32 = 365 * 24 * 3600;

pub async fn switch(Path(tag): Path<String>, Query(q): Query<Back>, secure: bool) -> Response {
    let Some(language) = Language::from_tag(&tag) else {
        // no language chosen yet to say it in: each
        let said: Vec<String> = Language::ALL
            .into_iter()
            .map(|lang| app::tr!(lang, language_unknown))
            .collect();
        return (StatusCode::NOT_FOUND, said.join(" ")).into_response();
    };
    let back = q.back.as_deref().filter(|b| on_this_shop(b)).unwrap_or("/");
    let cookie = app::api::cookies::set_cookie(COOKIE, language.tag(), KEPT_SECS, secure);
    let (Ok(cookie), Ok(location)) = (HeaderValue::from_str(&cookie), HeaderValue::from_str(back))
    else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    (
        StatusCode::SEE_OTHER,
        [
            (SET_COOKIE, cookie),
            (LOCATION, location),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

/// A path on this shop: starts with one `/` (not `//host` or `/\host`, which browsers read as
/// another site), printable, of sane length.
fn on_this_shop(back: &str) -> bool {
    back.starts_with('/')
        && !back.starts_with("//")
        && !back.starts_with("/\\")
        && back.len() <= 2000
        && back.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::on_this_shop;

    #[test]
    fn only_a_path_on_this_shop_is_a_way_back() {
        for good in [
            "/",
            "/p/anchor-hoodie",
            "/status?code=AB&phone=%2B86",
            "/queue/t1.x",
        ] {
            assert!(on_this_shop(good), "{good}");
        }
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "/p/x\r\nSet-Cookie: a=b",
            "/ space",
        ] {
            assert!(!on_this_shop(bad), "{bad:?}");
        }
    }
}
