//! The owner's pages, rendered on the server as plain HTML forms: they work on any phone without
//! JavaScript, and none of this code is in the shoppers' WebAssembly bundle. Leptos' `view!`
//! escapes every value put into the page.

use axum::response::Html;
use leptos::prelude::*;

/// An amount of minor units as the owner reads it, in the shop's currency (`¥12.50`).
pub fn money(cents: i64) -> String {
    crate::shop_look::current().price(cents)
}

/// An RFC 3339 UTC stamp as the owner reads it, on the shop's clock: `2026-12-02 22:05`.
pub fn when(stamp: &str) -> String {
    crate::shop_look::current().local_time(stamp)
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
    let title = format!("{title} · Holdfast admin");
    let page = view! {
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="robots" content="noindex" />
                <title>{title}</title>
                <link rel="stylesheet" href="/admin.css" />
            </head>
            <body class="admin">
                <header class="admin-bar">
                    <a href="/admin" class="admin-brand">"Holdfast admin"</a>
                    <a href="/admin/live">"Live"</a>
                    <a href="/admin/orders">"Orders"</a>
                    <a href="/admin/products">"Products"</a>
                    <a href="/admin/settings">"Settings"</a>
                    <a href="/">"Shop"</a>
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
        "Log in",
        view! {
            <h1>"Log in"</h1>
            {error.map(|e| view! { <p class="admin-error" role="alert">{e}</p> })}
            <form method="post" action="/admin/login" class="admin-form">
                <input type="hidden" name="next" value=next />
                <label>"Email" <input type="email" name="email" autocomplete="username" required value=email /></label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required minlength="12" />
                </label>
                <button type="submit">"Log in"</button>
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
            <p><a href="/admin">"Back to the admin"</a></p>
        },
    )
}

/// The one-time setup form: only while the shop has no owner, and only with the setup code the
/// server printed at start.
pub fn setup(code: &str, error: Option<&str>) -> Html<String> {
    let code = code.to_owned();
    let error = error.map(str::to_owned);
    document(
        "Create the owner",
        view! {
            <h1>"Create the shop's owner"</h1>
            <p>"This page works once: until the first owner exists."</p>
            {error.map(|e| view! { <p class="admin-error" role="alert">{e}</p> })}
            <form method="post" action="/admin/setup" class="admin-form">
                <input type="hidden" name="code" value=code />
                <label>"Email" <input type="email" name="email" autocomplete="username" required /></label>
                <label>
                    "Password (at least 12 characters)"
                    <input type="password" name="password" autocomplete="new-password" required minlength="12" />
                </label>
                <button type="submit">"Create the owner"</button>
            </form>
        },
    )
}

/// The admin home: who is signed in, and the session controls.
pub fn home(email: &str, csrf: &str, sessions: i64) -> Html<String> {
    let (email, csrf) = (email.to_owned(), csrf.to_owned());
    let sessions = match sessions {
        1 => "You are signed in on this device only.".to_owned(),
        n => format!("You are signed in on {n} devices or browsers."),
    };
    document(
        "Admin",
        view! {
            <h1>"The shop"</h1>
            <p>"Signed in as " <strong>{email}</strong></p>
            <p><a href="/admin/live">"Live control room →"</a></p>
            <p><a href="/admin/orders">"Orders →"</a></p>
            <p><a href="/admin/products">"Products →"</a></p>
            <p><a href="/admin/settings">"Shop settings: name, currency, time zone, how to pay →"</a></p>
            <section class="admin-card">
                <h2>"Sessions"</h2>
                <p>{sessions}</p>
                <form method="post" action="/admin/sessions/end-all">
                    <input type="hidden" name="csrf" value=csrf.clone() />
                    <button type="submit">"End all my sessions"</button>
                </form>
                <form method="post" action="/admin/logout">
                    <input type="hidden" name="csrf" value=csrf />
                    <button type="submit">"Log out"</button>
                </form>
            </section>
        },
    )
}
