//! The shop tried as an attacker would, over real HTTP against the real server: one test per
//! hole closed (script through the checkout draft, forged cookies, missing security headers, a
//! stolen place in line, order details read with a code alone, slow and idle clients, the
//! owner's stream outliving the session, raw JSON for a person's form post, what /healthz tells).
//! Each of these passed an attacker through on the main branch before this suite.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::common::Fetch;

use common::browser::{cart_with_caramels, cookie_named, cookies_set, plain_form};
use common::owner::{csrf, first_owner, get_with, post_form, shop};
use common::{key, order_body, spawn_app_with, spawn_on, Kind, TestApp};
use reqwest::header::{ACCEPT, CONTENT_SECURITY_POLICY, COOKIE};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SCRIPT: &str = "</textarea><script>alert(document.cookie)</script>";
/// The demo's plain product (no sale) and its flash-sale hoodie (waiting room, running).
const CARAMELS: i64 = 2;
const HOODIE: i64 = 1;

// 1. ---------------------------------------------------------------------------------------

async fn markup_typed_into_the_checkout_comes_back_as_text_never_as_script(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let cart = cart_with_caramels(&app).await;
    let before = app.snapshot().await;
    // a failed no-JS checkout keeps what was typed in the draft cookie...
    let res = plain_form(
        &app,
        "/api/checkout",
        &cart,
        &[
            ("idempotency_key", &key(1)),
            ("name", ""),
            ("phone", "+1 555 010 2030"),
            ("address", SCRIPT),
            ("note", SCRIPT),
        ],
    )
    .await;
    assert!(res.status().is_redirection(), "{}", res.status());
    let draft = cookie_named(&cookies_set(&res), "hf_checkout")
        .expect("a draft was kept")
        .clone();
    assert_eq!(app.snapshot().await, before, "nothing ordered");
    // ...and the checkout page shows it again, escaped
    let page = get_with(&app, "/checkout", &format!("{cart}; {draft}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("<script>alert"),
        "the typed script is live markup"
    );
    assert!(
        page.contains("&lt;/textarea&gt;&lt;script&gt;alert(document.cookie)"),
        "the typed text is shown back as text"
    );
}

async fn a_draft_or_orders_cookie_the_shop_did_not_sign_is_ignored(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let cart = cart_with_caramels(&app).await;
    // a draft planted by someone else (plain JSON, percent-encoded, as main wrote them)
    let planted = "hf_checkout=%7B%22name%22%3A%22Mallory%20Planted%22%2C%22phone%22%3A%22%22%2C%22address%22%3A%22%22%2C%22note%22%3A%22%22%7D";
    let page = get_with(&app, "/checkout", &format!("{cart}; {planted}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Checkout"), "the checkout page rendered");
    assert!(
        !page.contains("Mallory Planted"),
        "an unsigned draft is used"
    );

    // an order placed from this browser is readable through its signed cookie...
    let res = app
        .client
        .post(app.url("/api/checkout"))
        .header(COOKIE, &cart)
        .form(&[
            ("idempotency_key", key(2).as_str()),
            ("name", "Ada Lovelace"),
            ("phone", "+1 555 010 2030"),
            ("address", "1 Harbour Row, Porthaven"),
            ("note", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mine = cookie_named(&cookies_set(&res), "hf_orders")
        .expect("the orders cookie")
        .clone();
    let code: String = res.json().await.unwrap();
    let path = format!("/api/my_order?code={code}");
    assert_eq!(get_with(&app, &path, &mine).await.status(), 200);
    // ...but a cookie naming the code without the shop's signature reads nothing
    let forged = format!("hf_orders={}", code.replace('-', ""));
    let res = get_with(&app, &path, &forged).await;
    assert_eq!(res.status(), 404, "a code alone opened the order");
    let forged_page = get_with(&app, &format!("/order/{code}"), &forged)
        .await
        .text()
        .await
        .unwrap();
    assert!(!forged_page.contains("1 Harbour Row"), "the address leaked");
}

async fn the_owners_product_description_is_shown_as_text_in_its_form(kind: Kind) {
    let app = shop(kind).await;
    let owner = first_owner(&app).await;
    let token = csrf(&app, &owner).await;
    let res = post_form(
        &app,
        "/admin/products",
        Some(&owner),
        &[
            ("csrf", &token),
            ("name", "Glass Float"),
            ("price", "12.00"),
            ("stock", "3"),
            ("description", SCRIPT),
            ("max_per_order", ""),
            ("slug", ""),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let at = res.headers()["location"].to_str().unwrap().to_owned();
    let page = get_with(&app, &at, &owner).await.text().await.unwrap();
    assert!(!page.contains("<script>alert"), "live markup in the admin");
    assert!(page.contains("&lt;script&gt;alert"));
}

// 2. ---------------------------------------------------------------------------------------

async fn every_page_carries_a_nonce_policy_that_its_own_scripts_satisfy(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    for path in ["/", "/p/sea-salt-caramels", "/cart", "/checkout", "/status"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers().clone();
        let csp = h[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        assert!(!h.contains_key("strict-transport-security"), "plain HTTP");
        for part in [
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a script nonce")
            .to_owned();
        let body = res.text().await.unwrap();
        let scripts = body.matches("<script").count();
        assert!(scripts >= 1, "{path}: the hydration script");
        assert_eq!(
            body.matches(&format!("<script nonce=\"{nonce}\"")).count()
                + body
                    .matches(&format!("<script type=\"module\" nonce=\"{nonce}\""))
                    .count(),
            scripts,
            "{path}: every script carries this response's nonce"
        );
    }
    // two responses of a personal page, two nonces (the catalogue and product pages are kept
    // whole, nonce and all, until what they show changes: server/tests/suite/pages.rs)
    let a = app.get("/cart").await.headers()[CONTENT_SECURITY_POLICY].clone();
    let b = app.get("/cart").await.headers()[CONTENT_SECURITY_POLICY].clone();
    assert_ne!(a, b, "a nonce is used once");
    // answers that are not pages run nothing at all
    for path in ["/api/products", "/healthz", "/nowhere"] {
        let res = app.get(path).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(
            h[CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_browsers_are_told_to_keep_to_it() {
    let app = spawn_app_with(&[("HOLDFAST_SECURE_COOKIES", "true")]).await;
    for path in ["/", "/api/products", "/admin/login"] {
        let res = app.get(path).await;
        assert_eq!(
            res.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }
}

// 3. ---------------------------------------------------------------------------------------

async fn join(app: &TestApp, body: Value, cookie: Option<&str>) -> (u16, Value, Vec<String>) {
    let mut req = app.client.post(app.url("/api/queue/join")).json(&body);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let cookies = cookies_set(&res);
    (status, res.json().await.unwrap(), cookies)
}

async fn a_stranger_who_knows_a_phone_number_gets_nothing_of_that_place_in_line(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let phone = "+1 555 010 2030";
    let body = json!({"product_id": HOODIE, "quantity": 1, "phone": phone});
    let (status, first, cookies) = join(&app, body.clone(), None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["state"], "admitted", "stock is free: held at once");
    let ticket = first["ticket"].as_str().unwrap().to_owned();
    let tickets = app.tickets().await;

    // the stranger: same phone number, no ticket
    let (status, stolen, _) = join(&app, body.clone(), None).await;
    assert_eq!(status, 409, "{stolen}");
    assert_eq!(stolen["kind"], "already_in_line");
    let text = stolen.to_string();
    assert!(
        !text.contains(&ticket) && !text.contains("hold_token") && !text.contains("h1."),
        "the answer hands over the place: {text}"
    );
    assert_eq!(app.tickets().await, tickets, "no second place either");
    // nor through the form, which main answered with a redirect to the ticket's page
    let res = plain_form(
        &app,
        "/api/queue/join_form",
        "",
        &[
            ("product_id", &HOODIE.to_string()),
            ("quantity", "1"),
            ("phone", phone),
        ],
    )
    .await;
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(!location.contains(&ticket), "redirected to {location}");

    // the shopper herself gets her place back: with her ticket, or her ticket cookie
    let mut with_ticket = body.clone();
    with_ticket["ticket"] = json!(ticket);
    let (status, again, _) = join(&app, with_ticket, None).await;
    assert_eq!(
        (status, again["ticket"].as_str()),
        (200, Some(ticket.as_str()))
    );
    let cookie = cookie_named(&cookies, "hf_ticket").unwrap().clone();
    let (status, again, _) = join(&app, body, Some(&cookie)).await;
    assert_eq!(
        (status, again["ticket"].as_str()),
        (200, Some(ticket.as_str()))
    );
    assert!(again["hold_token"].is_string());

    // leaving, polling and buying need the ticket's (or hold's) secret
    let forged = ticket.split('.').next().unwrap().to_owned() + ".00000000000000000000000000000000";
    let res = app
        .client
        .post(app.url("/api/queue/leave"))
        .form(&[("ticket", forged.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app.get(&format!("/api/queue/status?ticket={forged}")).await;
    assert_eq!(res.status(), 404);
    let hold = again["hold_token"].as_str().unwrap();
    let forged_hold =
        hold.split('.').next().unwrap().to_owned() + ".ffffffffffffffffffffffffffffffff";
    let mut order = order_body(&key(3), HOODIE, 1);
    order["hold_token"] = json!(forged_hold);
    let before = app.snapshot().await;
    let res = app.place_order(&order).await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["reason"], "unknown");
    assert_eq!(app.snapshot().await, before);
    let status: Value = app
        .get(&format!("/api/queue/status?ticket={ticket}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["state"], "admitted", "her hold is untouched");
}

// 4. ---------------------------------------------------------------------------------------

/// A login from `ip` (the shop trusts the proxy's `X-Forwarded-For` in these tests).
async fn login_from(app: &TestApp, ip: &str, password: &str, cookie: &str) -> reqwest::Response {
    app.client
        .post(app.url("/admin/login"))
        .header("x-forwarded-for", ip)
        .header(COOKIE, cookie)
        .form(&[
            ("email", common::owner::EMAIL),
            ("password", password),
            ("next", "/admin"),
        ])
        .send()
        .await
        .unwrap()
}

async fn owner_shop_behind_a_proxy(kind: Kind) -> TestApp {
    spawn_on(
        kind,
        &[
            ("HOLDFAST_SECRET", common::owner::SECRET),
            ("HOLDFAST_TRUST_PROXY", "true"),
        ],
    )
    .await
}

async fn wrong_logins_sent_all_at_once_cannot_race_past_the_count(kind: Kind) {
    let app = owner_shop_behind_a_proxy(kind).await;
    let _ = first_owner(&app).await;
    let mut set = tokio::task::JoinSet::new();
    for n in 0..30 {
        let (client, url) = (app.client.clone(), app.url("/admin/login"));
        set.spawn(async move {
            client
                .post(url)
                .header("x-forwarded-for", format!("203.0.113.{n}"))
                .form(&[
                    ("email", common::owner::EMAIL),
                    ("password", "wrong guess number x"),
                    ("next", "/admin"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut answers = std::collections::BTreeMap::<u16, usize>::new();
    while let Some(status) = set.join_next().await {
        *answers.entry(status.unwrap()).or_default() += 1;
    }
    // 401: the password was checked (and was wrong); 429: refused before; 503: lane full
    let checked = answers.get(&401).copied().unwrap_or(0);
    assert!(checked <= 5, "{checked} passwords checked: {answers:?}");
    assert_eq!(
        answers
            .keys()
            .filter(|s| ![401, 429, 503].contains(*s))
            .count(),
        0,
        "{answers:?}"
    );
}

async fn a_strangers_flood_throttles_strangers_but_not_the_owners_own_device(kind: Kind) {
    let app = owner_shop_behind_a_proxy(kind).await;
    let _ = first_owner(&app).await;
    // the owner logs in from her phone once: it becomes a known device
    let res = login_from(&app, "198.51.100.7", common::owner::PASSWORD, "").await;
    assert_eq!(res.status(), 303);
    let device = cookie_named(&cookies_set(&res), "holdfast_device")
        .expect("a known-device cookie")
        .clone();
    // strangers from many addresses try wrong passwords until the account is throttled
    // (strangers' passwords are checked at most 4 a second, bursts of 8: beyond, 503)
    let mut answers = Vec::new();
    for n in 0..60 {
        let res = login_from(&app, &format!("203.0.113.{n}"), "not her password!", "").await;
        answers.push(res.status().as_u16());
        match res.status().as_u16() {
            429 => break,
            503 => tokio::time::sleep(Duration::from_millis(300)).await,
            _ => {}
        }
    }
    assert_eq!(answers.last(), Some(&429), "never throttled: {answers:?}");
    assert_eq!(
        answers.iter().filter(|s| **s == 401).count(),
        5,
        "five wrong passwords checked: {answers:?}"
    );
    // an unknown device, even with the right password, waits...
    let res = login_from(&app, "192.0.2.50", common::owner::PASSWORD, "").await;
    assert_eq!(res.status(), 429);
    // ...and so does one with a forged device cookie...
    let forged = format!("holdfast_device={}", "0".repeat(32) + ".1.abc");
    let res = login_from(&app, "192.0.2.51", common::owner::PASSWORD, &forged).await;
    assert_eq!(res.status(), 429);
    // ...but the owner's phone gets in (and her login forgets the strangers' failures)
    let res = login_from(&app, "198.51.100.7", common::owner::PASSWORD, &device).await;
    assert_eq!(res.status(), 303, "the owner was locked out of her shop");
}

// 5. ---------------------------------------------------------------------------------------

async fn order_lookups_are_limited_per_code_whoever_asks(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let res = app.place_order(&order_body(&key(4), CARAMELS, 1)).await;
    let code = res.json::<Value>().await.unwrap()["order_code"]
        .as_str()
        .unwrap()
        .to_owned();
    // someone with the code walks through phone numbers
    let mut statuses = Vec::new();
    for n in 0..25 {
        let path = format!("/api/order_status?code={code}&phone=%2B1555000{n:04}");
        statuses.push(app.get(&path).await.status().as_u16());
    }
    assert!(statuses[..20].iter().all(|s| *s == 404), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    // the page that looks it up is limited the same way, not only the API
    let page = app
        .page_text(&format!("/status?code={code}&phone=%2B15550102030"))
        .await;
    assert!(
        !page.contains("1 Harbour Row"),
        "the page bypassed the limit"
    );
    assert!(page.contains("Too many requests"), "and says why");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_looking_up_many_codes_is_slowed() {
    let app = spawn_app_with(&[("HOLDFAST_LOOKUPS_PER_MIN", "5")]).await;
    let mut statuses = Vec::new();
    for n in "CDEFGHJ".chars() {
        let path = format!("/api/order_status?code=AAAA-BBB{n}&phone=%2B15550102030");
        statuses.push(app.get(&path).await.status().as_u16());
    }
    assert_eq!(statuses, [404, 404, 404, 404, 404, 429, 429]);
}

// 6. ---------------------------------------------------------------------------------------

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or `limit` passes); what it sent.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

/// Asks for `/healthz` on an open connection and reads its answer, leaving the connection open:
/// once it is answered, the server has taken the connection (and counts it against the caps).
async fn answered_on(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("answered within 5 s")
            .unwrap();
        assert!(n > 0, "closed before answering: {text}");
        got.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_headers_a_byte_at_a_time_is_closed() {
    let app = spawn_app_with(&[("HOLDFAST_HEADER_TIMEOUT_SECS", "2")]).await;
    let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let drip = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if slow.write_all(b"X").await.is_err() {
                break;
            }
        }
    };
    // the drip stops by itself after 10 s; the server must close well before
    let mut reader = TcpStream::connect(addr(&app)).await.unwrap();
    let idle_closed = read_until_closed(&mut reader, Duration::from_secs(8));
    let (_, idle) = tokio::join!(drip, idle_closed);
    assert!(
        idle.is_some(),
        "an idle connection was kept past the timeout"
    );
    let mut rest = [0u8; 64];
    let closed = matches!(
        tokio::time::timeout(Duration::from_secs(1), slow.read(&mut rest)).await,
        Ok(Ok(0)) | Ok(Err(_))
    );
    assert!(closed, "the slow client is still connected");
    assert!(started.elapsed() < Duration::from_secs(11));
    // shoppers are served meanwhile
    assert_eq!(app.get("/healthz").await.status(), 200);
    // and a keep-alive connection left idle after its request is closed too
    let mut kept = TcpStream::connect(addr(&app)).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut kept, Duration::from_secs(8))
        .await
        .expect("the idle keep-alive connection was kept");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_finishes_arriving_gets_408_and_changes_nothing() {
    let app = spawn_app_with(&[("HOLDFAST_BODY_TIMEOUT_SECS", "1")]).await;
    let before = app.snapshot().await;
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    s.write_all(
        b"POST /api/place_order HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n\
          Content-Length: 500\r\n\r\n{\"idempotency_key\":",
    )
    .await
    .unwrap();
    let answer = read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("answered and closed within the deadline");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_refused_at_once_while_open_ones_are_served() {
    let app = spawn_app_with(&[("HOLDFAST_MAX_CONNECTIONS", "4")]).await;
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr(&app)).await.unwrap();
        assert!(answered_on(&mut s).await.starts_with("HTTP/1.1 200"));
        open.push(s);
    }
    let mut extra = TcpStream::connect(addr(&app)).await.unwrap();
    let refused = read_until_closed(&mut extra, Duration::from_secs(2))
        .await
        .expect("closed at once");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused:?}");
    assert!(refused.contains("Retry-After: 5"));
    // a shopper already connected is served as usual
    let first = &mut open[0];
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(first, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // and once it is gone, there is room again
    drop(open);
    common::eventually(
        Duration::from_secs(5),
        "room again once they close",
        || async { (app.get("/healthz").await.status() == 200).then_some(()) },
    )
    .await;
}

// 7. ---------------------------------------------------------------------------------------

/// Opens the control room's stream; a task reads it and reports when it ends.
async fn open_stream(app: &TestApp, owner: &str) -> tokio::sync::oneshot::Receiver<Instant> {
    let mut res = get_with(app, "/admin/live/events", owner).await;
    assert_eq!(res.status(), 200);
    let first = res.chunk().await.unwrap().unwrap_or_default();
    assert!(String::from_utf8_lossy(&first).contains("snapshot"));
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        // bounded: a stream still open after 20 s fails the test below
        let _ = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(Some(_)) = res.chunk().await {}
        })
        .await;
        let _ = tx.send(Instant::now());
    });
    rx
}

async fn the_control_rooms_stream_closes_when_its_session_ends(kind: Kind) {
    let app = shop(kind).await;
    let owner = first_owner(&app).await;
    let token = csrf(&app, &owner).await;

    // logout
    let ended = open_stream(&app, &owner).await;
    let res = post_form(&app, "/admin/logout", Some(&owner), &[("csrf", &token)]).await;
    assert_eq!(res.status(), 303);
    let at = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(15), ended)
        .await
        .unwrap()
        .unwrap();
    assert!(
        closed.duration_since(at) < Duration::from_secs(8),
        "closed late"
    );

    // "end all my sessions", from another device
    let res = common::owner::login(&app, common::owner::EMAIL, common::owner::PASSWORD).await;
    let phone = common::owner::session_cookie(&res).unwrap();
    let res = common::owner::login(&app, common::owner::EMAIL, common::owner::PASSWORD).await;
    let laptop = common::owner::session_cookie(&res).unwrap();
    let ended = open_stream(&app, &phone).await;
    let token = csrf(&app, &laptop).await;
    let res = post_form(
        &app,
        "/admin/sessions/end-all",
        Some(&laptop),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(res.status(), 303);
    tokio::time::timeout(Duration::from_secs(8), ended)
        .await
        .expect("the stream outlived 'end all my sessions'")
        .unwrap();

    // the session's absolute end
    let res = common::owner::login(&app, common::owner::EMAIL, common::owner::PASSWORD).await;
    let tablet = common::owner::session_cookie(&res).unwrap();
    let ended = open_stream(&app, &tablet).await;
    app.exec("UPDATE owner_sessions SET expires_at = '2000-01-01T00:00:00.000Z'")
        .await;
    tokio::time::timeout(Duration::from_secs(8), ended)
        .await
        .expect("the stream outlived its session's end")
        .unwrap();
}

// 8. ---------------------------------------------------------------------------------------

/// Whether the order with this code has this status (read from the database: polling the
/// shop's lookup would run into its per-code limit).
async fn order_is(app: &TestApp, code: &str, status: &str) -> bool {
    app.count(&format!(
        "SELECT COUNT(*) FROM orders WHERE code = '{code}' AND status = '{status}'"
    ))
    .await
        == 1
}

async fn a_bots_unpaid_sale_orders_give_their_stock_back_after_the_sales_window(kind: Kind) {
    let app = spawn_on(
        kind,
        &[
            ("HOLDFAST_SECRET", common::owner::SECRET),
            ("HOLDFAST_EXPIRY_CHECK_SECS", "1"),
            ("HOLDFAST_RATE_LIMIT_PER_SEC", "0"),
        ],
    )
    .await;
    let owner = first_owner(&app).await;
    let token = csrf(&app, &owner).await;
    // the owner puts the caramels on sale (no waiting room), unpaid sale orders cancelled after
    // 10 minutes; the shop-wide deadline stays a day
    // typed on the shop's clock: a new shop's is China's (UTC+8, no summer time)
    let minute = |secs: i64| {
        (chrono::Utc::now() + chrono::Duration::seconds(secs) + chrono::Duration::hours(8))
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let (start, end) = (minute(-3600), minute(3600));
    let sale_with_window = |pay_minutes: &'static str| {
        let (app, owner, token, start, end) = (&app, &owner, &token, &start, &end);
        async move {
            post_form(
                app,
                &format!("/admin/products/{CARAMELS}/sale"),
                Some(owner),
                &[
                    ("csrf", token.as_str()),
                    ("starts_at", start.as_str()),
                    ("ends_at", end.as_str()),
                    ("sale_price", "9.99"),
                    ("hold_minutes", "5"),
                    ("pay_minutes", pay_minutes),
                ],
            )
            .await
        }
    };
    let window = || app.count("SELECT pay_seconds FROM sales WHERE product_id = 2");
    let res = sale_with_window("10").await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(window().await, 600);
    // a window outside 1..=1440 minutes is refused and changes nothing
    assert_eq!(sale_with_window("0").await.status(), 422);
    assert_eq!(sale_with_window("1441").await.status(), 422);
    assert_eq!(window().await, 600);

    let stock = app.stock(CARAMELS).await;
    let plain_stock = app.stock(3).await;
    let place = |body: Value| {
        let app = &app;
        async move {
            let res = app.place_order(&body).await;
            assert_eq!(res.status(), 200);
            let v: Value = res.json().await.unwrap();
            v["order_code"].as_str().unwrap().to_owned()
        }
    };
    // a bot's sale order, placed eleven minutes ago and never paid
    let bot = place(order_body(&key(1), CARAMELS, 3)).await;
    // a shopper's sale order from a minute ago, and an order of a product not on sale from
    // eleven minutes ago (the shop-wide day applies to it)
    let fresh = place(order_body(&key(2), CARAMELS, 1)).await;
    let plain = place(order_body(&key(3), 3, 1)).await;
    let ago = |secs: i64| common::stamp(chrono::Utc::now() - chrono::Duration::seconds(secs));
    app.exec(&format!(
        "UPDATE orders SET created_at = '{}' WHERE code IN ('{bot}', '{plain}')",
        ago(660)
    ))
    .await;
    app.exec(&format!(
        "UPDATE orders SET created_at = '{}' WHERE code = '{fresh}'",
        ago(60)
    ))
    .await;

    // the server's own expiry task (every second here) cancels the bot's order by itself
    common::eventually(
        Duration::from_secs(10),
        "the bot's order cancelled",
        || async { order_is(&app, &bot, "cancelled").await.then_some(()) },
    )
    .await;
    assert_eq!(app.stock(CARAMELS).await, stock - 1, "the bot's 3 are back");
    // two more passes change nothing: cancelled exactly once
    let seen = app.expiry_passes.count();
    common::eventually(
        Duration::from_secs(30),
        "two more expiry passes",
        || async { (app.expiry_passes.count() >= seen + 2).then_some(()) },
    )
    .await;
    assert_eq!(app.stock(CARAMELS).await, stock - 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM order_events WHERE to_status = 'cancelled'")
            .await,
        1
    );
    assert!(order_is(&app, &fresh, "awaiting_payment").await);
    assert!(order_is(&app, &plain, "awaiting_payment").await);
    assert_eq!(app.stock(3).await, plain_stock - 1);
}

// 9. ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_post_is_a_page_a_person_can_read() {
    let app = spawn_app_with(&[("HOLDFAST_RATE_LIMIT_PER_SEC", "1")]).await;
    let cart = cart_with_caramels(&app).await;
    let form = [
        ("idempotency_key", "not-a-valid-key!"),
        ("name", "Ada"),
        ("phone", "+1 555 010 2030"),
        ("address", "1 Harbour Row"),
        ("note", ""),
    ];
    let mut last = None;
    for _ in 0..15 {
        let res = plain_form(&app, "/api/checkout", &cart, &form).await;
        if res.status() == 429 {
            last = Some(res);
            break;
        }
    }
    let res = last.expect("the burst of 10 ran out");
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = res.text().await.unwrap();
    assert!(page.contains("Too many requests"), "{page}");
    assert!(page.contains("href=\"/\""), "a way back: {page}");
    assert!(!page.contains("\"kind\""), "not JSON: {page}");
    // in the shopper's language: one who chose Chinese reads the same refusal in Chinese
    let chinese_cookie = format!("{cart}; hf_lang=zh-CN");
    let res = plain_form(&app, "/api/checkout", &chinese_cookie, &form).await;
    assert_eq!(res.status(), 429);
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"<html lang="zh-CN""#), "{page}");
    assert!(
        page.contains("没有提交成功") && page.contains("秒后可以再试"),
        "{page}"
    );
    // an API client still gets JSON
    let mut json_answer = None;
    for _ in 0..3 {
        let res = app.place_order(&order_body(&key(9), CARAMELS, 1)).await;
        if res.status() == 429 {
            json_answer = Some(res.json::<Value>().await.unwrap());
        }
    }
    assert_eq!(json_answer.expect("limited")["kind"], "rate_limited");
}

async fn a_form_posted_from_another_site_is_refused_and_changes_nothing(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let cart = cart_with_caramels(&app).await;
    let before = app.snapshot().await;
    let res = app
        .client
        .post(app.url("/api/checkout"))
        .header(ACCEPT, "text/html")
        .header(COOKIE, &cart)
        .header("origin", "https://evil.example")
        .form(&[
            ("idempotency_key", key(5).as_str()),
            ("name", "Ada Lovelace"),
            ("phone", "+1 555 010 2030"),
            ("address", SCRIPT),
            ("note", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(cookies_set(&res).is_empty(), "no cookie planted");
    assert!(res.text().await.unwrap().contains("another site"));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_address_is_kept_in_a_private_file_not_the_log() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (mut server, _base) = common::start_server_with(dir.path(), &[]);
    let file = dir.path().join("setup-address");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("/admin/setup?code="), "{text}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
    let _ = server.kill();
}

// 10. The second round: a slow body, a phishing link, a spreadsheet, a picture, odd targets,
// the shop's files. ----------------------------------------------------------------------------

/// Opens a connection that sends a form's head and part of its body, then nothing more.
async fn slow_form(app: &TestApp, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr(app)).await.unwrap();
    s.write_all(
        format!(
            "POST {path} HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 1000\r\n\r\nemail=a"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_to_the_ways_in_is_cut_off_and_cannot_shut_the_shop() {
    let app = spawn_app_with(&[
        ("HOLDFAST_BODY_TIMEOUT_SECS", "1"),
        ("HOLDFAST_MAX_CONNECTIONS", "20"),
    ])
    .await;
    let before = app.snapshot().await;
    // a body that stops arriving, on each way in (no session needed)
    for path in ["/admin/login", "/admin/setup"] {
        let mut s = slow_form(&app, path).await;
        let answer = read_until_closed(&mut s, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{path}: still open after 5 s"));
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("传送时间太长"), "{path}: {answer}");
    }
    // a body dripped a byte at a time earns nothing to speak of: cut off near the timeout
    let (mut read, mut write) = slow_form(&app, "/admin/login").await.into_split();
    let drip = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            if write.write_all(b"x").await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    // (the server may close while a byte is on its way: a reset, which ends the read too)
    let ended = tokio::time::timeout(Duration::from_secs(4), read.read_to_end(&mut answer)).await;
    drip.abort();
    assert!(
        ended.is_ok(),
        "the drip's connection was still open after 4 s"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // every slot held by slow forms: shoppers are turned away only until the bodies' time is up
    let mut slow = Vec::new();
    for _ in 0..20 {
        slow.push(slow_form(&app, "/admin/login").await);
    }
    common::eventually(
        Duration::from_secs(6),
        "served while twenty slow forms hold every slot",
        || async {
            matches!(
                app.client.get(app.url("/healthz")).send().await,
                Ok(res) if res.status() == 200
            )
            .then_some(())
        },
    )
    .await;
    drop(slow);
    assert_eq!(app.snapshot().await, before, "nothing changed");
}

/// A connection to the shop from `local` (any 127.x address is this machine).
async fn connect_from(app: &TestApp, local: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    socket.connect(addr(app).parse().unwrap()).await.unwrap()
}

async fn healthz_over(mut s: TcpStream) -> String {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_holds_no_more_than_its_share_of_the_connections() {
    let app = spawn_app_with(&[
        ("HOLDFAST_MAX_CONNECTIONS", "20"),
        ("HOLDFAST_MAX_CONNECTIONS_PER_CLIENT", "5"),
    ])
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut s = connect_from(&app, "127.0.0.1").await;
        assert!(answered_on(&mut s).await.starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    // a sixth from the same address is told at once, in both languages
    let mut sixth = connect_from(&app, "127.0.0.1").await;
    let refused = read_until_closed(&mut sixth, Duration::from_secs(2))
        .await
        .expect("closed at once");
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(refused.contains("Retry-After: 5"), "{refused}");
    assert!(
        refused.contains("Too many connections from your network"),
        "{refused}"
    );
    assert!(refused.contains("连接太多"), "{refused}");
    // another client is served meanwhile: the shop has room
    let other = healthz_over(connect_from(&app, "127.0.0.2").await).await;
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    // and once the five are gone, the first client is served again
    drop(held);
    common::eventually(
        Duration::from_secs(3),
        "the client's slots given back",
        || async {
            healthz_over(connect_from(&app, "127.0.0.1").await)
                .await
                .starts_with("HTTP/1.1 200")
                .then_some(())
        },
    )
    .await;
}

/// URL-safe base64 with padding, as server_fn writes `__err`.
fn base64_url(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn a_link_cannot_put_words_in_the_shops_error_box(kind: Kind) {
    let app = spawn_on(kind, &[("HOLDFAST_SECRET", common::owner::SECRET)]).await;
    let cart = cart_with_caramels(&app).await;
    let lure = "Order on hold: pay ¥500 to WeChat scammer-wx-888";
    let forged = [
        json!({"kind": "invalid_input", "message": lure, "fields": []}),
        json!({"kind": "sold_out", "message": lure, "product_id": 2, "product_name": lure, "available": 0}),
        json!({"kind": "invalid_input", "message": "x", "fields": [{"field": "phone", "message": lure}]}),
    ];
    for error in forged {
        let err = base64_url(error.to_string().as_bytes());
        for page in ["/p/sea-salt-caramels", "/cart", "/checkout"] {
            let path = format!("{page}?__path=%2Fapi%2Fadd_to_cart&__err={err}");
            let res = get_with(&app, &path, &cart).await;
            assert!(res.status().is_success(), "{path}: {}", res.status());
            let body = res.text().await.unwrap();
            assert!(
                !body.contains("scammer-wx-888"),
                "{page} shows the link's words"
            );
        }
    }
    // the shop's own error, from a form posted without JavaScript, is still shown
    let product = app.url("/p/sea-salt-caramels");
    let back = sent_back_with_an_error(&app).await;
    assert!(back.starts_with(&product), "{back}");
    let said = get_with(&app, back.trim_start_matches(&app.base), "")
        .await
        .text()
        .await
        .unwrap();
    let as_json: Value = app
        .client
        .post(app.url("/api/add_to_cart"))
        .form(&[("product_id", "2"), ("quantity", "0")])
        .fetch_json()
        .await;
    let message = as_json["message"].as_str().unwrap();
    assert!(said.contains("\"notice notice-error\""), "no error box");
    assert!(said.contains(message), "{message:?} not on the page");
    // and what the shop sealed cannot be changed into something else
    let name = format!("{}=", app::api::error::URL_ERROR_PARAM);
    let (head, sealed) = back.split_once(&name).expect("the error, sealed");
    let first = sealed.chars().next().unwrap();
    let other = if first == '0' { '1' } else { '0' };
    let tampered = format!(
        "{}{name}{other}{}",
        head.trim_start_matches(&app.base),
        &sealed[1..]
    );
    let page = get_with(&app, &tampered, "").await.text().await.unwrap();
    assert!(
        !page.contains("\"notice notice-error\""),
        "a tampered error was shown"
    );
    // nor is the shop's own error shown once it is over ten minutes old (a link passed around)
    let signer = app::tokens::Signer::new(common::owner::SECRET.as_bytes()).unwrap();
    let sealed = url::form_urlencoded::parse(sealed.as_bytes())
        .next()
        .map(|(value, _)| value.into_owned())
        .unwrap();
    let seal = app::api::error::URL_ERROR_SEAL;
    let (_, encoded) = signer.open(seal, &sealed).unwrap().split_once('.').unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (age, shown) in [(60, true), (601, false)] {
        let payload = app::api::error::url_error_payload(now - age, encoded);
        let link: String = url::form_urlencoded::Serializer::new(format!(
            "{}?",
            head.trim_start_matches(&app.base)
                .trim_end_matches(['?', '&'])
        ))
        .append_pair(
            app::api::error::URL_ERROR_PARAM,
            &signer.seal(seal, &payload),
        )
        .finish();
        let page = get_with(&app, &link, "").await.text().await.unwrap();
        assert_eq!(
            page.contains("\"notice notice-error\""),
            shown,
            "an error sealed {age} s ago"
        );
    }
}

/// Where a plain form (no JavaScript) that asks the product page for 0 caramels is sent back:
/// its page's address, with the shop's error sealed in it.
async fn sent_back_with_an_error(app: &TestApp) -> String {
    let res = app
        .client
        .post(app.url("/api/add_to_cart"))
        .header(ACCEPT, "text/html")
        .header("referer", app.url("/p/sea-salt-caramels"))
        .form(&[("product_id", "2"), ("quantity", "0")])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// The shop's own error, sent back in a page's address, is shown for ten minutes by the shop's
/// clock (the one the server dates it with and checks it by), then no more: a link passed around
/// does not keep speaking for the shop.
#[tokio::test]
async fn a_sealed_error_is_shown_for_ten_minutes_by_the_shops_clock() {
    let clock = app::rules::Clock::stopped_at(chrono::Utc::now() - chrono::Duration::days(3));
    let app = common::owner::shop_at(Kind::Sqlite, clock.clone()).await;
    let back = sent_back_with_an_error(&app).await;
    let back = back.trim_start_matches(&app.base).to_owned();
    let shown = || async {
        get_with(&app, &back, "")
            .await
            .text()
            .await
            .unwrap()
            .contains("\"notice notice-error\"")
    };
    // three days behind the system's clock: a check by the system's clock would show nothing
    assert!(shown().await, "shown when sent back");
    clock.advance(Duration::from_secs(600));
    assert!(shown().await, "shown for ten minutes");
    clock.advance(Duration::from_secs(2));
    assert!(!shown().await, "not shown after ten minutes");
}

async fn the_order_export_starts_no_formula_whatever_separator_a_spreadsheet_uses(kind: Kind) {
    let app = shop(kind).await;
    let owner = first_owner(&app).await;
    let hostile = json!({
        "idempotency_key": key(1),
        "lines": [{"product_id": CARAMELS, "quantity": 1}],
        "customer": {
            "name": "Mallory;=1+1;",
            "phone": "+1 555 010 2030",
            "address": "1 Harbour Row\t=HYPERLINK(\"http://evil.example\")",
            "note": "x; @SUM(1+1)*cmd|' /C calc'!A0"
        }
    });
    assert_eq!(app.place_order(&hostile).await.status(), 200);
    let export = get_with(&app, "/admin/orders.csv", &owner).await;
    assert_eq!(export.status(), 200);
    let bytes = export.bytes().await.unwrap();
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    for separator in [b',', b';', b'\t'] {
        for quotes in [true, false] {
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(separator)
                .quoting(quotes)
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            let mut cells = 0;
            for record in reader.records() {
                for cell in record.unwrap().iter() {
                    cells += 1;
                    let start = cell.trim_start_matches([' ', '"']);
                    assert!(
                        !start.starts_with(['=', '+', '-', '@', '\t', '\r']),
                        "separator {:?}, quotes {quotes}: a cell starts {start:?}",
                        separator as char
                    );
                }
            }
            assert!(cells >= 2, "nothing read");
        }
    }
    // read as written, the values come back whole
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[4], "Mallory;'=1+1;");
}

/// A 16-bit RGBA PNG of `side` × `side` black pixels, its pixels compressed by hand (fixed
/// Huffman codes: one zero, then runs of 258 from one back): 10,000 × 10,000 is 800 MB of
/// pixels in a 5 MB file.
fn png_of_zeros(side: u32) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code: its most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            let reversed = (0..len).fold(0, |r, i| r | ((code >> i) & 1) << (len - 1 - i));
            self.put(u64::from(reversed), len);
        }
    }
    let total = u64::from(side) * (1 + u64::from(side) * 8);
    let mut bits = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // the last block
    bits.put(1, 2); // fixed Huffman codes
    bits.code(0x30, 8); // a zero
    let rest = total - 1;
    for _ in 0..rest / 258 {
        bits.code(0xC5, 8); // length 258
        bits.code(0, 5); // distance 1
    }
    for _ in 0..rest % 258 {
        bits.code(0x30, 8);
    }
    bits.code(0, 7); // end of block
    if bits.n > 0 {
        bits.out.push(bits.acc as u8);
    }
    let adler = ((total % 65521) << 16) | 1;
    bits.out.extend_from_slice(&(adler as u32).to_be_bytes());
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&crc.sum().to_be_bytes());
        c
    };
    let mut header = side.to_be_bytes().to_vec();
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&[16, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &header));
    png.extend(chunk(b"IDAT", &bits.out));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// The peak memory of process `pid` so far (VmHWM), in MiB.
fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024
}

/// The first owner of a shop running as its own process (its setup address from the data
/// dir): a client, her session cookie and its CSRF token.
async fn owner_of_process(
    base: &str,
    data_dir: &std::path::Path,
) -> (reqwest::Client, String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let setup = std::fs::read_to_string(data_dir.join("setup-address")).unwrap();
    let code = setup.trim().rsplit_once("code=").unwrap().1;
    let (cookie, csrf) = common::owner::first_owner_of(&client, base, code).await;
    (client, cookie, csrf)
}

async fn upload_picture(
    (client, cookie, csrf): &(reqwest::Client, String, String),
    base: &str,
    file: Vec<u8>,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("alt", "")
        .part(
            "picture",
            reqwest::multipart::Part::bytes(file).file_name("p.png"),
        );
    client
        .post(format!("{base}/admin/products/{CARAMELS}/pictures"))
        .header(COOKIE, cookie)
        .multipart(form)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap()
}

#[test]
fn the_hand_made_png_is_a_real_one() {
    let small = png_of_zeros(64);
    let decoded = image::load_from_memory(&small).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 64));
    assert!(decoded.to_rgba16().pixels().all(|p| p.0 == [0; 4]));
    let big = png_of_zeros(10_000);
    assert!(big.len() < 6_000_000, "{}", big.len());
    let reader = image::ImageReader::new(std::io::Cursor::new(&big))
        .with_guessed_format()
        .unwrap();
    assert_eq!(reader.into_dimensions().unwrap(), (10_000, 10_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_that_decodes_to_gigabytes_is_refused_before_it_is_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = common::start_server_with(dir.path(), &[]);
    let owner = owner_of_process(&base, dir.path()).await;
    // 6,000 × 6,000 × 8 bytes = 288 MB of pixels in a 1.8 MB file (under axum's 2 MB
    // multipart default, as the report's 777 kB one was)
    let bomb = png_of_zeros(6_000);
    assert!(bomb.len() < 2_000_000, "{}", bomb.len());
    let before = peak_mib(server.id());
    // three at once, as a careless or stolen session might
    let answers =
        futures::future::join_all((0..3).map(|_| upload_picture(&owner, &base, bomb.clone())))
            .await;
    for res in answers {
        let status = res.status();
        let page = res.text().await.unwrap();
        assert_eq!(status, 413, "{page}");
        assert!(page.contains("6000 × 6000"), "{page}");
    }
    // and the report's own: 10,000 × 10,000, 800 MB of pixels
    let res = upload_picture(&owner, &base, png_of_zeros(10_000)).await;
    assert_eq!(res.status(), 413);
    assert!(res.text().await.unwrap().contains("10000 × 10000"));
    let after = peak_mib(server.id());
    eprintln!("the server's peak memory: {before} MiB before the uploads, {after} MiB after");
    assert!(
        after < before + 100,
        "the server's peak memory went from {before} to {after} MiB"
    );
    // a picture of a sensible size is still taken
    let img = image::ImageBuffer::from_fn(800, 600, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut ok = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut ok), image::ImageFormat::Png)
        .unwrap();
    assert_eq!(upload_picture(&owner, &base, ok).await.status(), 303);
}

/// Starts the server as its own process, keeping every line it writes on both outputs.
fn server_with_both_outputs(
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (common::Server, String, common::Log) {
    use std::io::{BufRead, BufReader};
    let mut child = common::Server(
        std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .env("HOLDFAST_ADDR", "127.0.0.1:0")
            .env("HOLDFAST_DATA_DIR", data_dir)
            .env("HOLDFAST_METRICS_ADDR", "off")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let log = common::Log::default();
    for output in [
        Box::new(child.0.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.0.stderr.take().unwrap()),
    ] {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines().map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        });
    }
    let base = common::line_from(&log, |l| {
        l.find("serving on ")
            .map(|at| l[at + 11..].trim().to_owned())
    });
    (child, base, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_name_no_page_are_answered_plainly_and_cost_the_log_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base, log) = server_with_both_outputs(
        dir.path(),
        &[("RUST_BACKTRACE", "full"), ("RUST_LOG", "info")],
    );
    let at = base.trim_start_matches("http://").to_owned();
    let lines_before = log.lock().unwrap().len();
    for (request, status) in [
        (
            "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
            "HTTP/1.1 405",
        ),
        ("OPTIONS * HTTP/1.1\r\nHost: shop\r\n\r\n", "HTTP/1.1 400"),
        ("TRACE / HTTP/1.1\r\nHost: shop\r\n\r\n", "HTTP/1.1 405"),
    ] {
        let mut s = TcpStream::connect(&at).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut s, Duration::from_secs(5))
            .await
            .unwrap_or_default();
        assert!(answer.starts_with(status), "{request:?}: {answer:?}");
    }
    let res = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(res.status(), 200, "the shop serves on");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = log.lock().unwrap();
    let new: Vec<&String> = log[lines_before..].iter().collect();
    assert!(
        !new.iter()
            .any(|l| l.contains("panicked") || l.contains("backtrace")),
        "{new:#?}"
    );
    assert!(
        new.len() <= 3,
        "the odd requests wrote {} lines: {new:#?}",
        new.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shops_files_are_its_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (server, base) = common::start_server_with(&data, &[]);
    let owner = owner_of_process(&base, &data).await;
    let img = image::ImageBuffer::from_fn(400, 300, |x, _| image::Rgb([(x % 256) as u8, 20, 90]));
    let mut picture = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut picture),
            image::ImageFormat::Png,
        )
        .unwrap();
    assert_eq!(upload_picture(&owner, &base, picture).await.status(), 303);
    let backup = root.path().join("backup.db");
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["backup", backup.to_str().unwrap()])
        .env("HOLDFAST_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut checked = vec![data.clone(), data.join("media"), backup.clone()];
    for folder in [&data, &data.join("media")] {
        for entry in std::fs::read_dir(folder).unwrap() {
            checked.push(entry.unwrap().path());
        }
    }
    for name in [
        "holdfast.db",
        "holdfast.db-wal",
        "holdfast.db-shm",
        "secret.key",
    ] {
        assert!(checked.contains(&data.join(name)), "{name} missing");
    }
    assert!(checked.len() > 9, "{checked:?}");
    for path in &checked {
        assert_eq!(
            mode(path) & 0o077,
            0,
            "{} is {:o}",
            path.display(),
            mode(path)
        );
    }
    assert_eq!(mode(&data), 0o700);
    // an older install's files are made the shop's at its next start
    drop(server);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        data.join("holdfast.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (_server, _) = common::start_server_with(&data, &[]);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("holdfast.db")), 0o600);
}

// 11. --------------------------------------------------------------------------------------

http_contract_tests!(
    markup_typed_into_the_checkout_comes_back_as_text_never_as_script,
    a_draft_or_orders_cookie_the_shop_did_not_sign_is_ignored,
    the_owners_product_description_is_shown_as_text_in_its_form,
    every_page_carries_a_nonce_policy_that_its_own_scripts_satisfy,
    a_stranger_who_knows_a_phone_number_gets_nothing_of_that_place_in_line,
    wrong_logins_sent_all_at_once_cannot_race_past_the_count,
    a_strangers_flood_throttles_strangers_but_not_the_owners_own_device,
    order_lookups_are_limited_per_code_whoever_asks,
    the_control_rooms_stream_closes_when_its_session_ends,
    a_bots_unpaid_sale_orders_give_their_stock_back_after_the_sales_window,
    a_form_posted_from_another_site_is_refused_and_changes_nothing,
    a_link_cannot_put_words_in_the_shops_error_box,
    the_order_export_starts_no_formula_whatever_separator_a_spreadsheet_uses,
);
