//! Server functions: thin edges that read input, parse it into domain types, call the store and
//! map the outcome. Each has a fixed endpoint under `/api/`.

pub mod cart;
pub mod catalogue;
pub mod error;
pub mod orders;
pub mod queue;
pub mod refusal;

pub use error::ApiError;
pub use refusal::Refusal;

#[cfg(feature = "ssr")]
pub mod cookies;
#[cfg(feature = "ssr")]
pub(crate) mod errors;

#[cfg(feature = "ssr")]
pub(crate) fn state() -> Result<crate::state::AppState, Refusal> {
    leptos::prelude::use_context::<crate::state::AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        Refusal::Internal
    })
}

/// A server function's outcome: a refusal worded in the request's language (the JSON keeps its
/// `kind` and facts), with its HTTP status (and `Retry-After`) set (the framework alone answers
/// every error with 500). A plain form post (no JavaScript) keeps the framework's redirect back
/// to its page, which shows the error.
#[cfg(feature = "ssr")]
pub(crate) fn answered<T>(outcome: Result<T, Refusal>) -> Result<T, ApiError> {
    outcome.map_err(|refusal| {
        let error = refusal.say(crate::language::use_language());
        set_status(&error);
        error
    })
}

#[cfg(feature = "ssr")]
pub(crate) fn set_status(error: &ApiError) {
    use http::header::RETRY_AFTER;
    use http::{HeaderValue, StatusCode};
    use leptos::prelude::use_context;
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    // a plain form (no JavaScript) is sent back to its page (or on, by the function itself)
    // with the error in the address: server_fn's form redirects, which a status would break
    if crate::api::cookies::from_plain_form() {
        return;
    }
    response.set_status(
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    if let Some(secs) = error.retry_after_secs() {
        response.insert_header(RETRY_AFTER, HeaderValue::from(secs));
    }
}
