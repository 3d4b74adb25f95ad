//! The one door to the owner's side. Every route `admin::routes` registers behind it needs a live
//! session, and every state-changing request (anything but GET and HEAD) must also carry that
//! session's CSRF token, as the form's `csrf` field (URL-encoded or multipart). A handler finds the checked [`Owner`] in the request; a route added to
//! the guarded router is protected without doing anything, and only what is put outside on
//! purpose (login, setup) is not.

use super::error::AdminError;
use super::session;
use super::AdminState;
use crate::edge::body::Refused;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::Method;
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
        let bytes = match read_within_limit(body).await {
            Ok(bytes) => bytes,
            Err(refused) => return refusal(refused),
        };
        let sent = sent_csrf(&parts, &bytes).await.unwrap_or_default();
        if let Err(e) = owner.check_csrf(&sent) {
            tracing::info!(owner = owner.id, path = %parts.uri.path(), "refused a state change without its CSRF token");
            return e.into_response();
        }
        Body::from(bytes)
    };
    parts.extensions.insert(owner);
    next.run(Request::from_parts(parts, body)).await
}

/// The body, unless it is over [`MAX_BODY_BYTES`] or did not arrive in time. An oversized body
/// is still read (and dropped) up to four times the limit, so the browser, which sends it all
/// before it listens, gets the 413 page rather than a broken connection.
async fn read_within_limit(body: Body) -> Result<Bytes, Refused> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut kept = Vec::new();
    let mut seen = 0_usize;
    while let Some(frame) = body.frame().await {
        let data = match frame {
            Ok(frame) => frame.into_data(),
            Err(e) => return Err(crate::edge::body::refused_by(&e)),
        };
        let Ok(data) = data else { continue };
        seen = seen.saturating_add(data.len());
        if seen > 4 * MAX_BODY_BYTES {
            return Err(Refused::TooLarge);
        }
        if seen <= MAX_BODY_BYTES {
            kept.extend_from_slice(&data);
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(Refused::TooLarge);
    }
    Ok(Bytes::from(kept))
}

/// The answer to a body that was not read: 408 when it did not arrive in time, else 413 (a
/// broken one is answered as too large, as before: the client will not read it anyway).
pub fn refusal(refused: Refused) -> Response {
    match refused {
        Refused::TooSlow => AdminError::TooSlow.into_response(),
        Refused::TooLarge | Refused::Broken => too_large(),
    }
}

/// 413: the request is larger than any owner's form.
fn too_large() -> Response {
    let most = MAX_BODY_BYTES / (1024 * 1024);
    AdminError::TooLarge(super::pages::t!(admin_err_request_too_large, most = most)).into_response()
}

/// The largest form the ways in (login, setup) take: an email, a password and a few fields.
const WAY_IN_BODY_BYTES: usize = 16 * 1024;

/// The ways in read their form here, within [`WAY_IN_BODY_BYTES`] and in time, before their
/// handlers do: no session guards them, so a stranger's slow or endless body is answered 408
/// or 413 like any other.
pub async fn read_way_in(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    match crate::edge::body::read_whole(body, WAY_IN_BODY_BYTES).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(Refused::TooSlow) => AdminError::TooSlow.into_response(),
        Err(Refused::TooLarge | Refused::Broken) => {
            AdminError::TooLarge(super::pages::t!(admin_err_form_too_large)).into_response()
        }
    }
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// The CSRF token the form carries. The form is read again from `parts` as they came (their
/// extensions carry the owner's routes' body limit: without it axum's multipart reader stops at
/// its 2 MB default, and a phone's 3 MB photo would be refused as an expired form).
async fn sent_csrf(parts: &axum::http::request::Parts, bytes: &Bytes) -> Option<String> {
    let content_type = parts.headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let again = || Request::from_parts(parts.clone(), Body::from(bytes.clone()));
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let Form(form) = Form::<CsrfField>::from_request(again(), &()).await.ok()?;
        return Some(form.csrf);
    }
    if content_type.starts_with("multipart/form-data") {
        let mut fields = Multipart::from_request(again(), &()).await.ok()?;
        while let Some(field) = fields.next_field().await.ok()? {
            if field.name() == Some("csrf") {
                return field.text().await.ok();
            }
        }
    }
    None
}
