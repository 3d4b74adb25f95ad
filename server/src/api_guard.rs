//! The edge of `/api/*`: bounds request bodies, and gives server-function errors their real HTTP
//! status (409, 400/422, 404, 429/503 + `Retry-After`) — server functions alone would answer 500.

use app::domain::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

/// No API request needs more than this (an order with 20 lines and long fields is ~15 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Error bodies are small; anything larger is passed through untouched.
const MAX_ERROR_BYTES: usize = 64 * 1024;

pub async fn guard(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return too_large(),
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    with_error_status(response).await
}

async fn with_error_status(response: Response) -> Response {
    if !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
        || response.status() != StatusCode::INTERNAL_SERVER_ERROR
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BYTES).await else {
        return json_error(&ApiError::internal());
    };
    if let Ok(error) = serde_json::from_slice::<ApiError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(secs) = error.retry_after_secs() {
            parts.headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn too_large() -> Response {
    let error = ApiError::malformed(format!(
        "The request body is too large (at most {} KiB).",
        MAX_BODY_BYTES / 1024
    ));
    let mut response = json_error(&error);
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    response
}

/// An error as the JSON body every API client expects, with its status.
pub fn json_error(error: &ApiError) -> Response {
    let status =
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(error).unwrap_or_else(|_| b"{\"kind\":\"internal\"}".to_vec());
    let mut response = (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
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
