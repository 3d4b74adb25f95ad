//! Owner sessions: a 256-bit random token in a cookie (`HttpOnly`, `SameSite=Strict`, and over
//! HTTPS `Secure` with the `__Host-` prefix), stored only as its SHA-256. A new token at every
//! login; sessions end after 30 idle minutes or 12 hours in all, at logout, or with "end all my
//! sessions". Each session has its own CSRF token, which every state-changing form must carry.
//!
//! [`owner_of`] is the authorisation check, made once per request by the guard (`guard.rs`) in
//! front of every owner's route; handlers take the checked [`Owner`] as an extractor, which
//! answers 401 on a route left outside the guard.

use super::error::AdminError;
use super::AdminState;
use crate::store::clock::{fingerprint_hash, Now};
/// The value of cookie `name` in the request, if any (the app's one cookie reader).
pub use app::api::cookies::in_headers as cookie;
use axum::extract::FromRequestParts;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

pub const IDLE_SECS: i64 = 30 * 60;
pub const ABSOLUTE_SECS: i64 = 12 * 60 * 60;
/// A session's last-seen time is written at most this often.
const TOUCH_EVERY_SECS: i64 = 60;

/// The cookie's name: `__Host-` over HTTPS (the browser then insists on Secure, Path=/ and no
/// Domain), a plain name for plain-HTTP development.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-holdfast_owner"
    } else {
        "holdfast_owner"
    }
}

pub fn new_token() -> String {
    // rand's thread generator is a CSPRNG (ChaCha, seeded and reseeded from the OS)
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    fingerprint_hash(token)
}

pub fn set_cookie(secure: bool, token: &str) -> HeaderValue {
    let attrs = if secure { "; Secure" } else { "" };
    let value = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={ABSOLUTE_SECS}{attrs}",
        cookie_name(secure)
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn clear_cookie(secure: bool) -> HeaderValue {
    let attrs = if secure { "; Secure" } else { "" };
    let value = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{attrs}",
        cookie_name(secure)
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Equal or not, in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0_u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The signed-in owner of this request: proof that the session is live.
#[derive(Debug, Clone)]
pub struct Owner {
    pub id: i64,
    pub email: String,
    pub csrf_token: String,
    pub token_hash: String,
}

/// How a change the owner made is signed in the logs: `owner <email>` (read back by
/// `pages::actor`).
pub const ACTOR_PREFIX: &str = "owner ";

impl Owner {
    /// Who made a change, as the logs keep it.
    pub fn actor(&self) -> String {
        format!("{ACTOR_PREFIX}{}", self.email)
    }

    /// The form's CSRF token must be this session's.
    pub fn check_csrf(&self, sent: &str) -> Result<(), AdminError> {
        if same(sent, &self.csrf_token) {
            Ok(())
        } else {
            Err(AdminError::Csrf)
        }
    }
}

/// The owner whose live session this request's cookie names, or `NotSignedIn`.
pub async fn owner_of(headers: &HeaderMap, state: &AdminState) -> Result<Owner, AdminError> {
    let token = cookie(headers, cookie_name(state.secure_cookies))
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or(AdminError::NotSignedIn)?;
    let hash = token_hash(token);
    let now = state.clock.now();
    let session = live_session(state, &hash, &now)
        .await?
        .ok_or(AdminError::NotSignedIn)?;
    if now.secs_until(session.last_seen_at) < -TOUCH_EVERY_SECS {
        state.db.touch_session(&hash, now.instant()).await?;
    }
    Ok(Owner {
        id: session.owner_id,
        email: session.email,
        csrf_token: session.csrf_token,
        token_hash: hash,
    })
}

/// The owner the guard checked. A handler on a route outside the guard gets 401: it is never
/// run for a stranger by mistake.
impl<S: Send + Sync> FromRequestParts<S> for Owner {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Owner, AdminError> {
        parts
            .extensions
            .get::<Owner>()
            .cloned()
            .ok_or(AdminError::NotSignedIn)
    }
}

/// The session with this token hash, if it has not ended (logged out, ended with all the
/// owner's sessions, idle too long or past its absolute end) at `now`.
async fn live_session(
    state: &AdminState,
    hash: &str,
    now: &Now,
) -> Result<Option<super::db::SessionRow>, AdminError> {
    let Some(session) = state.db.session(hash).await? else {
        return Ok(None);
    };
    let idle_end = session.last_seen_at.plus_secs(IDLE_SECS);
    // an ended session changes nothing here: it is swept away at the next login or start
    if session.expires_at <= now.instant() || idle_end <= now.instant() {
        return Ok(None);
    }
    Ok(Some(session))
}

/// Whether the session is still live, for what outlasts the request that opened it (the
/// control room's event stream). A database that cannot answer counts as not live.
pub async fn still_live(state: &AdminState, hash: &str) -> bool {
    matches!(
        live_session(state, hash, &state.clock.now()).await,
        Ok(Some(_))
    )
}

/// Adds the session cookie to a response's headers.
pub fn with_cookie(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(SET_COOKIE, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_256_random_bits_in_hex_and_never_repeats() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(token_hash(&a), a, "stored hashed");
    }

    #[test]
    fn over_https_the_cookie_is_host_prefixed_secure_httponly_and_strict() {
        let c = set_cookie(true, "abc");
        let c = c.to_str().unwrap_or_default();
        assert!(c.starts_with("__Host-holdfast_owner=abc; Path=/; HttpOnly; SameSite=Strict"));
        assert!(c.ends_with("; Secure"));
        let plain = set_cookie(false, "abc");
        assert!(!plain.to_str().unwrap_or_default().contains("Secure"));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        use axum::http::header::COOKIE;
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; holdfast_owner=xyz; b=2"),
        );
        assert_eq!(cookie(&h, "holdfast_owner"), Some("xyz"));
        assert_eq!(cookie(&h, "missing"), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
