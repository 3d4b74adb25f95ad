//! Holdfast's Leptos app: pages, components and server functions, shared by the axum server
//! (feature `ssr`) and the hydrated browser bundle (feature `hydrate`).

// the typed texts of `locales/*.json` (`mod i18n`, made by build.rs)
include!(concat!(env!("OUT_DIR"), "/i18n/mod.rs"));

#[cfg(feature = "ssr")]
pub mod admission;
pub mod api;
pub mod components;
#[cfg(feature = "ssr")]
pub mod csp;
pub mod domain;
pub mod language;
pub mod live;
#[cfg(feature = "ssr")]
pub mod lookup_limits;
pub mod pages;
pub mod percent;
#[cfg(feature = "ssr")]
pub mod pulse;
#[cfg(feature = "ssr")]
pub mod rules;
pub mod share;
pub mod shop;
#[cfg(feature = "ssr")]
pub mod shop_time;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod strain;
#[cfg(feature = "ssr")]
pub mod tokens;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// Brings the islands to life in the browser. Called by the browser bundle (`frontend`): calling
/// into this crate is also what links its islands' exported functions into the bundle.
#[cfg(feature = "hydrate")]
pub fn hydrate_islands() {
    leptos::mount::hydrate_islands();
}

/// The scripts that bring a page's islands to life: the islands runtime and its WASM (and, for a
/// lazy island, its chunk). A page with an island renders this before the island; the others
/// load no JavaScript or WASM at all.
#[component]
pub fn IslandScripts() -> impl IntoView {
    // shared, not copied, by every request's context (a server function never needs it); copied
    // here, once per page that has an island
    use_context::<std::sync::Arc<LeptosOptions>>().map(|options| {
        let options = LeptosOptions::clone(&options);
        view! { <HydrationScripts options islands=true /> }
    })
}

/// The shop's stylesheet, `style/main.css`, inlined in every page (see [`shell`]).
pub const STYLE: &str = include_str!("../../style/main.css");

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // for [`IslandScripts`]: only pages with an island load the islands' JS and WASM
    provide_context(options.clone());
    // read once per page: every part of it reads the same settings and language
    let shop = shop::use_shop();
    provide_context(shop.clone());
    let lang = language::use_language();
    provide_context(lang);
    let icon = shop.logo.as_deref().map_or_else(
        || ("/favicon.svg".to_owned(), "image/svg+xml"),
        |logo| (shop::picture_url(logo), "image/png"),
    );
    view! {
        <!DOCTYPE html>
        <html lang=lang.tag()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="theme-color" content="#1d4e5f" />
                <link rel="icon" href=icon.0 type=icon.1 />
                <AutoReload options=options.clone() />
                // the whole stylesheet is small (2 kB brotli): inline, the first paint waits for
                // no second request
                <style nonce=leptos::nonce::use_nonce() inner_html=STYLE></style>
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The shop. Every data-bearing route renders fully on the server (`SsrMode::Async`) so a phone
/// without JavaScript, or before the WASM arrives, sees real content rather than loading spinners.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let lang = language::use_language();
    let shop = shop::use_shop();
    view! {
        // escaped: leptos_meta writes a title's text raw (see `components::titled`)
        <Title text=components::escape_html(&shop.display_name(lang)) />
        <Router>
            <components::Header />
            <main>
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("/") view=pages::catalogue::CataloguePage ssr=SsrMode::Async />
                    <Route path=path!("/p/:slug") view=pages::product::ProductPage ssr=SsrMode::Async />
                    <Route path=path!("/cart") view=pages::cart::CartPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/checkout")
                        view=pages::checkout::CheckoutPage
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/order/:code") view=pages::order::OrderPage ssr=SsrMode::Async />
                    <Route path=path!("/status") view=pages::status::StatusPage ssr=SsrMode::Async />
                    <Route path=path!("/queue/:ticket") view=pages::queue::QueuePage ssr=SsrMode::Async />
                </Routes>
            </main>
            <components::Footer />
        </Router>
    }
}
