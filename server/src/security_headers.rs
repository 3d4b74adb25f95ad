//! Headers every answer carries, pages, API and files alike: no MIME sniffing, no framing, a
//! referrer policy, HSTS when served over HTTPS, and — where a handler set no policy of its own
//! (shopper pages set one with their script nonce, the owner's pages theirs) — a policy that
//! allows nothing at all to run.
//!
//! Shopper pages: [`page_nonce`] makes the page view's script nonce before Leptos renders it,
//! [`provide_page_nonce`] hands it to Leptos (its hydration scripts carry it), and the policy
//! naming it is set here on the response.

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, Method};
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

/// One page view's script nonce (128 random bits, hex), in the request's extensions.
#[derive(Clone)]
pub struct PageNonce(pub String);

/// Where pages are not: the API, bundles, pictures, the owner's side (its own policy), health.
const NOT_PAGES: [&str; 5] = ["/api/", "/pkg/", "/media/", "/admin", "/healthz"];

/// For a page view: a fresh nonce for Leptos to render with, and the page policy naming it on
/// the answer (when the answer is HTML). `State` is the dev reload port (debug builds).
pub async fn page_nonce(
    State(reload): State<Option<u32>>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if req.method() != Method::GET || NOT_PAGES.iter().any(|p| path.starts_with(p)) {
        return next.run(req).await;
    }
    let nonce: String = rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    req.extensions_mut().insert(PageNonce(nonce.clone()));
    let mut response = next.run(req).await;
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if html {
        if let Ok(policy) = HeaderValue::from_str(&app::csp::page_policy(&nonce, reload)) {
            response
                .headers_mut()
                .insert(CONTENT_SECURITY_POLICY, policy);
        }
    }
    response
}

/// Inside a Leptos render: use this page view's nonce (called after Leptos provided its own).
pub fn provide_page_nonce() {
    use leptos::prelude::{provide_context, use_context};
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<PageNonce>().cloned());
    if let Some(PageNonce(nonce)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}
