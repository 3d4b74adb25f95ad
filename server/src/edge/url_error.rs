//! Errors carried in a page's address. A form posted without JavaScript that fails is sent back
//! to its page with the error in the address (server_fn's `?__path=…&__err=…`), and Leptos would
//! show whatever such an address holds — so a link anyone can write would put its words in the
//! shop's own error box ("Order on hold: pay ¥500 to …"). Here the shop's own errors are sealed
//! on their way out, under a name Leptos does not read ([`app::api::error::URL_ERROR_PARAM`]),
//! and Leptos' names are taken off every request on its way in; a page shows only an error
//! whose seal it can open ([`app::components::url_error`]).

use app::api::error::{url_error_payload, URL_ERROR_PARAM, URL_ERROR_SEAL};
use app::tokens::Signer;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, Uri};
use axum::response::Response;

/// What server_fn names the error and the function it came from.
const LEPTOS_NAMES: [&str; 2] = ["__err", "__path"];

/// A redirect carrying server_fn's error, with the error sealed instead, dated by the shop's
/// clock (`now_secs`, seconds since the epoch).
pub fn seal(mut response: Response, signer: &Signer, now_secs: u64) -> Response {
    if !response.status().is_redirection() {
        return response;
    }
    let Some(location) = response
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .filter(|l| l.contains("__err="))
    else {
        return response;
    };
    let sealed = sealed_location(location, signer, now_secs);
    match HeaderValue::from_str(&sealed) {
        Ok(value) => {
            response.headers_mut().insert(LOCATION, value);
        }
        Err(_) => {
            response.headers_mut().remove(LOCATION);
        }
    }
    response
}

/// `location` with server_fn's `__err` and `__path` replaced by the sealed error, sealed with
/// the time it was (a page shows it for ten minutes: [`app::api::error::fresh_url_error`]).
fn sealed_location(location: &str, signer: &Signer, now: u64) -> String {
    let (before, query, fragment) = split(location);
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "__err" => {
                let payload = url_error_payload(now, &value);
                out.append_pair(URL_ERROR_PARAM, &signer.seal(URL_ERROR_SEAL, &payload));
            }
            "__path" => {}
            _ => {
                out.append_pair(&key, &value);
            }
        }
    }
    join(before, &out.finish(), fragment)
}

/// Takes Leptos' error names off the request's address, so no address a stranger wrote reaches
/// a page's form as its error (the sealed one is read by the page itself). Called by
/// [`crate::edge::request_target::screen`] on every request.
pub fn strip_unsealed<B>(req: &mut axum::http::Request<B>) {
    let Some(query) = req.uri().query().filter(|q| names_leptos(q)) else {
        return;
    };
    let mut kept = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if !LEPTOS_NAMES.contains(&key.as_ref()) {
            kept.append_pair(&key, &value);
        }
    }
    let kept = kept.finish();
    let target = if kept.is_empty() {
        req.uri().path().to_owned()
    } else {
        format!("{}?{kept}", req.uri().path())
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = target.parse().ok();
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

/// Whether `query` names `__err` or `__path`, however it is spelled.
fn names_leptos(query: &str) -> bool {
    url::form_urlencoded::parse(query.as_bytes())
        .any(|(key, _)| LEPTOS_NAMES.contains(&key.as_ref()))
}

fn split(location: &str) -> (&str, &str, Option<&str>) {
    let (before, rest) = location.split_once('?').unwrap_or((location, ""));
    match rest.split_once('#') {
        Some((query, fragment)) => (before, query, Some(fragment)),
        None => (before, rest, None),
    }
}

fn join(before: &str, query: &str, fragment: Option<&str>) -> String {
    let mut out = before.to_owned();
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Request;

    fn pairs(location: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(split(location).1.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn an_error_sent_back_in_the_address_is_sealed_under_a_name_of_its_own() {
        let signer = Signer::new(&[7; 32]).unwrap_or_else(|e| panic!("{e}"));
        let location =
            "https://shop.example/p/caramels?lang=en&__path=%2Fapi%2Fadd_to_cart&__err=eyJr%3D#top";
        let sealed = sealed_location(location, &signer, 1_798_074_000);
        assert!(
            sealed.starts_with("https://shop.example/p/caramels?lang=en&"),
            "{sealed}"
        );
        assert!(sealed.ends_with("#top"), "{sealed}");
        let pairs = pairs(&sealed);
        assert_eq!(pairs.len(), 2, "{pairs:?}");
        assert_eq!(pairs[1].0, URL_ERROR_PARAM);
        let payload = signer.open(URL_ERROR_SEAL, &pairs[1].1).unwrap_or_default();
        let (at, encoded) = payload.split_once('.').unwrap_or_default();
        assert_eq!(encoded, "eyJr=");
        assert_eq!(at, "1798074000", "dated by the shop's clock");
        // another shop's key opens nothing
        let other = Signer::new(&[8; 32]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(other.open(URL_ERROR_SEAL, &pairs[1].1), None);
    }

    fn seen_target(target: &str) -> String {
        let mut req = Request::builder()
            .uri(target)
            .body(Body::empty())
            .unwrap_or_default();
        strip_unsealed(&mut req);
        req.uri().to_string()
    }

    #[test]
    fn leptos_error_names_never_reach_the_pages() {
        assert_eq!(
            seen_target("/p/caramels?__path=%2Fapi%2Fadd_to_cart&__err=eyJr&lang=en"),
            "/p/caramels?lang=en"
        );
        assert_eq!(seen_target("/cart?%5F%5Ferr=eyJr"), "/cart");
        assert_eq!(seen_target("/cart?x=1"), "/cart?x=1");
        let sealed = format!("/cart?{URL_ERROR_PARAM}=abc.def");
        assert_eq!(seen_target(&sealed), sealed);
    }
}
