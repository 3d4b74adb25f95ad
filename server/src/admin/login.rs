//! Signing in, and creating the first owner.
//!
//! A login cannot be turned against the shop or its owner. In the order a login meets them,
//! the cheap checks first, so a flood is refused from memory before it costs the database or a
//! hash:
//! - each client may try 10 times a minute (the owner's known devices aside);
//! - an account throttled by earlier failures is refused from memory until its window ends;
//! - passwords are hashed on bounded threads of their own ([`super::hashing`]), and a place on
//!   them is reserved before anything else: a full lane answers 503 at once, and checkout goes
//!   on (the SQLite order desk's blocking pool is never used);
//! - each attempt is recorded *before* its password is checked, and counted with it, so
//!   parallel attempts cannot race past the count: at most 5 per account and 20 per client
//!   address in 15 minutes get their password checked (the count is in the database, so every
//!   server sees it);
//! - a device the owner has logged in from before carries a signed cookie: its logins skip the
//!   account's count and hash on a lane of their own, so a stranger's flood of wrong passwords
//!   slows strangers, never locks the owner out of the brake mid-sale (five wrong passwords on
//!   a device end its trust until the next good login).
//!
//! The answer to a wrong password never tells whether the email is an owner's.

use super::db::NewSession;
use super::error::AdminError;
use super::pages::{self, t};
use super::password::{self, Password};
use super::session;
use super::AdminState;
use crate::store::clock::Now;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

const WINDOW_SECS: i64 = 15 * 60;
const PER_ACCOUNT: i64 = 5;
const PER_CLIENT: i64 = 20;
/// Passwords checked a second for logins from devices the owner has not used before (each costs
/// tens of milliseconds of a core): a small shop's owners need far fewer. Twice as many may be
/// checked at once after a quiet spell. `HOLDFAST_LOGIN_HASHES_PER_SEC` changes it.
pub const STRANGER_HASHES_PER_SEC: u32 = 4;
/// Wrong passwords a known device may send before it is a stranger again.
const PER_DEVICE: u32 = 5;
/// The known-device cookie lives a year, on the owner's own phone or laptop.
const DEVICE_SECS: u32 = 365 * 24 * 3600;

/// Login attempts per client address, accounts throttled until when, and wrong passwords per
/// known device: all in memory, checked before the database is asked anything.
pub struct LoginLimits {
    per_client: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
    sweeps: app::lookup_limits::Sweeps,
    /// Passwords checked a second for logins not from a known device, whoever sends them: a
    /// flood from ever-new addresses and emails costs at most this much hashing.
    strangers_hashes: governor::DefaultDirectRateLimiter,
    throttled: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    device_failures: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl Default for LoginLimits {
    fn default() -> LoginLimits {
        LoginLimits::new(STRANGER_HASHES_PER_SEC)
    }
}

impl LoginLimits {
    /// The limits, checking at most `stranger_hashes_per_sec` passwords a second for logins not
    /// from a known device.
    pub fn new(stranger_hashes_per_sec: u32) -> LoginLimits {
        let ten = std::num::NonZeroU32::new(10).unwrap_or(std::num::NonZeroU32::MIN);
        let hashes =
            std::num::NonZeroU32::new(stranger_hashes_per_sec).unwrap_or(std::num::NonZeroU32::MIN);
        let burst = hashes.saturating_mul(std::num::NonZeroU32::MIN.saturating_add(1));
        LoginLimits {
            per_client: governor::RateLimiter::keyed(
                governor::Quota::per_minute(ten).allow_burst(ten),
            ),
            sweeps: app::lookup_limits::Sweeps::default(),
            strangers_hashes: governor::RateLimiter::direct(
                governor::Quota::per_second(hashes).allow_burst(burst),
            ),
            throttled: std::sync::Mutex::default(),
            device_failures: std::sync::Mutex::default(),
        }
    }

    /// `Err(seconds)` when this client has tried too often this minute.
    fn check_client(&self, client: Option<std::net::IpAddr>) -> Result<(), u64> {
        use governor::clock::{Clock, DefaultClock};
        let Some(client) = client else { return Ok(()) };
        self.sweeps.keep_bounded(&self.per_client);
        self.per_client.check_key(&client).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                + 1
        })
    }

    /// `Err(seconds)` while this account is throttled (as this server last learned from the
    /// database's count).
    fn check_account(&self, email: &str) -> Result<(), u64> {
        let now = std::time::Instant::now();
        let Ok(throttled) = self.throttled.lock() else {
            return Ok(());
        };
        match throttled.get(email) {
            Some(until) if *until > now => Err((*until - now).as_secs() + 1),
            _ => Ok(()),
        }
    }

    fn throttle_account(&self, email: &str, secs: u64) {
        let now = std::time::Instant::now();
        if let Ok(mut throttled) = self.throttled.lock() {
            if throttled.len() > 10_000 {
                throttled.retain(|_, until| *until > now);
            }
            if throttled.len() <= 10_000 {
                throttled.insert(email.to_owned(), now + std::time::Duration::from_secs(secs));
            }
        }
    }

    /// Whether a password from a stranger may be checked this instant.
    fn stranger_may_hash(&self) -> bool {
        self.strangers_hashes.check().is_ok()
    }

    fn account_cleared(&self, email: &str) {
        if let Ok(mut throttled) = self.throttled.lock() {
            throttled.remove(email);
        }
    }

    fn device_trusted(&self, device: &str) -> bool {
        self.device_failures
            .lock()
            .map(|f| f.get(device).copied().unwrap_or(0) < PER_DEVICE)
            .unwrap_or(false)
    }

    fn device_failed(&self, device: &str) {
        if let Ok(mut f) = self.device_failures.lock() {
            if f.len() > 10_000 {
                f.clear();
            }
            *f.entry(device.to_owned()).or_default() += 1;
        }
    }

    fn device_succeeded(&self, device: &str) {
        if let Ok(mut f) = self.device_failures.lock() {
            f.remove(device);
        }
    }
}

fn device_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-holdfast_device"
    } else {
        "holdfast_device"
    }
}

/// A device an owner logged in from before (its cookie opens under the shop's key) that has not
/// sent too many wrong passwords since: (the owner's id, the device).
fn known_device(state: &AdminState, headers: &axum::http::HeaderMap) -> Option<(i64, String)> {
    let raw = session::cookie(headers, device_cookie_name(state.secure_cookies))?;
    let payload = state.signer.open("holdfast_device", raw)?;
    let (id, _) = payload.split_once('.')?;
    let owner_id = id.parse::<i64>().ok()?;
    state
        .login_limits
        .device_trusted(payload)
        .then(|| (owner_id, payload.to_owned()))
}

/// The known-device cookie for this owner (kept: the same device stays the same).
fn device_cookie(state: &AdminState, owner_id: i64, known: Option<&str>) -> HeaderValue {
    let payload = known.map_or_else(
        || format!("{owner_id}.{}", &session::new_token()[..32]),
        str::to_owned,
    );
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let value = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={DEVICE_SECS}{secure}",
        device_cookie_name(state.secure_cookies),
        state.signer.seal("holdfast_device", &payload)
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

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

/// An email as owners are kept: trimmed, lower case, and plausibly an address. The error is
/// said in the owner's language.
pub fn parse_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let plausible = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if plausible {
        Ok(email)
    } else {
        Err(t!(admin_err_email))
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
        return Ok(refuse(&t!(admin_err_wrong_login)));
    };
    let client_ip = crate::edge::rate_limit::client_of(&headers, Some(peer), state.trust_proxy);
    let client = client_ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let too_many = |secs: u64| AdminError::TooManyAttempts {
        secs,
        minutes: secs.div_ceil(60),
    };
    // a known device is checked against the owner row below; its own lane, and no client or
    // account count (strangers sharing the owner's address or email cannot lock her out)
    let device = known_device(&state, &headers);
    if device.is_none() {
        state
            .login_limits
            .check_client(client_ip)
            .map_err(too_many)?;
    }
    let now = state.clock.now();
    let since = now.instant().plus_secs(-WINDOW_SECS);
    let slot = match &device {
        Some(_) => state.hashers.known_devices.reserve(),
        None => {
            state.login_limits.check_account(&email).map_err(too_many)?;
            if !state.login_limits.stranger_may_hash() {
                return Err(AdminError::LoginBusy);
            }
            state.hashers.anyone.reserve()
        }
    }
    .map_err(|_| AdminError::LoginBusy)?;
    if device.is_none() {
        count_attempt(&state, &email, &client, &now).await?;
    }
    let owner = state.db.owner_by_email(&email).await?;
    // a device cookie speaks only for the owner it was given to: for another account it is
    // an attempt like a stranger's
    let device = match device {
        Some((id, device)) if owner.as_ref().is_some_and(|o| o.id == id) => Some(device),
        Some(_) => {
            count_attempt(&state, &email, &client, &now).await?;
            None
        }
        None => None,
    };
    let stored = owner.as_ref().map(|o| o.password_hash.clone());
    let candidate = form.password.clone();
    let matches = slot
        .run(move || password::verify_now(&candidate, stored))
        .await
        .map_err(|_| AdminError::LoginBusy)?;
    if !matches {
        if let Some(device) = &device {
            state.login_limits.device_failed(device);
        }
        tracing::warn!(account = %log_id(&email), %client, known_device = device.is_some(), "failed owner login");
        return Ok(refuse(&t!(admin_err_wrong_login)));
    }
    let Some(owner) = owner else {
        return Ok(refuse(&t!(admin_err_wrong_login)));
    };
    // a new token at every login; a session this browser already had ends
    if let Some(old) = parts.0 {
        state.db.end_session(&session::token_hash(&old)).await?;
    }
    state.db.clear_failures(&email, since).await?;
    state.login_limits.account_cleared(&email);
    state
        .db
        .sweep_sessions(now.instant().plus_secs(-session::IDLE_SECS), now.instant())
        .await?;
    let mut response = Redirect::to(&next).into_response();
    start_session(&state, owner.id, &now, &mut response).await?;
    if let Some(device) = &device {
        state.login_limits.device_succeeded(device);
    }
    response.headers_mut().append(
        axum::http::header::SET_COOKIE,
        device_cookie(&state, owner.id, device.as_deref()),
    );
    tracing::info!(owner = owner.id, %client, known_device = device.is_some(), "owner logged in");
    Ok(response)
}

/// Records an attempt at `email` from `client` and counts it with the others in the window, so
/// attempts racing in parallel each see the ones before them: at most `PER_ACCOUNT` (and
/// `PER_CLIENT` from one address) get their password checked. Beyond that the attempt is taken
/// back (it was not tried) and refused with how long to wait; an account's throttle is also
/// remembered in memory, so a flood is refused before it reaches the database.
async fn count_attempt(
    state: &AdminState,
    email: &str,
    client: &str,
    now: &Now,
) -> Result<(), AdminError> {
    let since = now.instant().plus_secs(-WINDOW_SECS);
    state
        .db
        .record_failure(email, client, now.instant())
        .await?;
    let ((by_email, oldest_email), (by_client, oldest_client)) =
        state.db.failures_since(email, client, since).await?;
    let blocked = if by_email > PER_ACCOUNT {
        oldest_email.map(|oldest| (oldest, true))
    } else if by_client > PER_CLIENT {
        oldest_client.map(|oldest| (oldest, false))
    } else {
        None
    };
    let Some((oldest, account)) = blocked else {
        return Ok(());
    };
    state
        .db
        .forget_failure(email, client, now.instant())
        .await?;
    let secs = u64::try_from(now.secs_until(oldest) + WINDOW_SECS)
        .unwrap_or(1)
        .max(1);
    if account {
        state.login_limits.throttle_account(email, secs);
    }
    tracing::warn!(account = %log_id(email), %client, "login refused: too many failures");
    Err(AdminError::TooManyAttempts {
        secs,
        minutes: secs.div_ceil(60),
    })
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
            now: now.instant(),
            expires_at: now.instant().plus_secs(session::ABSOLUTE_SECS),
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
        Err(m) => return Ok(invalid(&m)),
    };
    let password = match Password::parse(&form.password) {
        Ok(p) => p,
        Err(m) => return Ok(invalid(&m)),
    };
    let hash = state
        .hashers
        .anyone
        .run(move || password::hash_now(&password))
        .await
        .map_err(|_| AdminError::LoginBusy)?
        .map_err(|e| AdminError::Store(app::store::StoreError::unexpected(e)))?;
    let now = state.clock.now();
    // decided in one statement: two people racing through setup make one owner
    if !state
        .db
        .add_owner(&email, &hash, now.instant(), true)
        .await?
    {
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
