//! The edge of `/api/*`: refuses form posts from other sites and bounds request bodies (in size
//! and in the time they take to arrive). A refusal made here reaches a plain browser form (no
//! JavaScript) as a small HTML page that says what happened and links back, an API client as the
//! JSON error. Server functions set their own errors' HTTP status (`app::api::answered`).

use app::api::ApiError;
use app::language::Language;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{
    ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, REFERER, RETRY_AFTER,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// No API request needs more than this (an order with 20 lines and long fields is ~15 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the edge of `/api/*` needs.
#[derive(Clone)]
pub struct ApiEdge {
    /// How long a request's body may take to arrive before what its bytes earn (kept by
    /// [`crate::body`]; here for the refusal's wording).
    pub body_timeout: std::time::Duration,
    /// Seals the errors a plain form's answer puts in the address it sends the browser back to.
    pub signer: std::sync::Arc<app::tokens::Signer>,
}

pub async fn guard(
    axum::extract::State(edge): axum::extract::State<ApiEdge>,
    req: Request,
    next: Next,
) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    if req.method() == Method::POST && crate::origin::from_another_site(req.headers(), req.uri()) {
        tracing::info!(path = %req.uri().path(), "refused a form posted from another site");
        return refusal(req.headers(), &ApiError::cross_site());
    }
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large(&parts.headers);
    }
    // the body's deadline is kept where hyper hands it over (`crate::body`)
    let bytes = match crate::body::read_whole(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(crate::body::Refused::TooSlow) => return too_slow(&parts.headers, edge.body_timeout),
        Err(crate::body::Refused::TooLarge | crate::body::Refused::Broken) => {
            return too_large(&parts.headers)
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    seal_url_error(response, &edge.signer)
}

/// A plain form's failed post is sent back to its page with the error in the address
/// (server_fn's `?__err=…`); the error is sealed here, on its way out, so the page can tell it
/// from one a stranger wrote into a link ([`app::components::url_error`]).
fn seal_url_error(mut response: Response, signer: &app::tokens::Signer) -> Response {
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
    let sealed = sealed_location(location, signer);
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

/// `location` with its `__err` value sealed (and nothing else changed).
fn sealed_location(location: &str, signer: &app::tokens::Signer) -> String {
    let (before, query) = location.split_once('?').unwrap_or((location, ""));
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key == "__err" {
            out.append_pair(&key, &signer.seal(app::api::error::URL_ERROR_SEAL, &value));
        } else {
            out.append_pair(&key, &value);
        }
    }
    let mut sealed = format!("{before}?{}", out.finish());
    if let Some(fragment) = fragment {
        sealed.push('#');
        sealed.push_str(fragment);
    }
    sealed
}

fn too_large_message() -> String {
    format!(
        "The request body is too large (at most {} KiB).",
        MAX_BODY_BYTES / 1024
    )
}

fn too_slow_message(deadline: std::time::Duration) -> String {
    format!(
        "The request took too long to arrive (over {} s). Check your connection and try again.",
        deadline.as_secs()
    )
}

fn too_large(headers: &HeaderMap) -> Response {
    let error = ApiError::malformed(too_large_message());
    let mut response = refusal(headers, &error);
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    response
}

/// A body that did not arrive in time: 408, and the connection is not kept.
fn too_slow(headers: &HeaderMap, deadline: std::time::Duration) -> Response {
    let error = ApiError::malformed(too_slow_message(deadline));
    let mut response = refusal(headers, &error);
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        HeaderValue::from_static("close"),
    );
    response
}

/// A plain browser form (no JavaScript) asks for HTML; API clients must not (see the README).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// A refusal made before the server function ran: an HTML page for a plain form, else JSON.
/// In the request's language: the shop's settings are not read yet (the rate limit is the
/// outermost layer), so a browser that names neither language gets the usual default, Chinese.
pub fn refusal(headers: &HeaderMap, error: &ApiError) -> Response {
    let lang = Language::of_request(headers, Language::DEFAULT);
    let error = error.clone().in_language(lang);
    if !wants_html(headers) {
        return json_error(&error);
    }
    let back = back_link(headers);
    let wait = error
        .retry_after_secs()
        .map(|s| format!("<p>{}</p>", app::tr!(lang, refusal_try_again, secs = s)))
        .unwrap_or_default();
    let page = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"/shop.css\"></head>\
         <body><main><h1>{}</h1><p>{}</p>{wait}\
         <p><a class=\"button\" href=\"{}\">{}</a></p></main></body></html>",
        lang.tag(),
        app::tr!(lang, shop_name),
        app::tr!(lang, refusal_heading),
        app::components::escape_html(&error.to_string()),
        app::components::escape_html(&back),
        app::tr!(lang, refusal_back),
    );
    answer(&error, "text/html; charset=utf-8", page.into_bytes())
}

/// Where "Go back" leads: the page the form was on when it is this shop's, else the catalogue.
fn back_link(headers: &HeaderMap) -> String {
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let referer = headers.get(REFERER).and_then(|r| r.to_str().ok());
    let (Some(host), Some(referer)) = (host, referer) else {
        return "/".to_owned();
    };
    referer
        .split_once("://")
        .and_then(|(_, rest)| rest.strip_prefix(host))
        .filter(|path| path.starts_with('/') && !path.starts_with("//"))
        .unwrap_or("/")
        .to_owned()
}

/// An error as the JSON body every API client expects, with its status.
pub fn json_error(error: &ApiError) -> Response {
    let body = serde_json::to_vec(error).unwrap_or_else(|_| b"{\"kind\":\"internal\"}".to_vec());
    answer(error, "application/json", body)
}

/// The error's status and `Retry-After`, with `body` of `content_type`.
fn answer(error: &ApiError, content_type: &'static str, body: Vec<u8>) -> Response {
    let status =
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response();
    if let Some(secs) = error.retry_after_secs() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_refusals_have_their_chinese() {
        for english in [
            too_large_message(),
            too_slow_message(std::time::Duration::from_secs(10)),
        ] {
            let chinese = app::messages::say(&english, Language::ZhCn);
            assert_ne!(chinese, english, "no Chinese for {english}");
        }
    }

    #[test]
    fn an_error_sent_back_in_the_address_is_sealed_and_nothing_else_changes() {
        let signer = app::tokens::Signer::new(&[7; 32]).unwrap_or_else(|e| panic!("{e}"));
        let location =
            "https://shop.example/p/caramels?lang=en&__path=%2Fapi%2Fadd_to_cart&__err=eyJr%3D#top";
        let sealed = sealed_location(location, &signer);
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(
            sealed
                .split_once('?')
                .and_then(|(_, q)| q.split_once('#'))
                .map(|(q, _)| q)
                .unwrap_or_default()
                .as_bytes(),
        )
        .into_owned()
        .collect();
        assert!(
            sealed.starts_with("https://shop.example/p/caramels?lang=en&"),
            "{sealed}"
        );
        assert!(sealed.ends_with("#top"), "{sealed}");
        assert_eq!(
            pairs[1],
            ("__path".to_owned(), "/api/add_to_cart".to_owned())
        );
        assert_eq!(pairs[2].0, "__err");
        assert_eq!(
            signer.open(app::api::error::URL_ERROR_SEAL, &pairs[2].1),
            Some("eyJr=")
        );
        // another shop's key opens nothing
        let other = app::tokens::Signer::new(&[8; 32]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            other.open(app::api::error::URL_ERROR_SEAL, &pairs[2].1),
            None
        );
    }

    #[test]
    fn go_back_leads_only_to_a_page_of_this_shop() {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("shop.example"));
        h.insert(
            REFERER,
            HeaderValue::from_static("https://shop.example/checkout?x=1"),
        );
        assert_eq!(back_link(&h), "/checkout?x=1");
        h.insert(
            REFERER,
            HeaderValue::from_static("https://evil.example/phish"),
        );
        assert_eq!(back_link(&h), "/");
        h.insert(
            REFERER,
            HeaderValue::from_static("https://shop.example//evil.example"),
        );
        assert_eq!(back_link(&h), "/");
        h.insert(
            REFERER,
            HeaderValue::from_static("https://shop.example.evil/x"),
        );
        assert_eq!(back_link(&h), "/");
    }
}
