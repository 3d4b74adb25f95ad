//! Concurrency over real HTTP: a stampede never oversells, and retries never duplicate.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{key, order_body, spawn_on, Kind};
use serde_json::Value;
use std::collections::HashSet;

async fn two_hundred_shoppers_racing_for_ten_units_buy_exactly_ten(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let product = 2;
    app.set_stock(product, 10).await;
    let bodies = (0..200).map(|i| order_body(&key(i), product, 1)).collect();
    let mut acknowledged = Vec::new();
    let mut sold_out = 0;
    for (status, _, body) in app.fire_concurrently(bodies).await {
        match status {
            200 => acknowledged.push(body["order_code"].as_str().unwrap().to_owned()),
            409 => {
                assert_eq!(body["kind"], "sold_out");
                assert_eq!(body["available"], 0);
                sold_out += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(acknowledged.len(), 10);
    assert_eq!(sold_out, 190);
    assert_eq!(app.stock(product).await, 0);
    assert_eq!(app.orders().await, 10);
    assert_eq!(app.units_sold(product).await, 10);
    let stored: HashSet<String> = app.order_codes().await.into_iter().collect();
    for code in &acknowledged {
        assert!(
            stored.contains(code),
            "acknowledged order {code} is in the database"
        );
    }
    assert_eq!(
        acknowledged.iter().collect::<HashSet<_>>().len(),
        10,
        "codes are unique"
    );
}

async fn the_same_idempotency_key_sent_twenty_times_at_once_makes_one_order(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let product = 2;
    let before = app.stock(product).await;
    let bodies = (0..20).map(|_| order_body(&key(7), product, 3)).collect();
    let mut codes = HashSet::new();
    for (status, _, body) in app.fire_concurrently(bodies).await {
        assert_eq!(status, 200, "{body}");
        assert!(body["total_cents"].as_i64().unwrap() > 0);
        codes.insert(body["order_code"].as_str().unwrap().to_owned());
    }
    assert_eq!(codes.len(), 1, "every retry answered with the first order");
    assert_eq!(app.orders().await, 1);
    assert_eq!(app.stock(product).await, before - 3, "stock taken once");
    assert_eq!(app.units_sold(product).await, 3);
}

async fn a_retry_after_the_stock_ran_out_still_gets_its_first_order(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    app.set_stock(2, 1).await;
    let first: Value = app
        .place_order(&order_body(&key(1), 2, 1))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(app.stock(2).await, 0);
    let retry = app.place_order(&order_body(&key(1), 2, 1)).await;
    assert_eq!(retry.status(), 200, "a retry is not a new purchase");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["order_code"], first["order_code"]);
    let other = app.place_order(&order_body(&key(2), 2, 1)).await;
    assert_eq!(other.status(), 409);
}

http_contract_tests!(
    two_hundred_shoppers_racing_for_ten_units_buy_exactly_ten,
    the_same_idempotency_key_sent_twenty_times_at_once_makes_one_order,
    a_retry_after_the_stock_ran_out_still_gets_its_first_order,
);
