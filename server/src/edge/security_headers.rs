//! Headers every answer carries, pages, API and files alike: no MIME sniffing, no framing, a
//! referrer policy, HSTS when served over HTTPS, and — where a handler set no policy of its own
//! (shopper pages set one with their script nonce, the owner's pages theirs) — a policy that
//! allows nothing at all to run.
//!
//! Shopper pages: [`add`] makes the page view's script nonce before Leptos renders it,
//! [`provide_page_nonce`] hands it to Leptos (its hydration scripts carry it), and the policy
//! naming it is set here on the response — unless the answer already has one: a page from the
//! page cache (`crate::edge::page_cache`) carries the policy of the nonce it was rendered with.

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

/// What the headers depend on: whether the shop is served over HTTPS (then browsers are told to
/// keep to it for a year), and in debug builds the port of `cargo leptos watch`'s live reload.
#[derive(Clone, Copy)]
pub struct Headers {
    pub over_https: bool,
    pub reload_port: Option<u32>,
}

/// Every answer's headers; for a page view also its script nonce (see [`PageNonce`]).
pub async fn add(State(state): State<Headers>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let page = req.method() == Method::GET && !NOT_PAGES.iter().any(|p| path.starts_with(p));
    let nonce = page.then(new_nonce);
    if let Some(nonce) = &nonce {
        req.extensions_mut().insert(PageNonce(nonce.clone()));
    }
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
    let html = h
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let page_policy = nonce
        .filter(|_| html)
        .and_then(|n| HeaderValue::from_str(&app::csp::page_policy(&n, state.reload_port)).ok());
    // a page kept by the page cache carries the policy naming the nonce it was rendered with
    if !h.contains_key(CONTENT_SECURITY_POLICY) {
        h.insert(
            CONTENT_SECURITY_POLICY,
            page_policy.unwrap_or_else(|| HeaderValue::from_static(NOTHING_RUNS)),
        );
    }
    if state.over_https {
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

/// 128 random bits as hex.
fn new_nonce() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; 16] = rand::random();
    let mut out = String::with_capacity(32);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// Inside a Leptos render: use this page view's nonce (called after Leptos provided its own).
pub fn provide_page_nonce() {
    use leptos::prelude::{provide_context, with_context};
    // read in place: the request's parts are not cloned for it
    let nonce = with_context::<axum::http::request::Parts, _>(|parts| {
        parts.extensions.get::<PageNonce>().cloned()
    })
    .flatten();
    if let Some(PageNonce(nonce)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}
