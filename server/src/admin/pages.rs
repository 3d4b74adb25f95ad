//! The owner's pages, rendered on the server as plain HTML forms: they work on any phone without
//! JavaScript, and none of this code is in the shoppers' WebAssembly bundle. Leptos' `view!`
//! escapes every value put into the page.
//!
//! They speak the owner's language, chosen as a shopper's is (the `hf_lang` cookie, else the
//! browser's `Accept-Language`, else the shop's default): [`speak`] decides it once per request
//! and [`lang`] gives it to any code answering it; texts are `t!(key)` from `app/locales/*.json`.

use app::language::Language;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{Html, Response};
use leptos::prelude::*;

tokio::task_local! {
    /// The language of the owner's request being answered, and its path (for the switch).
    static SPOKEN: (Language, String);
}

/// The middleware on every admin route: the request's language, in reach while it is answered.
pub async fn speak(req: Request, next: Next) -> Response {
    let shop_default = crate::edge::shop_look::current().default_language;
    let lang = Language::of_request(req.headers(), shop_default);
    // after a form's answer the switch goes to the admin's front page, not back to a POST
    let path = match (req.method(), req.uri().path_and_query()) {
        (&axum::http::Method::GET, Some(p)) => p.as_str().to_owned(),
        _ => "/admin".to_owned(),
    };
    SPOKEN.scope((lang, path), next.run(req)).await
}

/// The language of the owner's request being answered (English outside one: a unit test).
pub fn lang() -> Language {
    SPOKEN.try_with(|s| s.0).unwrap_or(Language::En)
}

/// The path of the owner's request being answered, for the language switch's way back.
fn here() -> String {
    SPOKEN
        .try_with(|s| s.1.clone())
        .unwrap_or_else(|_| "/admin".to_owned())
}

/// A text of the owner's language: `t!(key)` or `t!(key, name = value)`; a key missing from
/// `app/locales/*.json` does not compile.
macro_rules! t {
    ($($rest:tt)*) => {
        app::tr!($crate::admin::pages::lang(), $($rest)*)
    };
}
pub(crate) use t;

/// An amount of minor units as the owner reads it, in the shop's currency (`¥12.50`).
pub fn money(cents: i64) -> String {
    crate::edge::shop_look::current().price(cents)
}

/// An instant as the owner reads it, on the shop's clock: `2026-12-02 22:05`.
pub fn when(at: app::domain::At) -> String {
    crate::edge::shop_look::current().local_time(at)
}

/// Who made a logged change, as stored (`owner wang@example.com`, or the expiry task's reason),
/// in the owner's words.
pub fn actor(stored: &str) -> String {
    use super::orders::{EXPIRY_PAST_DEADLINE, EXPIRY_SALE_PREFIX};
    if let Some(email) = stored.strip_prefix(super::session::ACTOR_PREFIX) {
        return t!(admin_actor_owner, email = email);
    }
    if stored == EXPIRY_PAST_DEADLINE {
        return t!(admin_actor_expiry);
    }
    if let Some(minutes) = stored
        .strip_prefix(EXPIRY_SALE_PREFIX)
        .and_then(|rest| rest.strip_suffix(" min"))
    {
        return t!(admin_actor_expiry_sale, minutes = minutes);
    }
    stored.to_owned()
}

/// A form's problems, each on its line (nothing when there are none).
pub fn problem_list(problems: &[String]) -> impl IntoView {
    (!problems.is_empty()).then(|| {
        let items = problems
            .iter()
            .map(|p| view! { <li>{p.clone()}</li> })
            .collect_view();
        view! { <ul class="admin-error" role="alert">{items}</ul> }
    })
}

/// A whole admin document around `body`.
pub fn document(title: &str, body: impl IntoView + 'static) -> Html<String> {
    document_refreshing(title, None, body)
}

/// The same, reloading itself every `refresh` seconds (a page that follows something running,
/// without JavaScript).
pub fn document_refreshing(
    title: &str,
    refresh: Option<u32>,
    body: impl IntoView + 'static,
) -> Html<String> {
    let lang = lang();
    let title = format!("{title} · {}", t!(admin_brand));
    let other = lang.other();
    let switch = format!(
        "/language/{}?back={}",
        other.tag(),
        app::percent::encode_path(&here())
    );
    let page = view! {
        <html lang=lang.tag()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="robots" content="noindex" />
                <title>{title}</title>
                {refresh.map(|secs| view! { <meta http-equiv="refresh" content=secs.to_string() /> })}
                <link rel="stylesheet" href="/admin.css" />
            </head>
            <body class="admin">
                <header class="admin-bar">
                    <a href="/admin" class="admin-brand">{t!(admin_brand)}</a>
                    <a href="/admin/live">{t!(admin_nav_live)}</a>
                    <a href="/admin/orders">{t!(admin_nav_orders)}</a>
                    <a href="/admin/products">{t!(admin_nav_products)}</a>
                    <a href="/admin/settings">{t!(admin_nav_settings)}</a>
                    <a href="/">{t!(admin_nav_shop)}</a>
                    <a href=switch hreflang=other.tag() lang=other.tag() data-testid="admin-language">
                        {app::tr!(lang, switch_to)}
                    </a>
                </header>
                <main class="admin-main">{body}</main>
            </body>
        </html>
    };
    Html(format!("<!DOCTYPE html>{}", page.to_html()))
}

/// The login form; `error` says what went wrong with the last try.
pub fn login(email: Option<&str>, next: &str, error: Option<&str>) -> Html<String> {
    let email = email.unwrap_or_default().to_owned();
    let next = next.to_owned();
    let error = error.map(str::to_owned);
    document(
        &t!(admin_login),
        view! {
            <h1>{t!(admin_login)}</h1>
            {error.map(|e| view! { <p class="admin-error" role="alert">{e}</p> })}
            <form method="post" action="/admin/login" class="admin-form">
                <input type="hidden" name="next" value=next />
                <label>{t!(admin_email)} <input type="email" name="email" autocomplete="username" required value=email /></label>
                <label>
                    {t!(admin_password)}
                    <input type="password" name="password" autocomplete="current-password" required minlength="12" />
                </label>
                <button type="submit">{t!(admin_login)}</button>
            </form>
        },
    )
}

/// A short page with a heading and one message.
pub fn message(heading: &str, text: &str) -> Html<String> {
    let (title, text) = (heading.to_owned(), text.to_owned());
    document(
        heading,
        view! {
            <h1>{title}</h1>
            <p>{text}</p>
            <p><a href="/admin">{t!(admin_back_home)}</a></p>
        },
    )
}

/// The one-time setup form: only while the shop has no owner, and only with the setup code the
/// server printed at start.
pub fn setup(code: &str, error: Option<&str>) -> Html<String> {
    let code = code.to_owned();
    let error = error.map(str::to_owned);
    document(
        &t!(admin_setup_title),
        view! {
            <h1>{t!(admin_setup_heading)}</h1>
            <p>{t!(admin_setup_once)}</p>
            {error.map(|e| view! { <p class="admin-error" role="alert">{e}</p> })}
            <form method="post" action="/admin/setup" class="admin-form">
                <input type="hidden" name="code" value=code />
                <label>{t!(admin_email)} <input type="email" name="email" autocomplete="username" required /></label>
                <label>
                    {t!(admin_new_password)}
                    <input type="password" name="password" autocomplete="new-password" required minlength="12" />
                </label>
                <button type="submit">{t!(admin_setup_title)}</button>
            </form>
        },
    )
}

/// The admin home: who is signed in, and the session controls.
pub fn home(email: &str, csrf: &str, sessions: i64) -> Html<String> {
    let (email, csrf) = (email.to_owned(), csrf.to_owned());
    let sessions = match sessions {
        1 => t!(admin_sessions_one),
        n => t!(admin_sessions_many, count = n),
    };
    document(
        &t!(admin_home_title),
        view! {
            <h1>{t!(admin_home_heading)}</h1>
            <p>{t!(admin_signed_in_as)} " " <strong>{email}</strong></p>
            <p><a href="/admin/live">{t!(admin_home_live)}</a></p>
            <p><a href="/admin/orders">{t!(admin_home_orders)}</a></p>
            <p><a href="/admin/products">{t!(admin_home_products)}</a></p>
            <p><a href="/admin/settings">{t!(admin_home_settings)}</a></p>
            <section class="admin-card">
                <h2>{t!(admin_sessions)}</h2>
                <p>{sessions}</p>
                <form method="post" action="/admin/sessions/end-all">
                    <input type="hidden" name="csrf" value=csrf.clone() />
                    <button type="submit">{t!(admin_end_all_sessions)}</button>
                </form>
                <form method="post" action="/admin/logout">
                    <input type="hidden" name="csrf" value=csrf />
                    <button type="submit">{t!(admin_logout)}</button>
                </form>
            </section>
        },
    )
}
