//! The JSON API over real HTTP: reading the catalogue, placing and looking up orders, and every
//! kind of bad input getting a clear 4xx that changes nothing.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::common::Fetch;

use common::{key, order_body, spawn_on, Kind};
use serde_json::{json, Value};

async fn the_catalogue_lists_the_demo_products_with_stock_and_pictures(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let res = app.get("/api/products").await;
    assert_eq!(res.status(), 200);
    let products: Vec<Value> = res.json().await.unwrap();
    assert!(
        products.len() >= 8,
        "at least 8 demo products, got {}",
        products.len()
    );
    for p in &products {
        for field in ["id", "slug", "name", "price_cents", "stock", "image_url"] {
            assert!(p.get(field).is_some(), "{field} missing in {p}");
        }
        assert!(p["price_cents"].as_i64().unwrap() > 0);
    }
    let flash: Vec<&Value> = products
        .iter()
        .filter(|p| p["flash_sale"] == true)
        .collect();
    assert_eq!(flash.len(), 1, "one flash-sale item");
    assert!(
        flash[0]["stock"].as_i64().unwrap() <= 10,
        "the flash item has low stock"
    );
}

async fn one_product_is_found_by_id_or_slug_and_unknown_ones_are_404(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let by_id: Value = app.get("/api/product?id=2").await.json().await.unwrap();
    let slug = by_id["slug"].as_str().unwrap().to_owned();
    let by_slug: Value = app
        .get(&format!("/api/product?slug={slug}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_id, by_slug);
    assert_eq!(by_id["stock"], app.stock(2).await);

    let missing = app.get("/api/product?id=9999").await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["kind"], "not_found");

    let garbage = app.get("/api/product?id=abc").await;
    assert_eq!(garbage.status(), 400);
    let neither = app.get("/api/product").await;
    assert_eq!(neither.status(), 422);
}

async fn an_order_is_placed_at_database_prices_and_can_be_looked_up(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let before = app.stock(3).await;
    let mut body = order_body(&key(1), 3, 2);
    // a client-sent price is ignored: the shop charges what the database says
    body["lines"][0]["price_cents"] = json!(1);
    let res = app.place_order(&body).await;
    assert_eq!(res.status(), 200);
    let order: Value = res.json().await.unwrap();
    let price = app.price(3).await;
    assert_eq!(order["status"], "awaiting_payment");
    assert_eq!(order["total_cents"], price * 2);
    assert_eq!(order["lines"][0]["quantity"], 2);
    assert_eq!(app.stock(3).await, before - 2);
    let code = order["order_code"].as_str().unwrap().to_owned();
    assert_eq!(app.order_codes().await, vec![code.clone()]);

    let found = app
        .get(&format!(
            "/api/order_status?code={code}&phone=%2B1%20555%20010%202030"
        ))
        .await;
    assert_eq!(found.status(), 200);
    let found: Value = found.json().await.unwrap();
    assert_eq!(found["order_code"], code);
    assert_eq!(found["total_cents"], order["total_cents"]);

    // the code is read forgivingly: lower case, no dash; the phone however it is written
    let relaxed = code.replace('-', "").to_lowercase();
    let res = app
        .get(&format!(
            "/api/order_status?code={relaxed}&phone=001-555-010-2030"
        ))
        .await;
    assert_eq!(res.status(), 200);

    let wrong_phone = app
        .get(&format!(
            "/api/order_status?code={code}&phone=%2B15559999999"
        ))
        .await;
    assert_eq!(wrong_phone.status(), 404);
    let unknown = app
        .get("/api/order_status?code=AAAA-BBBB&phone=%2B15550102030")
        .await;
    assert_eq!(unknown.status(), 404);
    let bad_code = app
        .get("/api/order_status?code=nope&phone=%2B15550102030")
        .await;
    assert_eq!(bad_code.status(), 422);
    let body: Value = bad_code.json().await.unwrap();
    assert_eq!(body["field"], "code");
}

async fn an_order_that_cannot_be_filled_changes_nothing_and_names_the_product(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    app.set_stock(4, 3).await;
    let before = app.snapshot().await;
    let body = json!({
        "idempotency_key": key(2),
        "lines": [{"product_id": 2, "quantity": 1}, {"product_id": 4, "quantity": 5}],
        "customer": {"name": "Ada", "phone": "+15550102030", "address": "1 Harbour Row"}
    });
    let res = app.place_order(&body).await;
    assert_eq!(res.status(), 409);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["kind"], "sold_out");
    assert_eq!(err["product_id"], 4);
    assert_eq!(err["available"], 3);
    assert!(err["message"].as_str().unwrap().contains("only 3"));
    assert_eq!(
        app.snapshot().await,
        before,
        "the first line's decrement was rolled back"
    );
}

/// Each bad request and the status it must get.
fn bad_requests() -> Vec<(&'static str, Value, u16, Option<&'static str>)> {
    let good = order_body(&key(9), 2, 1);
    let with = |path: &[&str], v: Value| {
        let mut b = good.clone();
        let mut node = &mut b;
        for p in &path[..path.len() - 1] {
            node = if let Ok(i) = p.parse::<usize>() {
                &mut node[i]
            } else {
                &mut node[*p]
            };
        }
        node[path[path.len() - 1]] = v;
        b
    };
    vec![
        (
            "empty name",
            with(&["customer", "name"], json!("")),
            422,
            Some("customer.name"),
        ),
        (
            "huge name",
            with(&["customer", "name"], json!("x".repeat(10_000))),
            422,
            Some("customer.name"),
        ),
        (
            "empty phone",
            with(&["customer", "phone"], json!("")),
            422,
            Some("customer.phone"),
        ),
        (
            "letters in phone",
            with(&["customer", "phone"], json!("call me maybe")),
            422,
            Some("customer.phone"),
        ),
        (
            "empty address",
            with(&["customer", "address"], json!(" ")),
            422,
            Some("customer.address"),
        ),
        (
            "huge note",
            with(&["customer", "note"], json!("n".repeat(5_000))),
            422,
            Some("customer.note"),
        ),
        (
            "quantity 0",
            with(&["lines", "0", "quantity"], json!(0)),
            422,
            Some("lines[0].quantity"),
        ),
        (
            "negative quantity",
            with(&["lines", "0", "quantity"], json!(-4)),
            422,
            Some("lines[0].quantity"),
        ),
        (
            "huge quantity",
            with(&["lines", "0", "quantity"], json!(1_000_000)),
            422,
            Some("lines[0].quantity"),
        ),
        (
            "fractional quantity",
            with(&["lines", "0", "quantity"], json!(1.5)),
            400,
            None,
        ),
        (
            "unknown product",
            with(&["lines", "0", "product_id"], json!(99_999)),
            422,
            Some("lines"),
        ),
        ("no lines", with(&["lines"], json!([])), 422, Some("lines")),
        (
            "short key",
            with(&["idempotency_key"], json!("abc")),
            422,
            Some("idempotency_key"),
        ),
        (
            "key with spaces",
            with(&["idempotency_key"], json!("a key with spaces in it")),
            422,
            Some("idempotency_key"),
        ),
        (
            "missing customer",
            json!({"idempotency_key": key(9), "lines": [{"product_id": 2, "quantity": 1}]}),
            400,
            None,
        ),
        (
            "quantity as text",
            with(&["lines", "0", "quantity"], json!("two")),
            400,
            None,
        ),
    ]
}

async fn every_kind_of_bad_input_gets_a_clear_4xx_and_changes_nothing(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let before = app.snapshot().await;
    for (what, body, status, field) in bad_requests() {
        let res = app.place_order(&body).await;
        assert_eq!(res.status().as_u16(), status, "{what}");
        assert_eq!(res.headers()["content-type"], "application/json", "{what}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["kind"], "invalid_input", "{what}: {err}");
        assert!(!err["message"].as_str().unwrap_or("").is_empty(), "{what}");
        if let Some(field) = field {
            let fields: Vec<&str> = err["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["field"].as_str().unwrap())
                .collect();
            assert!(
                fields.contains(&field),
                "{what}: expected {field} in {fields:?}"
            );
        }
    }
    // bodies that are not JSON at all
    for (what, body) in [
        ("malformed JSON", "{\"lines\": [".to_owned()),
        ("not an object", "[1,2,3]".to_owned()),
        ("empty", String::new()),
    ] {
        let res = app
            .client
            .post(app.url("/api/place_order"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{what}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["kind"], "invalid_input", "{what}");
    }
    // a 10 MB body is refused before it is read: the answer comes as soon as the headers
    // announce it (a raw connection that never sends the body, so nothing races the refusal)
    let (status, body) = announce_huge_body(&app.url("/api/place_order")).await;
    assert_eq!(status, 413, "{body}");
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["kind"], "invalid_input");

    assert_eq!(
        app.snapshot().await,
        before,
        "no bad request changed anything"
    );
    // and the shop still works afterwards
    assert_eq!(
        app.place_order(&order_body(&key(10), 2, 1)).await.status(),
        200
    );
}

async fn reusing_an_idempotency_key_for_a_different_order_is_refused(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    assert_eq!(
        app.place_order(&order_body(&key(3), 2, 1)).await.status(),
        200
    );
    let before = app.snapshot().await;
    let res = app.place_order(&order_body(&key(3), 2, 2)).await;
    assert_eq!(res.status(), 422);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["field"], "idempotency_key");
    assert_eq!(app.snapshot().await, before);
}

async fn the_order_desk_sheds_load_with_503_and_retry_after_when_full(kind: Kind) {
    // an admission limit of 1 and many simultaneous orders: some must be told to come back
    let app = spawn_on(kind, &[("HOLDFAST_MAX_ORDERS_IN_FLIGHT", "1")]).await;
    app.set_stock(2, 1_000).await;
    let bodies = (0..60).map(|i| order_body(&key(100 + i), 2, 1)).collect();
    let (mut ok, mut shed) = (0, 0);
    for (status, retry, body) in app.fire_concurrently(bodies).await {
        match status {
            200 => ok += 1,
            503 => {
                shed += 1;
                assert_eq!(body["kind"], "overloaded");
                let secs: u32 = retry.expect("Retry-After header").parse().unwrap();
                assert!(secs >= 1);
                assert_eq!(body["retry_after_secs"], secs);
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert!(ok >= 1, "some orders get through");
    assert!(
        shed >= 1,
        "with one slot and 60 at once, some are shed (ok={ok})"
    );
    assert_eq!(
        app.orders().await,
        ok,
        "every acknowledged order, and only those, is stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_keep_loading_while_checkout_is_saturated_and_the_excess_is_shed_at_once() {
    let app = common::spawn_app_with(&[("HOLDFAST_MAX_ORDERS_IN_FLIGHT", "4")]).await;
    // another connection holds the database's write lock: the desk's batch waits on it, as it
    // would behind a slow disk
    let mut blocker = app.sqlite().acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let bodies: Vec<Value> = (0..20).map(|i| order_body(&key(300 + i), 2, 1)).collect();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let orders = {
        let app_base = app.base.clone();
        let client = app.client.clone();
        let answered = answered.clone();
        tokio::spawn(async move {
            let mut set = tokio::task::JoinSet::new();
            for body in bodies {
                let (client, url) = (client.clone(), format!("{app_base}/api/place_order"));
                let answered = answered.clone();
                set.spawn(async move {
                    let started = std::time::Instant::now();
                    let res = client.post(url).json(&body).send().await.unwrap();
                    answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    (res.status().as_u16(), started.elapsed())
                });
            }
            let mut answers = Vec::new();
            while let Some(a) = set.join_next().await {
                answers.push(a.unwrap());
            }
            answers
        })
    };
    // the excess (beyond the 4 let in) is told at once; the 4 wait on the lock
    common::eventually(
        std::time::Duration::from_secs(10),
        "the excess told to come back",
        || async { (answered.load(std::sync::atomic::Ordering::SeqCst) >= 16).then_some(()) },
    )
    .await;
    // checkout is stuck; browsing is not
    for path in ["/", "/p/sea-salt-caramels", "/api/products", "/status"] {
        let started = std::time::Instant::now();
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{path} answered while checkout waits"
        );
    }
    sqlx::query("COMMIT").execute(&mut *blocker).await.unwrap();
    drop(blocker);
    let answers = orders.await.unwrap();
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let shed: Vec<_> = answers.iter().filter(|(s, _)| *s == 503).collect();
    assert_eq!(ok + shed.len(), 20, "{answers:?}");
    assert!((1..=4).contains(&ok), "at most 4 in flight: {answers:?}");
    assert!(
        shed.iter()
            .all(|(_, t)| *t < std::time::Duration::from_millis(500)),
        "the excess is shed at once, not after the wait: {shed:?}"
    );
    assert_eq!(app.orders().await, ok as i64);
}

http_contract_tests!(
    the_catalogue_lists_the_demo_products_with_stock_and_pictures,
    one_product_is_found_by_id_or_slug_and_unknown_ones_are_404,
    an_order_is_placed_at_database_prices_and_can_be_looked_up,
    an_order_that_cannot_be_filled_changes_nothing_and_names_the_product,
    every_kind_of_bad_input_gets_a_clear_4xx_and_changes_nothing,
    reusing_an_idempotency_key_for_a_different_order_is_refused,
    the_order_desk_sheds_load_with_503_and_retry_after_when_full,
);

/// Sends only the headers of a 10 MB POST and reads the answer: (status, body).
async fn announce_huge_body(url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        10 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("answered without waiting for the body")
    .unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The cart and checkout show what the order will charge: during a live sale without a waiting
/// room, the sale price (they used to show the normal price while the order charged the sale's).
#[tokio::test]
async fn the_cart_costs_what_the_order_will_charge() {
    let app = common::spawn_app().await;
    const CARAMELS: i64 = 2;
    app.set_sale(
        CARAMELS,
        common::Sale {
            price_cents: 900,
            waiting_room: false,
            ..common::Sale::default()
        },
    )
    .await;
    // once the catalogue cache has read the sale, the cart reads it too
    common::eventually(
        std::time::Duration::from_secs(10),
        "the sale in the catalogue",
        || async {
            let (_, products) = app.get_json("/api/products").await;
            let caramels = products.as_array()?.iter().find(|p| p["id"] == CARAMELS)?;
            (caramels["sale"]["sale_price_cents"] == 900).then_some(())
        },
    )
    .await;
    let added = app
        .client
        .post(app.url("/api/add_to_cart"))
        .form(&[("product_id", "2"), ("quantity", "3")])
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success(), "{}", added.status());
    let cart_cookie = added
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("hf_cart="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .expect("a cart cookie");
    let cart: Value = app
        .client
        .get(app.url("/api/cart"))
        .header("cookie", &cart_cookie)
        .fetch_json()
        .await;
    assert_eq!(cart["total_cents"], 2700, "{cart}");
    assert_eq!(cart["lines"][0]["line_total_cents"], 2700);
    let order: Value = app
        .place_order(&order_body(&key(1), CARAMELS, 3))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["total_cents"], cart["total_cents"], "{order}");
}
