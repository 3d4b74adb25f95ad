//! The edge of `/api/*`: refuses form posts from other sites and bounds request bodies (in size
//! and in the time they take to arrive). A refusal made here reaches a plain browser form (no
//! JavaScript) as a small HTML page that says what happened and links back, an API client as the
//! JSON error. Server functions set their own errors' HTTP status (`app::api::answered`).

use app::api::{ApiError, Refusal};
use app::domain::Problem;
use app::language::Language;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, REFERER, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// No API request needs more than this (an order with 20 lines and long fields is ~15 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the edge of `/api/*` needs.
#[derive(Clone)]
pub struct ApiEdge {
    /// How long a request's body may take to arrive before what its bytes earn (kept by
    /// [`crate::edge::body`]; here for the refusal's wording).
    pub body_timeout: std::time::Duration,
    /// Seals the errors a plain form's answer puts in the address it sends the browser back to.
    pub signer: std::sync::Arc<app::tokens::Signer>,
    /// The shop's clock, which dates them.
    pub clock: app::rules::Clock,
}

pub async fn guard(
    axum::extract::State(edge): axum::extract::State<ApiEdge>,
    req: Request,
    next: Next,
) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    if req.method() == Method::POST
        && crate::edge::origin::from_another_site(req.headers(), req.uri())
    {
        tracing::info!(path = %req.uri().path(), "refused a form posted from another site");
        return refusal(req.headers(), &Refusal::CrossSite);
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
    // the body's deadline is kept where hyper hands it over (`crate::edge::body`)
    let bytes = match crate::edge::body::read_whole(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(crate::edge::body::Refused::TooSlow) => {
            return too_slow(&parts.headers, edge.body_timeout)
        }
        Err(crate::edge::body::Refused::TooLarge | crate::edge::body::Refused::Broken) => {
            return too_large(&parts.headers)
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let now_secs = edge.clock.now().instant().unix_secs();
    crate::edge::url_error::seal(response, &edge.signer, now_secs)
}

fn too_large(headers: &HeaderMap) -> Response {
    let error = Refusal::Malformed(Problem::BodyTooLarge {
        kib: MAX_BODY_BYTES / 1024,
    });
    let mut response = refusal(headers, &error);
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    response
}

/// A body that did not arrive in time: 408, and the connection is not kept.
fn too_slow(headers: &HeaderMap, deadline: std::time::Duration) -> Response {
    let error = Refusal::Malformed(Problem::TooSlow {
        secs: deadline.as_secs(),
    });
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
pub fn refusal(headers: &HeaderMap, refused: &Refusal) -> Response {
    let lang = Language::of_request(headers, Language::DEFAULT);
    let error = refused.say(lang);
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
