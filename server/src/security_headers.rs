//! Headers every answer carries, pages, API and files alike: no MIME sniffing, no framing, a
//! referrer policy, HSTS when served over HTTPS, and — where a handler set no policy of its own
//! (shopper pages set one with their script nonce, the owner's pages theirs) — a policy that
//! allows nothing at all to run.

use axum::extract::{Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// For answers that are not pages (JSON, files, redirects).
const NOTHING_RUNS: &str =
    "default-src 'none'; img-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Whether the shop is served over HTTPS (then browsers are told to keep to it for a year).
#[derive(Clone, Copy)]
pub struct OverHttps(pub bool);

pub async fn add(State(https): State<OverHttps>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(REFERRER_POLICY) {
        h.insert(
            REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        );
    }
    if !h.contains_key(CONTENT_SECURITY_POLICY) {
        h.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(NOTHING_RUNS),
        );
    }
    if https.0 {
        h.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}
