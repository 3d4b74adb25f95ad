//! The owner's side in tests: the first owner, logging in, and the session's CSRF token.
// Not every test crate uses every helper; in test code a panic is the failure report.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::{spawn_on, Fetch, Kind, TestApp};
use reqwest::header::{COOKIE, SET_COOKIE};

pub const SECRET: &str = "admin-test-secret-0123456789abcdefghij";
pub const EMAIL: &str = "owner@harbour.example";
pub const PASSWORD: &str = "tide tables at dawn";

pub async fn shop(kind: Kind) -> TestApp {
    spawn_on(kind, &[("HOLDFAST_SECRET", SECRET)]).await
}

/// [`shop`] on a clock the test moves.
pub async fn shop_at(kind: Kind, clock: app::rules::Clock) -> TestApp {
    super::spawn_on_at(kind, &[("HOLDFAST_SECRET", SECRET)], clock).await
}

pub fn setup_code() -> String {
    server::admin::setup_code(SECRET.as_bytes())
}

/// The session cookie a response set, as `name=value`.
pub fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("holdfast_owner=") && !v.starts_with("holdfast_owner=;"))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

pub async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).form(form);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    req.send().await.unwrap()
}

pub async fn get_with(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

/// Creates the first owner through the setup page; the session cookie it starts.
pub async fn first_owner(app: &TestApp) -> String {
    let code = setup_code();
    let res = post_form(
        app,
        "/admin/setup",
        None,
        &[("code", &code), ("email", EMAIL), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), 303);
    session_cookie(&res).expect("setup signs the owner in")
}

pub async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    post_form(
        app,
        "/admin/login",
        None,
        &[("email", email), ("password", password), ("next", "/admin")],
    )
    .await
}

/// The first owner of a shop running as a process of its own, signed in through its setup page
/// with `code`: her session cookie and its CSRF token.
pub async fn first_owner_of(http: &reqwest::Client, base: &str, code: &str) -> (String, String) {
    let res = http
        .post(format!("{base}/admin/setup"))
        .form(&[("code", code), ("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = session_cookie(&res).unwrap();
    let page = http
        .get(format!("{base}/admin"))
        .header(COOKIE, &cookie)
        .fetch_text()
        .await;
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    (cookie, page[at..at + 64].to_owned())
}

/// The CSRF token on the admin home page of this session.
pub async fn csrf(app: &TestApp, cookie: &str) -> String {
    let page = get_with(app, "/admin", cookie).await.text().await.unwrap();
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..at + 64].to_owned()
}

/// A signed-in owner: her session cookie (with any other cookie her browser sends) and the
/// session's CSRF token, which every form she posts carries.
pub struct Owner<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
}

impl<'a> Owner<'a> {
    /// The shop's first owner, signed in through the setup page.
    pub async fn new(app: &'a TestApp) -> Owner<'a> {
        let cookie = first_owner(app).await;
        let csrf = csrf(app, &cookie).await;
        Owner { app, cookie, csrf }
    }

    /// A form with her CSRF token.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = vec![("csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        post_form(self.app, path, Some(&self.cookie), &fields).await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        get_with(self.app, path, &self.cookie).await
    }

    /// A page that must be there.
    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), 200, "GET {path}");
        res.text().await.unwrap()
    }

    /// A multipart form as given (its CSRF field is the caller's: some tests leave it out).
    pub async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(path))
            .header(COOKIE, &self.cookie)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}
