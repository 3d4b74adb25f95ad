//! Signing in, and creating the first owner. Failed logins are counted in the database (so
//! every server sees them): 5 per account or 20 per client address in 15 minutes, then the login
//! is refused with how long to wait. The answer to a wrong password never tells whether the email
//! is an owner's.

use super::db::NewSession;
use super::error::AdminError;
use super::password::{self, Password};
use super::session;
use super::{pages, AdminState};
use crate::store::clock::Now;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

const WINDOW_SECS: i64 = 15 * 60;
const PER_ACCOUNT: i64 = 5;
const PER_CLIENT: i64 = 20;

#[derive(Deserialize)]
pub struct Next {
    #[serde(default)]
    next: String,
}

/// Only a path within the admin: never somewhere else (`//evil.example` included).
fn safe_next(next: &str) -> &str {
    let inside = next.starts_with("/admin") && !next.starts_with("//") && !next.contains('\\');
    if inside {
        next
    } else {
        "/admin"
    }
}

/// How a typed email appears in the logs: a short fingerprint, never the text (someone may type
/// their password into the email field).
fn log_id(email: &str) -> String {
    crate::store::clock::fingerprint_hash(email)[..12].to_owned()
}

pub async fn page(Query(q): Query<Next>) -> Response {
    pages::login(None, safe_next(&q.next), None).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// An email as owners are kept: trimmed, lower case, and plausibly an address.
pub fn parse_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    let plausible = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if plausible {
        Ok(email)
    } else {
        Err("Enter the email address of an owner account.")
    }
}

pub async fn submit(
    State(state): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    parts: SessionCookie,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, AdminError> {
    let next = safe_next(&form.next).to_owned();
    let refuse = |message: &str| {
        (
            StatusCode::UNAUTHORIZED,
            pages::login(Some(form.email.trim()), &next, Some(message)),
        )
            .into_response()
    };
    let Ok(email) = parse_email(&form.email) else {
        return Ok(refuse("Wrong email or password."));
    };
    let client = crate::rate_limit::client_of(&headers, Some(peer), state.trust_proxy)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let now = Now::current();
    let since = now.plus_secs(-WINDOW_SECS);
    let ((by_email, oldest_email), (by_client, oldest_client)) =
        state.db.failures_since(&email, &client, &since).await?;
    let blocked = if by_email >= PER_ACCOUNT {
        oldest_email
    } else if by_client >= PER_CLIENT {
        oldest_client
    } else {
        None
    };
    if let Some(oldest) = blocked {
        let secs = u64::try_from(now.secs_until(&oldest) + WINDOW_SECS)
            .unwrap_or(1)
            .max(1);
        tracing::warn!(account = %log_id(&email), %client, "login refused: too many failures");
        return Err(AdminError::TooManyAttempts {
            secs,
            minutes: secs.div_ceil(60),
        });
    }
    let owner = state.db.owner_by_email(&email).await?;
    let stored = owner.as_ref().map(|o| o.password_hash.clone());
    if !password::verify(form.password.clone(), stored).await {
        state.db.record_failure(&email, &client, now.text()).await?;
        tracing::warn!(account = %log_id(&email), %client, "failed owner login");
        return Ok(refuse("Wrong email or password."));
    }
    let Some(owner) = owner else {
        return Ok(refuse("Wrong email or password."));
    };
    // a new token at every login; a session this browser already had ends
    if let Some(old) = parts.0 {
        state.db.end_session(&session::token_hash(&old)).await?;
    }
    state.db.clear_failures(&email, &since).await?;
    state
        .db
        .sweep_sessions(&now.plus_secs(-session::IDLE_SECS), now.text())
        .await?;
    let mut response = Redirect::to(&next).into_response();
    start_session(&state, owner.id, &now, &mut response).await?;
    tracing::info!(owner = owner.id, %client, "owner logged in");
    Ok(response)
}

async fn start_session(
    state: &AdminState,
    owner_id: i64,
    now: &Now,
    response: &mut Response,
) -> Result<(), AdminError> {
    let token = session::new_token();
    let csrf = session::new_token();
    state
        .db
        .add_session(&NewSession {
            token_hash: &session::token_hash(&token),
            owner_id,
            csrf_token: &csrf,
            now: now.text(),
            expires_at: &now.plus_secs(session::ABSOLUTE_SECS),
        })
        .await?;
    session::with_cookie(
        response.headers_mut(),
        session::set_cookie(state.secure_cookies, &token),
    );
    Ok(())
}

/// The session cookie this request brought, if any (not checked: only to end it at login).
pub struct SessionCookie(Option<String>);

impl FromRequestParts<Arc<AdminState>> for SessionCookie {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AdminState>,
    ) -> Result<SessionCookie, AdminError> {
        Ok(SessionCookie(
            session::cookie(&parts.headers, session::cookie_name(state.secure_cookies))
                .map(str::to_owned),
        ))
    }
}

#[derive(Deserialize)]
pub struct SetupQuery {
    #[serde(default)]
    code: String,
}

/// The setup page exists only while there is no owner, and only for the right code: otherwise
/// it is not found.
async fn setup_open(state: &AdminState, code: &str) -> Result<(), AdminError> {
    if !session::same(code, &state.setup_code) || state.db.owner_count().await? > 0 {
        return Err(AdminError::NotFound);
    }
    Ok(())
}

pub async fn setup_page(
    State(state): State<Arc<AdminState>>,
    Query(q): Query<SetupQuery>,
) -> Result<Response, AdminError> {
    setup_open(&state, &q.code).await?;
    Ok(pages::setup(&q.code, None).into_response())
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn setup(
    State(state): State<Arc<AdminState>>,
    Form(form): Form<SetupForm>,
) -> Result<Response, AdminError> {
    setup_open(&state, &form.code).await?;
    let invalid = |m: &str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::setup(&form.code, Some(m)),
        )
            .into_response()
    };
    let email = match parse_email(&form.email) {
        Ok(e) => e,
        Err(m) => return Ok(invalid(m)),
    };
    let password = match Password::parse(&form.password) {
        Ok(p) => p,
        Err(m) => return Ok(invalid(m)),
    };
    let hash = password::hash(password)
        .await
        .map_err(|e| AdminError::Store(app::store::StoreError::Unexpected(e)))?;
    let now = Now::current();
    // decided in one statement: two people racing through setup make one owner
    if !state.db.add_owner(&email, &hash, now.text(), true).await? {
        return Err(AdminError::NotFound);
    }
    let owner = state
        .db
        .owner_by_email(&email)
        .await?
        .ok_or(AdminError::NotFound)?;
    tracing::info!(owner = owner.id, "first owner created on the setup page");
    let mut response = Redirect::to("/admin").into_response();
    start_session(&state, owner.id, &now, &mut response).await?;
    Ok(response)
}
