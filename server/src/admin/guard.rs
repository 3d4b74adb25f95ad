//! The one door to the owner's side. Every route `admin::routes` registers behind it needs a live
//! session, and every state-changing request (anything but GET and HEAD) must also carry that
//! session's CSRF token, as the form's `csrf` field (URL-encoded or multipart). A handler finds the checked [`Owner`] in the request; a route added to
//! the guarded router is protected without doing anything, and only what is put outside on
//! purpose (login, setup) is not.

use super::error::AdminError;
use super::session;
use super::AdminState;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use std::sync::Arc;

/// The largest body an owner's request may have: a picture upload with its form fields.
pub const MAX_BODY_BYTES: usize = super::pictures::MAX_UPLOAD_BYTES + 64 * 1024;

/// The guard: the session first (401 without it, before the body is read), then for a state
/// change the CSRF token (403 without the right one, and the handler never runs).
pub async fn require_owner(
    State(state): State<Arc<AdminState>>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let owner = match session::owner_of(&parts.headers, &state).await {
        Ok(owner) => owner,
        Err(e) => return e.into_response(),
    };
    let body = if matches!(parts.method, Method::GET | Method::HEAD) {
        body
    } else {
        let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => {
                let most = MAX_BODY_BYTES / (1024 * 1024);
                return AdminError::TooLarge(format!(
                    "The request is too large (at most {most} MB)."
                ))
                .into_response();
            }
        };
        let sent = sent_csrf(&parts.headers, &bytes).await.unwrap_or_default();
        if let Err(e) = owner.check_csrf(&sent) {
            tracing::info!(owner = owner.id, path = %parts.uri.path(), "refused a state change without its CSRF token");
            return e.into_response();
        }
        Body::from(bytes)
    };
    parts.extensions.insert(owner);
    next.run(Request::from_parts(parts, body)).await
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// The CSRF token the form carries.
async fn sent_csrf(headers: &HeaderMap, bytes: &Bytes) -> Option<String> {
    let content_type = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let again = || {
        Request::builder()
            .method(Method::POST)
            .header(CONTENT_TYPE, content_type)
            .body(Body::from(bytes.clone()))
            .ok()
    };
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let Form(form) = Form::<CsrfField>::from_request(again()?, &()).await.ok()?;
        return Some(form.csrf);
    }
    if content_type.starts_with("multipart/form-data") {
        let mut fields = Multipart::from_request(again()?, &()).await.ok()?;
        while let Some(field) = fields.next_field().await.ok()? {
            if field.name() == Some("csrf") {
                return field.text().await.ok();
            }
        }
    }
    None
}
