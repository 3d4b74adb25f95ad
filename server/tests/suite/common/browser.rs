//! A shopper's browser without JavaScript, as far as the tests need one: the cookies a response
//! set, forms posted as a browser posts them (accepting HTML), and a cookie jar that keeps what
//! the shop set across requests.
// Not every test crate uses every helper; in test code a panic is the failure report.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::TestApp;
use reqwest::header::{ACCEPT, COOKIE, LOCATION, REFERER, SET_COOKIE};
use std::collections::BTreeMap;

/// The demo's plain product (no sale).
pub const CARAMELS: i64 = 2;

/// `name=value` of each cookie a response set (not the ones it cleared).
pub fn cookies_set(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .filter(|c| !c.ends_with('='))
        .collect()
}

pub fn cookie_named<'a>(cookies: &'a [String], name: &str) -> Option<&'a String> {
    cookies.iter().find(|c| c.starts_with(&format!("{name}=")))
}

/// Posts a form the way a browser without JavaScript does (it accepts HTML).
pub async fn plain_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A cart cookie with one box of caramels, as the shop set it.
pub async fn cart_with_caramels(app: &TestApp) -> String {
    let res = plain_form(
        app,
        "/api/add_to_cart",
        "",
        &[("product_id", &CARAMELS.to_string()), ("quantity", "1")],
    )
    .await;
    cookie_named(&cookies_set(&res), "hf_cart")
        .expect("the cart cookie")
        .clone()
}

/// The cookies one browser holds: what each answer set is kept, what it cleared is dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jar(BTreeMap<String, String>);

impl Jar {
    /// Takes in the cookies an answer set or cleared.
    pub fn keep(&mut self, res: &reqwest::Response) {
        for header in res.headers().get_all(SET_COOKIE) {
            let Some((name, value)) = header
                .to_str()
                .ok()
                .and_then(|h| h.split(';').next())
                .and_then(|pair| pair.split_once('='))
            else {
                continue;
            };
            let cleared = value.is_empty()
                || header
                    .to_str()
                    .is_ok_and(|h| h.to_ascii_lowercase().contains("max-age=0"));
            if cleared {
                self.0.remove(name.trim());
            } else {
                self.0.insert(name.trim().to_owned(), value.to_owned());
            }
        }
    }

    /// Puts one cookie in, as copied from another browser.
    pub fn keep_cookie(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_owned(), value.to_owned());
    }

    /// The value of the cookie `name`, if this browser holds it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The `Cookie` header this browser sends.
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// GETs a page with these cookies and keeps what it set; the page's text.
    pub async fn page(&mut self, app: &TestApp, path: &str) -> String {
        let res = app
            .client
            .get(app.url(path))
            .header(ACCEPT, "text/html")
            .header(COOKIE, self.header())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        self.keep(&res);
        res.text().await.unwrap()
    }

    /// Posts a plain form from the page `from` (its `Referer`: where a refusal sends the phone
    /// back to) with these cookies and keeps what the answer set; the answer's status and where
    /// it redirects to.
    pub async fn post(
        &mut self,
        app: &TestApp,
        from: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, Option<String>) {
        let res = app
            .client
            .post(app.url(path))
            .header(ACCEPT, "text/html,application/xhtml+xml")
            .header(COOKIE, self.header())
            .header(REFERER, app.url(from))
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&res);
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        (res.status().as_u16(), location)
    }
}

/// The value of the hidden `name` field in a rendered form.
pub fn hidden_field(page: &str, name: &str) -> Option<String> {
    let at = page.find(&format!(r#"name="{name}""#))?;
    let tag_start = page[..at].rfind('<')?;
    let tag_end = at + page[at..].find('>')?;
    let tag = &page[tag_start..tag_end];
    let value = tag.split(r#"value=""#).nth(1)?;
    Some(value[..value.find('"')?].to_owned())
}
