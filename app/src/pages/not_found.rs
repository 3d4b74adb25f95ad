//! The page for an unknown address (answers 404).

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    let lang = crate::language::use_language();
    view! {
        <h1>{crate::tr!(lang, page_not_found)}</h1>
        <p>
            <a href="/">{crate::tr!(lang, back_to_shop)}</a>
        </p>
    }
}
