//! Requests the shop has nothing for, answered before they reach the app: `CONNECT` (the shop is
//! not a proxy) and `TRACE` get 405, a target that is not a path (`OPTIONS *`, an authority
//! alone) 400 — the app's routing (leptos_axum's among it) assumes every request names a path.
//! What passes has Leptos' error names taken off its address ([`crate::edge::url_error`]). Done where a
//! connection hands each request over (`connection.rs`), before the router: no layer of its own
//! on every request.

use axum::http::header::{ALLOW, CONNECTION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// What the shop answers to.
const ALLOWED: &str = "GET, HEAD, POST";

/// The refusal for a request the shop has nothing for; `None` when it goes on to the app (with
/// Leptos' error names taken off its address).
pub fn screen<B>(req: &mut axum::http::Request<B>) -> Option<Response> {
    if matches!(*req.method(), Method::CONNECT | Method::TRACE) {
        return Some(refuse(StatusCode::METHOD_NOT_ALLOWED, req));
    }
    let names_a_path = req
        .uri()
        .path_and_query()
        .is_some_and(|target| target.path().starts_with('/'));
    if !names_a_path {
        return Some(refuse(StatusCode::BAD_REQUEST, req));
    }
    crate::edge::url_error::strip_unsealed(req);
    None
}

/// A short plain answer in the request's language; the connection is not kept.
fn refuse<B>(status: StatusCode, req: &axum::http::Request<B>) -> Response {
    let lang = app::language::Language::of_request(req.headers(), app::language::Language::DEFAULT);
    let text = if status == StatusCode::METHOD_NOT_ALLOWED {
        app::tr!(lang, refusal_method)
    } else {
        app::tr!(lang, refusal_target)
    };
    tracing::debug!(method = %req.method(), target = %req.uri(), %status, "refused a request target");
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(ALLOW, HeaderValue::from_static(ALLOWED));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Request;

    fn status(method: Method, target: &str) -> u16 {
        let mut req = Request::builder()
            .method(method)
            .uri(target)
            .body(Body::empty())
            .unwrap_or_default();
        screen(&mut req).map_or(200, |refused| refused.status().as_u16())
    }

    #[test]
    fn only_paths_reach_the_shop() {
        assert_eq!(status(Method::CONNECT, "127.0.0.1:22"), 405);
        assert_eq!(status(Method::TRACE, "/"), 405);
        assert_eq!(status(Method::OPTIONS, "*"), 400);
        assert_eq!(status(Method::GET, "/p/caramels?x=1"), 200);
        assert_eq!(status(Method::GET, "http://shop.example/p/caramels"), 200);
    }
}
