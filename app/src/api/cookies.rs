//! Reading request cookies and setting response cookies from inside a server function.

use http::header::{COOKIE, SET_COOKIE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

/// The value of the named request cookie, if sent.
pub fn read(name: &str) -> Option<String> {
    let parts = use_context::<Parts>()?;
    in_headers(&parts.headers, name).map(str::to_owned)
}

/// The value of cookie `name` in a request's headers (every `Cookie` header, each `a=1; b=2`),
/// read by the `cookie` crate: a pair it cannot read is passed over, a value is given as sent.
pub fn in_headers<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.value_raw())
}

/// The payload of a cookie this server sealed with the shop's key ([`set_sealed`]); `None` when
/// it is missing, forged, altered or sealed for another cookie. A cookie is input like any other:
/// what the server acts on later, it must have signed.
pub fn read_sealed(signer: &crate::tokens::Signer, name: &str) -> Option<String> {
    let raw = read(name)?;
    signer.open(name, &raw).map(str::to_owned)
}

/// Sets a cookie whose value the server will trust when it comes back: sealed (HMAC) under the
/// shop's key for this cookie's name. `payload` must be cookie-safe, as for [`set`].
pub fn set_sealed(
    signer: &crate::tokens::Signer,
    name: &str,
    payload: &str,
    max_age_secs: u32,
    secure: bool,
) {
    set(name, &signer.seal(name, payload), max_age_secs, secure);
}

/// Whether the request came from a plain HTML form (no JavaScript): it accepts `text/html`.
pub fn from_plain_form() -> bool {
    use_context::<Parts>()
        .and_then(|p| p.headers.get(http::header::ACCEPT).cloned())
        .and_then(|v| v.to_str().ok().map(|s| s.contains("text/html")))
        .unwrap_or(false)
}

/// Sets a cookie for the whole site, kept for `max_age_secs` (0 deletes it). Values must be
/// cookie-safe (callers pass only `[A-Za-z0-9:._-]` or percent-encoded text).
pub fn set(name: &str, value: &str, max_age_secs: u32, secure: bool) {
    let Some(response) = use_context::<ResponseOptions>() else {
        return;
    };
    if let Ok(v) = HeaderValue::from_str(&set_cookie(name, value, max_age_secs, secure)) {
        response.append_header(SET_COOKIE, v);
    }
}

/// The `Set-Cookie` value of every cookie the shop sets for shoppers: the whole site,
/// `HttpOnly`, `SameSite=Lax`, `Secure` when served over HTTPS.
pub fn set_cookie(name: &str, value: &str, max_age_secs: u32, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}")
}

/// Percent-encodes text so it can sit in a cookie value.
pub fn encode(text: &str) -> String {
    crate::percent::encode(text)
}

/// Reverses [`encode`]; `None` for malformed input.
pub fn decode(text: &str) -> Option<String> {
    crate::percent::decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_in_any_cookie_header_and_junk_is_passed_over() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("junk; a=1;  =x;hf_cart=ab.c%20d"),
        );
        headers.append(COOKIE, HeaderValue::from_static("hf_lang=en"));
        assert_eq!(in_headers(&headers, "a"), Some("1"));
        assert_eq!(in_headers(&headers, "hf_cart"), Some("ab.c%20d"));
        assert_eq!(in_headers(&headers, "hf_lang"), Some("en"));
        assert_eq!(in_headers(&headers, "junk"), None);
        assert_eq!(in_headers(&headers, "hf_ticket"), None);
    }

    #[test]
    fn cookie_text_round_trips_through_percent_encoding() {
        for s in [
            "",
            "plain",
            "Ada Lovelace; x=1",
            "李小龙\n2 Main St %",
            "a%zz",
        ] {
            assert_eq!(decode(&encode(s)).as_deref(), Some(s));
        }
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%4"), None);
    }
}
