//! What can go wrong on the owner's side, and the HTTP answer each gets — in one place.

use super::pages;
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
    #[error("{0}")]
    BadInput(String),
    #[error("Too many failed logins. Try again in {minutes} min.")]
    TooManyAttempts { secs: u64, minutes: u64 },
    /// Passwords are being checked as fast as the shop allows (a flood of logins): try again
    /// in a moment. 503, and checkout is not slowed.
    #[error("The shop is checking many logins right now. Try again in a few seconds.")]
    LoginBusy,
    #[error("not found")]
    NotFound,
    /// An upload over its limit: 413.
    #[error("{0}")]
    TooLarge(String),
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
            AdminError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired or came from another site. Go back, reload the page and try again.",
            ),
            AdminError::BadInput(m) => {
                return (StatusCode::UNPROCESSABLE_ENTITY, pages::message("Check the form", m))
                    .into_response()
            }
            AdminError::TooManyAttempts { secs, .. } => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    pages::login(None, "/admin", Some(&self.to_string())),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(RETRY_AFTER, v);
                }
                return response;
            }
            AdminError::LoginBusy => {
                // rendered once: under a flood of logins this is the answer most of them get
                static BUSY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let page = BUSY.get_or_init(|| {
                    pages::login(None, "/admin", Some(&AdminError::LoginBusy.to_string())).0
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
            AdminError::NotFound => (StatusCode::NOT_FOUND, "There is nothing here."),
            AdminError::TooLarge(m) => {
                return (StatusCode::PAYLOAD_TOO_LARGE, pages::message("Too large", m))
                    .into_response()
            }
            AdminError::Store(StoreError::Busy(detail)) => {
                tracing::warn!(%detail, "admin: storage busy");
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    pages::message("Busy", "The shop's database is busy. Try again in a few seconds."),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("2"));
                return response;
            }
            AdminError::Store(e) => {
                tracing::error!(error = %e, "admin: storage failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side. It has been logged.",
                )
            }
        };
        (status, pages::message("Sorry", body)).into_response()
    }
}
