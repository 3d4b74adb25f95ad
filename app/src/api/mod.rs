//! Server functions: thin edges that read input, parse it into domain types, call the store and
//! map the outcome. Each has a fixed endpoint under `/api/`.

pub mod cart;
pub mod catalogue;
pub mod orders;
pub mod queue;

#[cfg(feature = "ssr")]
pub mod cookies;
#[cfg(feature = "ssr")]
pub(crate) mod errors;

#[cfg(feature = "ssr")]
pub(crate) fn state() -> Result<crate::state::AppState, crate::domain::ApiError> {
    leptos::prelude::use_context::<crate::state::AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        crate::domain::ApiError::internal()
    })
}
