//! Requests the shop has nothing for, answered before they reach the app: `CONNECT` (the shop is
//! not a proxy) and `TRACE` get 405, a target that is not a path (`OPTIONS *`, an authority
//! alone) 400 — the app's routing (leptos_axum's among it) assumes every request names a path.
//! What passes has Leptos' error names taken off its address ([`crate::url_error`]).

use axum::extract::Request;
use axum::http::header::{ALLOW, CONNECTION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What the shop answers to.
const ALLOWED: &str = "GET, HEAD, POST";

pub async fn check(mut req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::CONNECT | Method::TRACE) {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, &req);
    }
    let names_a_path = req
        .uri()
        .path_and_query()
        .is_some_and(|target| target.path().starts_with('/'));
    if !names_a_path {
        return refuse(StatusCode::BAD_REQUEST, &req);
    }
    crate::url_error::strip_unsealed(&mut req);
    next.run(req).await
}

/// A short plain answer in the request's language; the connection is not kept.
fn refuse(status: StatusCode, req: &Request) -> Response {
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
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    fn shop() -> Router {
        Router::new()
            .fallback(get(|req: Request| async move {
                // as leptos_axum does
                req.uri()
                    .path_and_query()
                    .map(|p| p.to_string())
                    .unwrap_or_default()
            }))
            .layer(axum::middleware::from_fn(check))
    }

    async fn status(method: Method, target: &str) -> u16 {
        let req = Request::builder()
            .method(method)
            .uri(target)
            .body(Body::empty())
            .unwrap_or_default();
        match shop().oneshot(req).await {
            Ok(res) => res.status().as_u16(),
            Err(e) => match e {},
        }
    }

    #[tokio::test]
    async fn only_paths_reach_the_shop() {
        assert_eq!(status(Method::CONNECT, "127.0.0.1:22").await, 405);
        assert_eq!(status(Method::TRACE, "/").await, 405);
        assert_eq!(status(Method::OPTIONS, "*").await, 400);
        assert_eq!(status(Method::GET, "/p/caramels?x=1").await, 200);
        assert_eq!(
            status(Method::GET, "http://shop.example/p/caramels").await,
            200
        );
    }
}
