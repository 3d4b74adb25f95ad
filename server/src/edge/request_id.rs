//! Every request gets an id, in its log lines (the request's span) and in the answer's
//! `X-Request-Id`, so a shopper's "it said error" can be found in the log. Behind the shop's
//! own proxy (`HOLDFAST_TRUST_PROXY`) the proxy's id is kept when it is a sane one (1–64
//! characters of letters, digits, `-`, `_`, `.`); otherwise — and always from the open
//! internet, where a stranger could make every line look like another's — a new random one.
//!
//! The span names the route's pattern (`/queue/{ticket}`), never the path itself: paths carry
//! waiting-room tickets and order codes, which do not belong in logs.

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// The request's id, in its extensions for whoever needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

pub async fn tag(State(trust_proxy): State<bool>, mut req: Request, next: Next) -> Response {
    let given = trust_proxy
        .then(|| req.headers().get(HEADER).and_then(|v| v.to_str().ok()))
        .flatten()
        .filter(|id| sane(id))
        .map(str::to_owned);
    let id = given.unwrap_or_else(fresh);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", |p| p.as_str())
        .to_owned();
    let span =
        tracing::info_span!("request", request_id = %id, method = %req.method(), route = %route);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.run(req).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, value);
    }
    res
}

fn sane(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn fresh() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_kept_and_fresh_ones_are_unique() {
        assert!(sane("a1b2-c3_d4.e5"));
        assert!(!sane(""));
        assert!(!sane("has space"));
        assert!(!sane("line\nbreak"));
        assert!(!sane(&"x".repeat(65)));
        assert!(sane(&"x".repeat(64)));
        let (a, b) = (fresh(), fresh());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
