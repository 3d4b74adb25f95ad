//! The owner's side of the shop, under `/admin`: accounts and sessions, orders, products, the
//! control room and its brake. Server-rendered HTML forms (see `pages`), so the shoppers' WebAssembly
//! bundle carries none of it.
//!
//! Every route is behind one guard (`guard.rs`) unless it is put outside on purpose (login,
//! setup): it needs a live session, and a state-changing request the session's CSRF token, before
//! its handler runs; handlers take the checked [`session::Owner`]. Every state-changing request
//! must also come from this site (`Origin`). [`GUARDED`] lists the guarded endpoints; a test
//! walks it.

pub mod cli;
pub mod db;
mod error;
pub mod guard;
pub mod hashing;
pub mod live;
mod live_db;
pub mod login;
pub mod orders;
pub mod orders_db;
mod pages;
pub mod password;
pub mod pictures;
pub mod products;
pub mod products_db;
pub mod rehearsals;
pub mod session;
pub mod settings;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CACHE_CONTROL, REFERRER_POLICY, X_FRAME_OPTIONS};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use db::AdminDb;
pub use error::AdminError;
use session::Owner;
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

/// Every endpoint that needs a signed-in owner, as (method, path; `{code}` stands for an order's
/// code, `{id}` for a product's id).
pub const GUARDED: &[(&str, &str)] = &[
    ("GET", "/admin"),
    ("POST", "/admin/logout"),
    ("POST", "/admin/sessions/end-all"),
    ("GET", "/admin/orders"),
    ("GET", "/admin/orders.csv"),
    ("GET", "/admin/orders/{code}"),
    ("POST", "/admin/orders/{code}/status"),
    ("GET", "/admin/live"),
    ("GET", "/admin/live/events"),
    ("POST", "/admin/brake"),
    ("GET", "/admin/products"),
    ("GET", "/admin/products/new"),
    ("POST", "/admin/products"),
    ("GET", "/admin/products/{id}"),
    ("POST", "/admin/products/{id}"),
    ("POST", "/admin/products/{id}/stock"),
    ("POST", "/admin/products/{id}/archive"),
    ("POST", "/admin/products/{id}/pictures"),
    ("POST", "/admin/products/{id}/pictures/remove"),
    ("POST", "/admin/products/{id}/sale"),
    ("POST", "/admin/products/{id}/sale/end"),
    ("POST", "/admin/products/{id}/rehearse"),
    ("GET", "/admin/rehearsals/{id}"),
    ("POST", "/admin/rehearsals/{id}/cancel"),
    ("GET", "/admin/settings"),
    ("POST", "/admin/settings"),
    ("POST", "/admin/settings/logo"),
    ("POST", "/admin/settings/logo/remove"),
    ("POST", "/admin/settings/payment-picture"),
    ("POST", "/admin/settings/payment-picture/remove"),
];

pub struct AdminState {
    pub db: AdminDb,
    pub secure_cookies: bool,
    pub trust_proxy: bool,
    /// Opens the one-time setup page (while there is no owner); derived from the shop's secret.
    pub setup_code: String,
    /// The control room's latest figures.
    pub live: live::LiveFeed,
    /// Where uploaded product pictures are kept (`<data dir>/media`), served at `/media/`.
    pub media_dir: std::path::PathBuf,
    /// Signs the owner's known-device cookie.
    pub signer: Arc<app::tokens::Signer>,
    /// Where passwords are hashed: bounded, on threads of their own.
    pub hashers: hashing::Hashers,
    /// Login attempts per client, checked before anything costs.
    pub login_limits: login::LoginLimits,
    /// The catalogue and settings as shoppers' pages read them: told to read again when the
    /// owner changes the settings here.
    pub catalogue: Arc<crate::store::CatalogueCache>,
    /// How sale rehearsals are started from the product pages.
    pub rehearsals: rehearsals::Rehearsals,
    /// The shop's clock (the system's; a test's own when it set one): every time the owner's
    /// side writes or compares is read from it.
    pub clock: app::rules::Clock,
}

/// The code that opens `/admin/setup`: the same on every server of the shop, unguessable
/// without its secret.
pub fn setup_code(secret: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"holdfast owner setup\0");
    h.update(secret);
    hex::encode(&h.finalize()[..12])
}

pub fn routes<S: Clone + Send + Sync + 'static>(state: Arc<AdminState>) -> Router<S> {
    // outside the guard, on purpose: the ways in
    let ways_in = Router::new()
        .route("/admin/login", get(login::page).post(login::submit))
        .route("/admin/setup", get(login::setup_page).post(login::setup))
        .layer(axum::middleware::from_fn(guard::read_way_in));
    // everything else needs a live session, and a state change its CSRF token (`guard.rs`)
    let guarded = Router::new()
        .route("/admin", get(home))
        .route("/admin/logout", post(logout))
        .route("/admin/sessions/end-all", post(end_all_sessions))
        .route("/admin/orders", get(orders::list))
        .route("/admin/orders.csv", get(orders::csv))
        .route("/admin/orders/{code}", get(orders::detail))
        .route("/admin/orders/{code}/status", post(orders::change_status))
        .route("/admin/live", get(live::page))
        .route("/admin/live/events", get(live::events))
        .route("/admin/brake", post(live::brake))
        .route(
            "/admin/products",
            get(products::list).post(products::create),
        )
        .route("/admin/products/new", get(products::new_page))
        .route(
            "/admin/products/{id}",
            get(products::detail).post(products::update),
        )
        .route("/admin/products/{id}/stock", post(products::adjust_stock))
        .route("/admin/products/{id}/archive", post(products::archive))
        .route(
            "/admin/products/{id}/pictures",
            post(products::upload_picture),
        )
        .route(
            "/admin/products/{id}/pictures/remove",
            post(products::remove_picture),
        )
        .route("/admin/products/{id}/sale", post(products::save_sale))
        .route("/admin/products/{id}/sale/end", post(products::end_sale))
        .route("/admin/products/{id}/rehearse", post(rehearsals::start))
        .route("/admin/rehearsals/{id}", get(rehearsals::page))
        .route("/admin/rehearsals/{id}/cancel", post(rehearsals::cancel))
        .route("/admin/settings", get(settings::page).post(settings::save))
        .route("/admin/settings/logo", post(settings::upload_logo))
        .route("/admin/settings/logo/remove", post(settings::remove_logo))
        .route(
            "/admin/settings/payment-picture",
            post(settings::upload_payment_picture),
        )
        .route(
            "/admin/settings/payment-picture/remove",
            post(settings::remove_payment_picture),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::require_owner,
        ))
        .layer(DefaultBodyLimit::max(guard::MAX_BODY_BYTES));
    ways_in
        .merge(guarded)
        .layer(axum::middleware::from_fn(same_origin))
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            ),
        ))
        // outermost: every answer, refusals included, in the owner's language
        .layer(axum::middleware::from_fn(pages::speak))
        .with_state(state)
}

/// A POST from another site is refused whatever it carries (the browser names the page's origin
/// in `Origin`; clients that send none, like curl, still need the session's CSRF token).
async fn same_origin(req: Request, next: Next) -> Response {
    if req.method() == Method::POST
        && crate::edge::origin::from_another_site(req.headers(), req.uri())
    {
        return AdminError::Csrf.into_response();
    }
    next.run(req).await
}

async fn home(owner: Owner, State(state): State<Arc<AdminState>>) -> Result<Response, AdminError> {
    let sessions = state.db.sessions_of(owner.id).await?;
    Ok(pages::home(&owner.email, &owner.csrf_token, sessions).into_response())
}

async fn logout(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
) -> Result<Response, AdminError> {
    state.db.end_session(&owner.token_hash).await?;
    tracing::info!(owner = owner.id, "owner logged out");
    Ok(signed_out(&state))
}

async fn end_all_sessions(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
) -> Result<Response, AdminError> {
    let ended = state.db.end_all_sessions(owner.id).await?;
    tracing::info!(owner = owner.id, ended, "owner ended all their sessions");
    Ok(signed_out(&state))
}

fn signed_out(state: &AdminState) -> Response {
    let mut response = Redirect::to("/admin/login").into_response();
    session::with_cookie(
        response.headers_mut(),
        session::clear_cookie(state.secure_cookies),
    );
    response
}

/// Says at start how to create the first owner, if there is none yet. The setup address opens
/// the shop to whoever has it, so it is not logged: it goes into `<data dir>/setup-address`,
/// readable by the shop's user only, and the log says where.
pub async fn announce_setup(state: &AdminState, base: &str, data_dir: &std::path::Path) {
    match state.db.owner_count().await {
        Ok(0) => {
            let file = data_dir.join("setup-address");
            let address = format!("{base}/admin/setup?code={}\n", state.setup_code);
            let _ = std::fs::remove_file(&file);
            match crate::ops::private_files::write_private(&file, &address) {
                Ok(()) => tracing::info!(
                    "no owner yet: run `server admin create-owner --email you@example.com`, or \
                     open the one-time setup address kept in {} (works until the first owner \
                     exists)",
                    file.display()
                ),
                Err(e) => tracing::warn!(
                    error = %e,
                    "no owner yet: run `server admin create-owner --email you@example.com` \
                     (the setup address could not be written to {})",
                    file.display()
                ),
            }
        }
        Ok(_) => {
            let _ = std::fs::remove_file(data_dir.join("setup-address"));
        }
        Err(e) => tracing::warn!(error = %e, "could not count owners"),
    }
    let now = state.clock.now();
    let _ = state
        .db
        .sweep_sessions(now.instant().plus_secs(-session::IDLE_SECS), now.instant())
        .await;
}
