//! The brake and the control room over real HTTP, on SQLite and Postgres: a paused product (or
//! shop) refuses orders with "paused" and changes nothing; a paused line admits nobody, keeps its
//! order and lets no hold run out; resuming lets everyone on in order; the control room streams
//! the shop's figures as server-sent events.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::owner::{csrf, first_owner, get_with, post_form, shop, shop_at};
use common::{key, order_body, Kind, Sale, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

async fn brake(app: &TestApp, owner: &str, scope: &str, action: &str) {
    let token = csrf(app, owner).await;
    let res = post_form(
        app,
        "/admin/brake",
        Some(owner),
        &[
            ("csrf", token.as_str()),
            ("scope", scope),
            ("action", action),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{action} {scope}");
}

/// Places an order for `product`, retrying for up to 2 s while the answer is not yet `expect`
/// (servers read the brake at most every quarter second).
async fn order_until(
    app: &TestApp,
    n: usize,
    product: i64,
    expect: u16,
) -> (u16, Option<String>, Value) {
    let mut last = (0, None, Value::Null);
    for attempt in 0..20 {
        let res = app
            .place_order(&order_body(&key(n * 100 + attempt), product, 1))
            .await;
        let status = res.status().as_u16();
        let retry = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        last = (status, retry, res.json().await.unwrap());
        if status == expect {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

async fn the_brake_pauses_one_product_or_the_whole_shop_and_changes_nothing(kind: Kind) {
    let app = shop(kind).await;
    let owner = first_owner(&app).await;
    brake(&app, &owner, "2", "pause").await;
    let (status, retry, body) = order_until(&app, 1, 2, 503).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["kind"], "paused");
    assert_eq!(body["product_id"], 2);
    assert_eq!(retry.as_deref(), Some("10"));
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("Your cart is kept"));
    assert!(
        !body["message"].as_str().unwrap().contains("line"),
        "a cart shopper is in no line: {body}"
    );
    let before = (app.stock(2).await, app.orders().await);
    for i in 0..5 {
        let res = app.place_order(&order_body(&key(500 + i), 2, 1)).await;
        assert_eq!(res.status(), 503);
    }
    assert_eq!(
        (app.stock(2).await, app.orders().await),
        before,
        "nothing changed"
    );
    assert_eq!(
        order_until(&app, 2, 3, 200).await.0,
        200,
        "other products still sell"
    );

    brake(&app, &owner, "all", "pause").await;
    let (status, _, body) = order_until(&app, 3, 3, 503).await;
    assert_eq!(
        (status, body["product_id"].clone()),
        (503, Value::Null),
        "the whole shop: {body}"
    );
    brake(&app, &owner, "all", "resume").await;
    brake(&app, &owner, "2", "resume").await;
    assert_eq!(order_until(&app, 4, 2, 200).await.0, 200);

    let token = csrf(&app, &owner).await;
    for (scope, action) in [("999999", "pause"), ("two", "pause"), ("2", "brake")] {
        let res = post_form(
            &app,
            "/admin/brake",
            Some(&owner),
            &[
                ("csrf", token.as_str()),
                ("scope", scope),
                ("action", action),
            ],
        )
        .await;
        assert_eq!(res.status(), 422, "{scope} {action}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM brakes").await, 0);
}

async fn standing(app: &TestApp, ticket: &str) -> Value {
    let t: String = ticket
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    app.get(&format!("/api/queue/status?ticket={t}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn a_paused_line_admits_nobody_keeps_its_order_and_lets_no_hold_run_out(kind: Kind) {
    let app = shop_at(kind, app::rules::Clock::stopped_at(chrono::Utc::now())).await;
    let owner = first_owner(&app).await;
    app.set_stock(2, 1).await;
    app.set_sale(
        2,
        Sale {
            hold_seconds: 2,
            ..Sale::default()
        },
    )
    .await;
    // a control on another line, not paused, with the same 2-second hold
    app.set_stock(1, 1).await;
    app.set_sale(
        1,
        Sale {
            hold_seconds: 2,
            ..Sale::default()
        },
    )
    .await;
    let control = app.joined(1, 1, "+1 555 000 0009").await;
    assert_eq!(control["state"], "admitted");
    let a = app.joined(2, 1, "+1 555 000 0001").await;
    assert_eq!(a["state"], "admitted");
    brake(&app, &owner, "2", "pause").await;
    let b = app.joined(2, 1, "+1 555 000 0002").await;
    let c = app.joined(2, 1, "+1 555 000 0003").await;
    let (bt, ct) = (b["ticket"].as_str().unwrap(), c["ticket"].as_str().unwrap());
    // well past both 2-second holds on the shop's clock; once the control's has run out, an
    // usher's round (which expires every line's overdue holds at once) has run at that time;
    // and the pause reaches the line's status with the cached brakes
    app.clock.advance(Duration::from_secs(3));
    let control_ticket = control["ticket"].as_str().unwrap();
    let a_now = common::eventually(
        Duration::from_secs(10),
        "the unpaused control's hold runs out and A's status shows the pause",
        || async {
            let control_ran_out = standing(&app, control_ticket).await["state"] == "expired";
            let a_now = standing(&app, a["ticket"].as_str().unwrap()).await;
            (control_ran_out && a_now["paused"] == true).then_some(a_now)
        },
    )
    .await;
    assert_eq!(
        a_now["state"], "admitted",
        "a paused sale's hold does not run out: {a_now}"
    );
    let b_now = standing(&app, bt).await;
    assert_eq!(
        (b_now["state"].as_str(), b_now["position"].as_i64()),
        (Some("waiting"), Some(1)),
        "{b_now}"
    );
    assert_eq!(b_now["paused"], true);
    assert_eq!(standing(&app, ct).await["position"], 2);
    let page = app.page_text(&format!("/queue/{bt}")).await;
    assert!(
        page.contains("Your place in line is kept"),
        "the waiting page says so"
    );
    let hold = a["hold_token"].as_str().unwrap();
    let paused_checkout = app
        .place_order(&json!({
            "idempotency_key": key(1), "lines": [{"product_id": 2, "quantity": 1}],
            "customer": {"name": "Ada", "phone": "+1 555 000 0001", "address": "1 Harbour Row"},
            "hold_token": hold
        }))
        .await;
    assert_eq!(paused_checkout.status(), 503);
    let refused: serde_json::Value = paused_checkout.json().await.unwrap();
    assert_eq!(refused["held"], true);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("Your hold is kept"),
        "{refused}"
    );

    brake(&app, &owner, "2", "resume").await;
    let a_after = standing(&app, a["ticket"].as_str().unwrap()).await;
    assert_eq!(a_after["state"], "admitted");
    assert!(
        a_after["hold_seconds_left"].as_i64().unwrap() > 60,
        "time to check out after the pause: {a_after}"
    );
    // A gives up the unit: B, first in line, gets it — not C
    let left = app
        .client
        .post(app.url("/api/queue/leave"))
        .form(&[("ticket", a["ticket"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert!(left.status().is_redirection() || left.status() == 200);
    common::eventually(Duration::from_secs(3), "B admitted", || async {
        (standing(&app, bt).await["state"] == "admitted").then_some(())
    })
    .await;
    // C, behind B, is not served (with the one unit held by B, C is told it is sold out)
    assert_ne!(standing(&app, ct).await["state"], "admitted");
}

/// Reads server-sent events from the control room until `done` says a snapshot will do.
async fn watch_until(app: &TestApp, owner: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut res = get_with(app, "/admin/live/events", owner).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("a snapshot in time")
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                let snapshot: Value = serde_json::from_str(data).unwrap();
                if done(&snapshot) {
                    return snapshot;
                }
            }
        }
    }
}

async fn the_control_room_streams_orders_sales_and_answers(kind: Kind) {
    let app = shop(kind).await;
    let owner = first_owner(&app).await;
    let page = get_with(&app, "/admin/live", &owner).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("orders in the last minute") && page.contains("/admin-live.js"));
    // "updated at" in the shop's time zone (the demo shop's: Asia/Shanghai), to the second
    let from = page.find(r#"id="updated-at">"#).unwrap() + r#"id="updated-at">"#.len();
    let shown = &page[from..from + page[from..].find('<').unwrap()];
    let read = chrono::NaiveDateTime::parse_from_str(shown, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("{shown:?}: {e}"));
    let shanghai = chrono::Utc::now().naive_utc() + chrono::Duration::hours(8);
    assert!(
        (shanghai - read).num_seconds().abs() < 120,
        "{shown} is not Shanghai's time now ({shanghai})"
    );
    assert!(page.contains("Pause all checkout"));
    for i in 0..3 {
        assert_eq!(
            app.place_order(&order_body(&key(i), 2, 1)).await.status(),
            200
        );
    }
    app.set_stock(3, 0).await;
    assert_eq!(
        app.place_order(&order_body(&key(9), 3, 1)).await.status(),
        409
    );
    let answer = |s: &Value, k: &str| {
        s["answers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p[0] == k)
            .map(|p| p[1].as_i64().unwrap())
    };
    let s = watch_until(&app, &owner, |s| {
        s["orders_last_minute"].as_i64() >= Some(3) && answer(s, "sold out") >= Some(1)
    })
    .await;
    assert_eq!(answer(&s, "ordered"), Some(3));
    let at = chrono::DateTime::parse_from_rfc3339(s["at"].as_str().unwrap()).unwrap();
    assert_eq!(
        s["shown_at"],
        (at.naive_utc() + chrono::Duration::hours(8))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        "the stream's time in the shop's zone too"
    );
    assert!(s["p95_ms"].as_f64().is_some());
    assert_eq!(s["orders_per_minute"].as_array().unwrap().len(), 15);
    // the demo's hoodie drop is on: its figures add up
    let hoodie = s["sales"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == 1)
        .expect("the running sale");
    let total = hoodie["left"].as_i64().unwrap()
        + hoodie["sold"].as_i64().unwrap()
        + hoodie["held"].as_i64().unwrap();
    assert_eq!(total, app.accounted(1).await);
    assert!(!hoodie["burn"].as_array().unwrap().is_empty());
    assert_eq!(s["checkout_paused"], false);
    brake(&app, &owner, "all", "pause").await;
    let paused = watch_until(&app, &owner, |s| s["checkout_paused"] == true).await;
    assert!(paused["sales"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["paused"] == true));
}

/// The owner's side reads the shop's clock, not the system's: a shop whose clock says it is
/// 1 March 2031 shows that time in its control room, in its zone (Shanghai), and stamps the
/// owner's changes with it.
async fn the_owners_side_reads_the_shops_clock(kind: Kind) {
    let at = chrono::DateTime::parse_from_rfc3339("2031-03-01T04:05:06Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let app = shop_at(kind, app::rules::Clock::stopped_at(at)).await;
    let owner = first_owner(&app).await;
    let s = watch_until(&app, &owner, |s| {
        s["at"].as_str().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(s["at"], "2031-03-01T04:05:06.000Z");
    assert_eq!(s["shown_at"], "2031-03-01 12:05:06");
    brake(&app, &owner, "2", "pause").await;
    let (by,): (app::domain::At,) = app
        .instants("SELECT paused_at FROM brakes WHERE product_id = 2")
        .await;
    assert_eq!(
        by.to_string(),
        "2031-03-01T04:05:06.000Z",
        "the brake's time is the shop's"
    );
}

http_contract_tests!(
    the_brake_pauses_one_product_or_the_whole_shop_and_changes_nothing,
    a_paused_line_admits_nobody_keeps_its_order_and_lets_no_hold_run_out,
    the_control_room_streams_orders_sales_and_answers,
    the_owners_side_reads_the_shops_clock,
);
