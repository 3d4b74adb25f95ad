//! The owner's side: the first owner, logging in and out, sessions, and the guard on every admin
//! endpoint — over real HTTP, on SQLite and on Postgres.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::owner::{
    csrf, first_owner, get_with, login, post_form, session_cookie, setup_code, shop, EMAIL,
    PASSWORD, SECRET,
};
use common::Kind;
use reqwest::header::{COOKIE, SET_COOKIE};

async fn the_setup_page_makes_one_first_owner_and_only_with_the_code(kind: Kind) {
    let app = shop(kind).await;
    let code = setup_code();
    assert_eq!(app.get("/admin/setup").await.status(), 404, "no code");
    assert_eq!(
        app.get("/admin/setup?code=0123456789abcdef01234567")
            .await
            .status(),
        404,
        "wrong code"
    );
    assert_eq!(
        app.get(&format!("/admin/setup?code={code}")).await.status(),
        200
    );
    let short = post_form(
        &app,
        "/admin/setup",
        None,
        &[("code", &code), ("email", EMAIL), ("password", "too short")],
    )
    .await;
    assert_eq!(short.status(), 422);
    assert!(short
        .text()
        .await
        .unwrap()
        .contains("at least 12 characters"));
    assert_eq!(app.count("SELECT COUNT(*) FROM owners").await, 0);

    let cookie = first_owner(&app).await;
    let home = get_with(&app, "/admin", &cookie).await;
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains(EMAIL));
    let stored: String = match &app.db {
        common::shop::Db::Sqlite(p) => sqlx::query_scalar("SELECT password_hash FROM owners")
            .fetch_one(p)
            .await
            .unwrap(),
        common::shop::Db::Pg(p) => sqlx::query_scalar("SELECT password_hash FROM owners")
            .fetch_one(p)
            .await
            .unwrap(),
    };
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );

    // once there is an owner the page is gone, and a second try makes nobody
    assert_eq!(
        app.get(&format!("/admin/setup?code={code}")).await.status(),
        404
    );
    let again = post_form(
        &app,
        "/admin/setup",
        None,
        &[
            ("code", &code),
            ("email", "intruder@evil.example"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(again.status(), 404);
    assert_eq!(app.count("SELECT COUNT(*) FROM owners").await, 1);
}

async fn login_rotates_the_session_and_logout_ends_it(kind: Kind) {
    let app = shop(kind).await;
    let from_setup = first_owner(&app).await;
    let res = login(&app, "  Owner@Harbour.example ", PASSWORD).await;
    assert_eq!(
        res.status(),
        303,
        "emails are matched without case or spaces"
    );
    assert_eq!(res.headers()["location"], "/admin");
    let set = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    let cookie = session_cookie(&res).unwrap();
    let token = cookie.split_once('=').unwrap().1;
    assert_eq!(token.len(), 64, "256 bits");
    assert_ne!(cookie, from_setup, "a new token at every login");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM owner_sessions WHERE token_hash = '{token}'"
        ))
        .await,
        0,
        "the token itself is never stored"
    );
    assert_eq!(get_with(&app, "/admin", &cookie).await.status(), 200);

    let csrf = csrf(&app, &cookie).await;
    let out = post_form(&app, "/admin/logout", Some(&cookie), &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), 303);
    assert!(out.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        get_with(&app, "/admin", &cookie).await.status(),
        401,
        "logged out"
    );
    assert_eq!(
        get_with(&app, "/admin", &from_setup).await.status(),
        200,
        "the other session lives"
    );
}

async fn end_all_sessions_signs_out_every_device(kind: Kind) {
    let app = shop(kind).await;
    let phone = first_owner(&app).await;
    let laptop = session_cookie(&login(&app, EMAIL, PASSWORD).await).unwrap();
    assert!(get_with(&app, "/admin", &phone)
        .await
        .text()
        .await
        .unwrap()
        .contains("2 devices"));
    let csrf = csrf(&app, &laptop).await;
    let res = post_form(
        &app,
        "/admin/sessions/end-all",
        Some(&laptop),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    for cookie in [&phone, &laptop] {
        assert_eq!(get_with(&app, "/admin", cookie).await.status(), 401);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM owner_sessions").await, 0);
}

async fn wrong_passwords_tell_nothing_and_the_sixth_try_waits(kind: Kind) {
    let app = shop(kind).await;
    first_owner(&app).await;
    let unknown = login(&app, "nobody@harbour.example", PASSWORD).await;
    assert_eq!(unknown.status(), 401);
    let unknown = unknown.text().await.unwrap();
    for _ in 0..5 {
        let wrong = login(&app, EMAIL, "not the password at all").await;
        assert_eq!(wrong.status(), 401);
        let wrong = wrong.text().await.unwrap();
        assert!(wrong.contains("Wrong email or password."));
        assert!(
            unknown.contains("Wrong email or password."),
            "the same words for both"
        );
    }
    let refused = login(&app, EMAIL, PASSWORD).await;
    assert_eq!(refused.status(), 429, "even the right password waits now");
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&wait), "about 15 minutes: {wait}");
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("Too many failed logins"));
    assert!(session_cookie(&login(&app, EMAIL, PASSWORD).await).is_none());
}

/// The list of guarded endpoints, each called anonymously, with a forged session, with an expired
/// one, with an idle one — and each POST also with a live session but no CSRF token or from
/// another site. Every call is refused and the database does not change.
async fn every_admin_endpoint_refuses_callers_without_a_live_session(kind: Kind) {
    let app = shop(kind).await;
    let live = first_owner(&app).await;
    let expired = session_cookie(&login(&app, EMAIL, PASSWORD).await).unwrap();
    let idle = session_cookie(&login(&app, EMAIL, PASSWORD).await).unwrap();
    let hash = |c: &str| server::admin::session::token_hash(c.split_once('=').unwrap().1);
    app.exec(&format!(
        "UPDATE owner_sessions SET expires_at = '2020-01-01T00:00:00.000Z' WHERE token_hash = '{}'",
        hash(&expired)
    ))
    .await;
    app.exec(&format!(
        "UPDATE owner_sessions SET last_seen_at = '2020-01-01T00:00:00.000Z' WHERE token_hash = '{}'",
        hash(&idle)
    ))
    .await;
    let forged = format!("holdfast_owner={}", "ab".repeat(32));
    // a real order for the endpoints that act on one
    let placed: serde_json::Value = app
        .place_order(&common::order_body(&common::key(1), 2, 1))
        .await
        .json()
        .await
        .unwrap();
    let code = placed["order_code"].as_str().unwrap().to_owned();
    let action = [
        ("csrf", ""),
        ("from", "awaiting_payment"),
        ("to", "cancelled"),
        ("confirm", "yes"),
    ];
    let snapshot = || async {
        (
            app.count("SELECT COUNT(*) FROM owner_sessions").await,
            app.count("SELECT COUNT(*) FROM owners").await,
            app.count("SELECT COUNT(*) FROM orders").await,
            app.count("SELECT CAST(COALESCE(SUM(stock), 0) AS BIGINT) FROM products")
                .await,
            app.count("SELECT COUNT(*) FROM products").await,
            app.count("SELECT COUNT(*) FROM product_audit").await,
            app.count("SELECT COUNT(*) FROM product_images").await,
            app.count("SELECT COUNT(*) FROM sales").await,
            app.count("SELECT COUNT(*) FROM brakes").await,
        )
    };
    let before = snapshot().await;
    let live_csrf = csrf(&app, &live).await;
    assert!(!server::admin::GUARDED.is_empty());
    for (method, path) in server::admin::GUARDED {
        let path = &path.replace("{code}", &code).replace("{id}", "3");
        let with = |csrf: &'static str| {
            let mut form = action.to_vec();
            form[0] = ("csrf", csrf);
            form
        };
        let live_form = {
            let mut form = action.to_vec();
            form[0] = ("csrf", live_csrf.as_str());
            form
        };
        for (who, cookie) in [
            ("anonymous", None),
            ("forged", Some(forged.as_str())),
            ("expired", Some(expired.as_str())),
            ("idle", Some(idle.as_str())),
        ] {
            let mut req = match *method {
                "GET" => app.client.get(app.url(path)),
                _ => app
                    .client
                    .post(app.url(path))
                    .form(&[("csrf", live_csrf.as_str())]),
            };
            if let Some(c) = cookie {
                req = req.header(COOKIE, c);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 401, "{method} {path} as {who}");
            assert!(
                res.text().await.unwrap().contains("Log in"),
                "{method} {path} as {who}"
            );
        }
        if *method == "POST" && path.ends_with("/pictures") {
            // the upload is multipart: the token travels as one of its fields
            for (what, token, origin) in [
                ("without the CSRF token", String::new(), None),
                ("with a wrong CSRF token", "0".repeat(64), None),
                (
                    "from another site",
                    live_csrf.clone(),
                    Some("https://evil.example"),
                ),
            ] {
                let form = reqwest::multipart::Form::new().text("csrf", token).part(
                    "picture",
                    reqwest::multipart::Part::bytes(vec![0x89, b'P', b'N', b'G']),
                );
                let mut req = app
                    .client
                    .post(app.url(path))
                    .header(COOKIE, &live)
                    .multipart(form);
                if let Some(o) = origin {
                    req = req.header("origin", o);
                }
                assert_eq!(req.send().await.unwrap().status(), 403, "{path} {what}");
            }
        } else if *method == "POST" {
            let no_token = post_form(&app, path, Some(&live), &with("")).await;
            assert_eq!(no_token.status(), 403, "{path} without the CSRF token");
            let zeros = "0000000000000000000000000000000000000000000000000000000000000000";
            let wrong = post_form(&app, path, Some(&live), &with(zeros)).await;
            assert_eq!(wrong.status(), 403, "{path} with a wrong CSRF token");
            let cross_site = app
                .client
                .post(app.url(path))
                .header(COOKIE, &live)
                .header("origin", "https://evil.example")
                .form(&live_form)
                .send()
                .await
                .unwrap();
            assert_eq!(cross_site.status(), 403, "{path} from another site");
        }
    }
    assert_eq!(snapshot().await, before, "nothing changed");
    assert_eq!(
        get_with(&app, "/admin", &live).await.status(),
        200,
        "the live session still works"
    );
}

http_contract_tests!(
    the_setup_page_makes_one_first_owner_and_only_with_the_code,
    login_rotates_the_session_and_logout_ends_it,
    end_all_sessions_signs_out_every_device,
    wrong_passwords_tell_nothing_and_the_sixth_try_waits,
    every_admin_endpoint_refuses_callers_without_a_live_session,
);

/// `server admin create-owner` on a fresh shop: the password from standard input, refused when
/// short; then that owner logs in to the real server.
#[tokio::test]
async fn the_create_owner_command_makes_an_owner_who_can_log_in() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let run = |password: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["admin", "create-owner", "--email", EMAIL])
            .env("HOLDFAST_DATA_DIR", dir.path())
            .env("HOLDFAST_SECRET", SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let short = run("short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let made = run(PASSWORD);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(String::from_utf8_lossy(&made.stdout).contains("created"));
    let twice = run(PASSWORD);
    assert!(!twice.status.success(), "one account per email");

    let (_server, base) = common::start_server_with(dir.path(), &[("HOLDFAST_SECRET", SECRET)]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http
        .post(format!("{base}/admin/login"))
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(session_cookie(&res).is_some());
}
