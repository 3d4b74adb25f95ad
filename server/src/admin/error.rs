//! What can go wrong on the owner's side, and the HTTP answer each gets — in one place.

use super::pages::{self, t};
use app::store::StoreError;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No session, a forged, ended or expired one: 401 with the login form.
    #[error("not signed in")]
    NotSignedIn,
    /// A state-changing request without this session's CSRF token, or from another site.
    #[error("the form's security token is missing or wrong")]
    Csrf,
    /// Said in the owner's language where it was found.
    #[error("{0}")]
    BadInput(String),
    #[error("too many failed logins: {secs} s to wait")]
    TooManyAttempts { secs: u64, minutes: u64 },
    /// Passwords are being checked as fast as the shop allows (a flood of logins): try again
    /// in a moment. 503, and checkout is not slowed.
    #[error("too many logins being checked")]
    LoginBusy,
    #[error("not found")]
    NotFound,
    /// An upload over its limit: 413.
    #[error("{0}")]
    TooLarge(String),
    /// Something the shop does one at a time is being done: 503, try again in a few seconds.
    #[error("{0}")]
    Busy(String),
    /// A form whose body did not arrive in time: 408, and the connection is closed.
    #[error("the request body did not arrive in time")]
    TooSlow,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            AdminError::NotSignedIn => {
                return (StatusCode::UNAUTHORIZED, pages::login(None, "/admin", None))
                    .into_response()
            }
            AdminError::Csrf => (StatusCode::FORBIDDEN, t!(admin_err_csrf)),
            AdminError::BadInput(m) => {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    pages::message(&t!(admin_check_form), m),
                )
                    .into_response()
            }
            AdminError::TooManyAttempts { secs, minutes } => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    pages::login(
                        None,
                        "/admin",
                        Some(&t!(admin_err_too_many_logins, minutes = minutes)),
                    ),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(RETRY_AFTER, v);
                }
                return response;
            }
            AdminError::LoginBusy => {
                // rendered once per language: under a flood of logins this is the answer most of
                // them get
                static BUSY: [std::sync::OnceLock<String>; 2] =
                    [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
                let lang = pages::lang();
                let page =
                    BUSY[usize::from(lang == app::language::Language::En)].get_or_init(|| {
                        pages::login(None, "/admin", Some(&t!(admin_err_login_busy))).0
                    });
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::response::Html(page.as_str()),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("3"));
                return response;
            }
            AdminError::NotFound => (StatusCode::NOT_FOUND, t!(admin_err_not_found)),
            AdminError::TooLarge(m) => {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    pages::message(&t!(admin_too_large), m),
                )
                    .into_response()
            }
            AdminError::Busy(m) => {
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    pages::message(&t!(admin_busy), m),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("5"));
                return response;
            }
            AdminError::TooSlow => {
                let mut response = (
                    StatusCode::REQUEST_TIMEOUT,
                    pages::message(&t!(admin_sorry), &t!(admin_err_too_slow)),
                )
                    .into_response();
                response.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    HeaderValue::from_static("close"),
                );
                return response;
            }
            AdminError::Store(StoreError::Busy(detail)) => {
                tracing::warn!(%detail, "admin: storage busy");
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    pages::message(&t!(admin_busy), &t!(admin_err_busy)),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("2"));
                return response;
            }
            AdminError::Store(e) => {
                tracing::error!(error = %e, "admin: storage failed");
                (StatusCode::INTERNAL_SERVER_ERROR, t!(admin_err_internal))
            }
        };
        (status, pages::message(&t!(admin_sorry), &body)).into_response()
    }
}
