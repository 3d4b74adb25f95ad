//! The owner's orders over real HTTP, on SQLite and Postgres: finding them, moving them through
//! paid → shipped → completed, cancelling with a restock exactly once, the CSV export, and the
//! expiry of unpaid orders (exactly once, even with two expiry passes racing).
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::owner::{csrf, first_owner, get_with, post_form, shop};
use common::{key, order_body, Kind, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

async fn place(app: &TestApp, body: &Value) -> String {
    let res = app.place_order(body).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["order_code"].as_str().unwrap().to_owned()
}

async fn step(app: &TestApp, cookie: &str, code: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let token = csrf(app, cookie).await;
    let mut fields = vec![("csrf", token.as_str())];
    fields.extend_from_slice(form);
    post_form(
        app,
        &format!("/admin/orders/{code}/status"),
        Some(cookie),
        &fields,
    )
    .await
}

async fn shopper_sees(app: &TestApp, code: &str) -> String {
    let v: Value = app
        .get(&format!(
            "/api/order_status?code={code}&phone=%2B1%20555%20010%202030"
        ))
        .await
        .json()
        .await
        .unwrap();
    v["status"].as_str().unwrap().to_owned()
}

async fn an_order_goes_from_awaiting_payment_to_completed_and_the_shopper_sees_each_step(
    kind: Kind,
) {
    let app = shop(kind).await;
    let owner = first_owner(&app).await;
    let code = place(&app, &order_body(&key(1), 2, 1)).await;
    let other = place(
        &app,
        &json!({
            "idempotency_key": key(2),
            "lines": [{"product_id": 3, "quantity": 1}],
            "customer": {"name": "Grace", "phone": "+44 20 7946 0958", "address": "2 Quay St", "note": ""}
        }),
    )
    .await;

    let list = |q: &'static str| {
        let (app, owner) = (&app, &owner);
        async move {
            get_with(app, &format!("/admin/orders{q}"), owner)
                .await
                .text()
                .await
                .unwrap()
        }
    };
    let all = list("").await;
    assert!(all.contains(&code) && all.contains(&other));
    let by_phone = list("?q=7946").await;
    assert!(
        by_phone.contains(&other) && !by_phone.contains(&code),
        "search by part of a phone"
    );
    let by_code = get_with(
        &app,
        &format!("/admin/orders?q={}", code.to_lowercase()),
        &owner,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        by_code.contains(&code) && !by_code.contains(&other),
        "search by code"
    );
    let by_product = list("?product=3").await;
    assert!(by_product.contains(&other) && !by_product.contains(&code));
    assert!(!list("?status=paid").await.contains(&code));
    // dates are the shop's days: a new shop's clock is China's (UTC+8)
    let today = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string();
    let dated = get_with(
        &app,
        &format!("/admin/orders?from={today}&to={today}"),
        &owner,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(dated.contains(&code));
    assert!(!list("?from=2020-01-01&to=2020-01-02").await.contains(&code));

    let paid = step(
        &app,
        &owner,
        &code,
        &[("from", "awaiting_payment"), ("to", "paid")],
    )
    .await;
    assert_eq!(paid.status(), 303);
    assert_eq!(shopper_sees(&app, &code).await, "paid");
    assert!(list("?status=paid").await.contains(&code));

    let untracked = step(
        &app,
        &owner,
        &code,
        &[("from", "paid"), ("to", "shipped"), ("tracking", " ")],
    )
    .await;
    assert_eq!(untracked.status(), 422, "shipping needs a tracking number");
    assert_eq!(shopper_sees(&app, &code).await, "paid");
    let shipped = step(
        &app,
        &owner,
        &code,
        &[
            ("from", "paid"),
            ("to", "shipped"),
            ("tracking", "RR123456789GB"),
        ],
    )
    .await;
    assert_eq!(shipped.status(), 303);
    assert_eq!(shopper_sees(&app, &code).await, "shipped");
    let no_cancel = step(
        &app,
        &owner,
        &code,
        &[("from", "shipped"), ("to", "cancelled"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(
        no_cancel.status(),
        422,
        "a shipped order cannot be cancelled"
    );
    let done = step(
        &app,
        &owner,
        &code,
        &[("from", "shipped"), ("to", "completed")],
    )
    .await;
    assert_eq!(done.status(), 303);
    let backwards = step(
        &app,
        &owner,
        &code,
        &[("from", "completed"), ("to", "paid")],
    )
    .await;
    assert_eq!(backwards.status(), 422);
    let stale = step(
        &app,
        &owner,
        &code,
        &[("from", "paid"), ("to", "shipped"), ("tracking", "X1")],
    )
    .await;
    assert_eq!(
        stale.status(),
        409,
        "a change based on an old view does nothing"
    );
    assert_eq!(shopper_sees(&app, &code).await, "completed");

    let page = get_with(&app, &format!("/admin/orders/{code}"), &owner)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("RR123456789GB"));
    assert_eq!(
        page.matches("(owner owner@harbour.example)").count(),
        3,
        "three steps in the history"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM order_events").await,
        3,
        "refused steps left no trace"
    );
    assert_eq!(
        get_with(&app, "/admin/orders/ZZZZ-ZZZZ", &owner)
            .await
            .status(),
        404
    );
}

async fn cancelling_restocks_exactly_once_even_when_sent_ten_times_at_once(kind: Kind) {
    let app = shop(kind).await;
    let owner = first_owner(&app).await;
    let before = app.stock(2).await;
    let code = place(&app, &order_body(&key(1), 2, 3)).await;
    assert_eq!(app.stock(2).await, before - 3);
    let token = csrf(&app, &owner).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (client, url, owner, token) = (
            app.client.clone(),
            app.url(&format!("/admin/orders/{code}/status")),
            owner.clone(),
            token.clone(),
        );
        set.spawn(async move {
            client
                .post(url)
                .header("cookie", owner)
                .form(&[
                    ("csrf", token.as_str()),
                    ("from", "awaiting_payment"),
                    ("to", "cancelled"),
                    ("confirm", "yes"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = set.join_next().await {
        statuses.push(s.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(app.stock(2).await, before, "restocked once");
    assert_eq!(app.units_sold(2).await, 0);
    assert_eq!(shopper_sees(&app, &code).await, "cancelled");
    assert_eq!(app.count("SELECT COUNT(*) FROM order_events").await, 1);

    let unconfirmed_code = place(&app, &order_body(&key(2), 2, 1)).await;
    let unconfirmed = step(
        &app,
        &owner,
        &unconfirmed_code,
        &[("from", "awaiting_payment"), ("to", "cancelled")],
    )
    .await;
    assert_eq!(
        unconfirmed.status(),
        422,
        "a cancellation must be confirmed"
    );
    assert_eq!(app.stock(2).await, before - 1);
}

async fn the_csv_export_opens_cleanly_in_a_spreadsheet(kind: Kind) {
    let app = shop(kind).await;
    let owner = first_owner(&app).await;
    let tricky = json!({
        "idempotency_key": key(1),
        "lines": [{"product_id": 2, "quantity": 2}],
        "customer": {"name": "王小明, \"Ming\"", "phone": "+86 139 1234 5678", "address": "Line one\nLine two", "note": "=1+2"}
    });
    let code = place(&app, &tricky).await;
    let plain = place(&app, &order_body(&key(2), 3, 1)).await;
    let res = get_with(&app, "/admin/orders.csv", &owner).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"orders-"));
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark first");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(
        text.starts_with("\"Code\",\"Placed (Asia/Shanghai)\",\"Placed (UTC)\",\"Status\",\"Customer\",\"Phone\",\"Address\",\"Note\",\"Items\",\"Total (CNY)\",\"Total (minor units)\",\"Tracking number\"\r\n"),
        "the owner's words (English for this owner's browser): {text}"
    );
    assert!(text.contains(",\"Awaiting payment\","), "{text}");
    assert!(text.contains(&format!("\"{code}\",")), "{text}");
    assert!(
        text.contains("\"王小明, \"\"Ming\"\"\""),
        "quoted, quotes doubled: {text}"
    );
    assert!(
        text.contains(",\"'+8613912345678\","),
        "a leading + is defused: {text}"
    );
    assert!(
        text.contains("\"Line one\nLine two\""),
        "a line break stays inside its cell"
    );
    assert!(text.contains(",\"'=1+2\","), "a formula is shown, not run");
    assert!(
        text.contains(",\"2 × Sea-Salt Caramels\",\"25.00\",\"2500\","),
        "items and money: {text}"
    );
    assert_eq!(text.matches("\r\n").count(), 3, "header and two orders");
    // the list's filters apply
    let only_plain = get_with(&app, "/admin/orders.csv?product=3", &owner)
        .await
        .text()
        .await
        .unwrap();
    assert!(only_plain.contains(&plain) && !only_plain.contains(&code));
    let bad = get_with(&app, "/admin/orders.csv?from=yesterday", &owner).await;
    assert_eq!(bad.status(), 422, "a bad filter is a clear error");
    assert_eq!(
        get_with(&app, "/admin/orders?status=lost", &owner)
            .await
            .status(),
        422
    );
    assert_eq!(
        get_with(&app, "/admin/orders?from=2026-02-01&to=2026-01-01", &owner)
            .await
            .status(),
        422
    );
}

/// Two expiry passes (as two servers' tasks would) racing over the same 20 stale orders cancel
/// each exactly once; fresh and paid orders are left alone.
async fn unpaid_orders_expire_exactly_once_with_two_passes_racing(kind: Kind) {
    use server::admin::db::AdminDb;
    use server::admin::orders::expire_unpaid;
    let app = shop(kind).await;
    let owner = first_owner(&app).await;
    let before = app.stock(2).await;
    for i in 0..20 {
        place(&app, &order_body(&key(i), 2, 1)).await;
    }
    let fresh = place(&app, &order_body(&key(100), 2, 1)).await;
    let paid = place(&app, &order_body(&key(101), 2, 1)).await;
    step(
        &app,
        &owner,
        &paid,
        &[("from", "awaiting_payment"), ("to", "paid")],
    )
    .await;
    app.exec(&format!(
        "UPDATE orders SET created_at = '2020-01-01T00:00:00.000Z' WHERE code <> '{fresh}'"
    ))
    .await;
    let (a, b) = match &app.db {
        common::shop::Db::Sqlite(p) => (AdminDb::Sqlite(p.clone()), AdminDb::Sqlite(p.clone())),
        common::shop::Db::Pg(p) => (AdminDb::Postgres(p.clone()), AdminDb::Postgres(p.clone())),
    };
    let day = Some(Duration::from_secs(86_400));
    let now = app.clock.now();
    let (x, y) = tokio::join!(expire_unpaid(&a, day, &now), expire_unpaid(&b, day, &now));
    assert_eq!(x.unwrap() + y.unwrap(), 20, "each stale unpaid order once");
    assert_eq!(
        expire_unpaid(&a, day, &app.clock.now()).await.unwrap(),
        0,
        "nothing left to expire"
    );
    assert_eq!(
        app.stock(2).await,
        before - 2,
        "20 restocked; the fresh and the paid order hold theirs"
    );
    assert_eq!(shopper_sees(&app, &fresh).await, "awaiting_payment");
    assert_eq!(shopper_sees(&app, &paid).await, "paid");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM order_events WHERE to_status = 'cancelled'")
            .await,
        20
    );
}

http_contract_tests!(
    an_order_goes_from_awaiting_payment_to_completed_and_the_shopper_sees_each_step,
    cancelling_restocks_exactly_once_even_when_sent_ten_times_at_once,
    the_csv_export_opens_cleanly_in_a_spreadsheet,
    unpaid_orders_expire_exactly_once_with_two_passes_racing,
);

/// The server's own expiry task, configured short, cancels a stale unpaid order by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_expiry_task_cancels_stale_unpaid_orders_by_itself() {
    let app = common::spawn_on(
        Kind::Sqlite,
        &[
            ("HOLDFAST_UNPAID_EXPIRY_MINUTES", "1"),
            ("HOLDFAST_EXPIRY_CHECK_SECS", "1"),
        ],
    )
    .await;
    let before = app.stock(2).await;
    let code = place(&app, &order_body(&key(1), 2, 2)).await;
    app.exec("UPDATE orders SET created_at = '2020-01-01T00:00:00.000Z'")
        .await;
    common::eventually(
        Duration::from_secs(10),
        "the unpaid order cancelled",
        || async { (shopper_sees(&app, &code).await == "cancelled").then_some(()) },
    )
    .await;
    assert_eq!(app.stock(2).await, before);
}
