//! The stores on their own (no HTTP): durability settings and the atomic order path. The order
//! path tests run on SQLite and on Postgres (`contract_tests!`).
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use app::domain::At;
use app::store::{CheckoutError, Store};
use common::shop::{PgDatabase, Shop};
use common::{fresh_store, new_order as order};
use server::store::{PgStore, SqliteStore};

#[tokio::test]
async fn the_writer_runs_with_wal_full_sync_foreign_keys_and_a_busy_timeout() {
    let (store, _dir) = fresh_store().await;
    // the desk's own connection, which every order goes through
    let desk = store.writer_settings().await.unwrap();
    assert_eq!(desk.journal_mode, "wal");
    assert_eq!(desk.synchronous, 2, "synchronous=FULL");
    assert!(desk.foreign_keys);
    assert!(desk.busy_timeout_ms >= 5_000, "busy_timeout {desk:?}");
    // and the setup connection (migrations, seeding)
    let w = store.writer();
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(w)
        .await
        .unwrap();
    assert_eq!(synchronous, 2);
}

#[tokio::test]
async fn seeding_twice_adds_nothing() {
    let (store, _dir) = fresh_store().await;
    let first = store.products().await.unwrap().len();
    assert!(first >= 8);
    assert!(!server::store::seed::seed_if_empty(&store).await.unwrap());
    assert_eq!(store.products().await.unwrap().len(), first);
}

/// The demo catalogue is dated by the shop's clock, not the machine's: its products were added,
/// and its sales start, at the shop's time (here 2031) on both databases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_catalogue_is_dated_by_the_shops_clock() {
    let at = chrono::DateTime::parse_from_rfc3339("2031-05-04T03:02:01Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = || app::rules::Clock::stopped_at(at);
    let shops = [
        Some(Shop::sqlite_at(clock()).await),
        Shop::postgres_at(clock()).await,
    ];
    for shop in shops.into_iter().flatten() {
        let (first, last): (At, At) = shop
            .instants("SELECT MIN(created_at), MAX(created_at) FROM products")
            .await;
        assert_eq!(
            (first.to_string(), last.to_string()),
            (
                "2031-05-04T03:02:01.000Z".into(),
                "2031-05-04T03:02:01.000Z".into()
            ),
            "{}",
            shop.name
        );
        let (first, last): (At, At) = shop
            .instants("SELECT MIN(starts_at), MAX(starts_at) FROM sales")
            .await;
        assert_eq!(
            (first.to_string(), last.to_string()),
            (
                "2031-05-04T03:01:01.000Z".into(),
                "2031-05-04T03:17:01.000Z".into()
            ),
            "{}",
            shop.name
        );
    }
}

async fn a_multi_line_order_is_all_or_nothing(shop: Shop) {
    let store = &shop.store;
    let stock = |p: i64| shop.stock(p);
    let (a, b) = (stock(2).await, stock(4).await);
    let too_many = b + 1;
    let err = store
        .place_order(order("key-all-or-nothing-1", &[(2, 1), (4, too_many)]))
        .await
        .err();
    assert!(
        matches!(err, Some(CheckoutError::SoldOut { product_id: 4, available, .. }) if available == b),
        "{err:?}"
    );
    assert_eq!((stock(2).await, stock(4).await), (a, b), "nothing taken");

    let placed = store
        .place_order(order("key-all-or-nothing-2", &[(2, 1), (4, b)]))
        .await
        .unwrap();
    assert_eq!(placed.lines.len(), 2);
    assert_eq!((stock(2).await, stock(4).await), (a - 1, 0));
    let found = store.order(&placed.order_code).await.unwrap().unwrap();
    assert_eq!(
        found, placed,
        "what was acknowledged is exactly what is stored"
    );
}

async fn an_unknown_product_is_refused_and_nothing_is_written(shop: Shop) {
    let store = &shop.store;
    let err = store
        .place_order(order("key-unknown-product", &[(2, 1), (424_242, 1)]))
        .await
        .err();
    assert!(
        matches!(
            err,
            Some(CheckoutError::UnknownProduct {
                product_id: 424_242
            })
        ),
        "{err:?}"
    );
    assert_eq!(shop.orders().await, 0);
}

#[tokio::test]
async fn an_acknowledged_order_is_on_disk_when_the_store_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/shop.db", dir.path().display());
    let store = SqliteStore::open(&url).await.unwrap();
    server::store::seed::seed_if_empty(&store).await.unwrap();
    let placed = store
        .place_order(order("key-durable-000001", &[(3, 2)]))
        .await
        .unwrap();
    store.close().await;
    let reopened = SqliteStore::open(&url).await.unwrap();
    assert_eq!(
        reopened.order(&placed.order_code).await.unwrap(),
        Some(placed)
    );
}

async fn thousands_of_concurrent_orders_with_duplicate_keys_never_oversell_or_duplicate(
    shop: Shop,
) {
    use std::collections::HashMap;
    let store = &shop.store;
    shop.set_stock(2, 500).await;
    // 3000 calls over 1200 keys: most keys are sent two or three times, some at the same instant
    // (same batch), some later (another batch)
    let mut set = tokio::task::JoinSet::new();
    for i in 0..3000_usize {
        let store = store.clone();
        let key = format!("dup-key-{:010}", i % 1200);
        set.spawn(async move { (key.clone(), store.place_order(order(&key, &[(2, 1)])).await) });
    }
    let mut codes_by_key: HashMap<String, Vec<String>> = HashMap::new();
    let mut sold_out_keys = std::collections::HashSet::new();
    while let Some(r) = set.join_next().await {
        let (key, outcome) = r.unwrap();
        match outcome {
            Ok(o) => codes_by_key
                .entry(key)
                .or_default()
                .push(o.order_code.to_string()),
            Err(CheckoutError::SoldOut { .. }) => {
                sold_out_keys.insert(key);
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    for (key, codes) in &codes_by_key {
        assert!(
            codes.windows(2).all(|w| w[0] == w[1]),
            "{key} got different orders: {codes:?}"
        );
        assert!(
            !sold_out_keys.contains(key),
            "{key} was both sold and sold out"
        );
    }
    let (stock, sold, orders) = (
        shop.stock(2).await,
        shop.units_sold(2).await,
        shop.orders().await,
    );
    assert_eq!(
        codes_by_key.len(),
        500,
        "exactly the stock was sold, once per key"
    );
    assert_eq!((stock, sold, orders), (0, 500, 500));
    for codes in codes_by_key.values() {
        let code = app::domain::OrderCode::parse(&codes[0]).unwrap();
        assert!(
            store.order(&code).await.unwrap().is_some(),
            "acknowledged {code} is stored"
        );
    }
}

/// A burst where every kind of order arrives at once (so the desk's batches mix them): each gets
/// the answer it would get alone, and what was acknowledged is exactly what is stored.
async fn a_mixed_burst_answers_each_order_as_if_it_came_alone(shop: Shop) {
    let store = &shop.store;
    shop.set_stock(4, 10).await;
    let first = store
        .place_order(order("burst-reused-key-0001", &[(2, 1)]))
        .await
        .unwrap();
    let before_2 = shop.stock(2).await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..120_usize {
        let store = store.clone();
        let (key, lines): (String, Vec<(i64, i64)>) = match i % 6 {
            0 => ("burst-reused-key-0001".into(), vec![(2, 2)]),
            1 => (
                format!("burst-unknown-key-{i:04}"),
                vec![(2, 1), (424_242, 1)],
            ),
            2 => (format!("burst-sale-key-{i:06}"), vec![(1, 1)]),
            _ => (format!("burst-pair-key-{i:06}"), vec![(2, 1), (4, 1)]),
        };
        set.spawn(async move { (i, store.place_order(order(&key, &lines)).await) });
    }
    let mut pairs = Vec::new();
    let mut pairs_sold_out = 0;
    while let Some(r) = set.join_next().await {
        let (i, outcome) = r.unwrap();
        match (i % 6, outcome) {
            (0, Err(CheckoutError::KeyReused)) => {}
            (
                1,
                Err(CheckoutError::UnknownProduct {
                    product_id: 424_242,
                }),
            ) => {}
            (2, Err(CheckoutError::QueueRequired { product_id: 1, .. })) => {}
            (3.., Ok(view)) => pairs.push(view),
            (
                3..,
                Err(CheckoutError::SoldOut {
                    product_id: 4,
                    available: 0,
                    ..
                }),
            ) => pairs_sold_out += 1,
            (kind, other) => panic!("order kind {kind} got {other:?}"),
        }
    }
    assert_eq!(
        (pairs.len(), pairs_sold_out),
        (10, 50),
        "10 pairs fit the stock"
    );
    assert_eq!(shop.stock(4).await, 0);
    assert_eq!(
        shop.stock(2).await,
        before_2 - 10,
        "sold-out pairs took nothing"
    );
    assert_eq!(shop.orders().await, 11);
    let price_2 = shop.price(2).await;
    let price_4 = shop.price(4).await;
    for view in &pairs {
        assert_eq!(view.total_cents, price_2 + price_4);
        assert_eq!(
            store.order(&view.order_code).await.unwrap().as_ref(),
            Some(view),
            "acknowledged is stored"
        );
    }
    let replay = store
        .place_order(order("burst-reused-key-0001", &[(2, 1)]))
        .await
        .unwrap();
    assert_eq!(replay, first);
}

#[tokio::test]
async fn on_postgres_seeding_twice_adds_nothing_and_an_acknowledged_order_survives_a_reopen() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let store = PgStore::open(&pg.url).await.unwrap();
    assert!(server::store::seed::seed_if_empty_postgres(&store)
        .await
        .unwrap());
    let first = store.products().await.unwrap().len();
    assert!(!server::store::seed::seed_if_empty_postgres(&store)
        .await
        .unwrap());
    assert_eq!(store.products().await.unwrap().len(), first);
    let placed = store
        .place_order(order("key-durable-pg-0001", &[(3, 2)]))
        .await
        .unwrap();
    store.close().await;
    let reopened = PgStore::open(&pg.url).await.unwrap();
    assert_eq!(
        reopened.order(&placed.order_code).await.unwrap(),
        Some(placed)
    );
    let commit_mode: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(reopened.pool())
        .await
        .unwrap();
    assert_eq!(commit_mode, "on", "a commit waits for its WAL flush");
    reopened.close().await;
}

contract_tests!(
    a_multi_line_order_is_all_or_nothing,
    an_unknown_product_is_refused_and_nothing_is_written,
    thousands_of_concurrent_orders_with_duplicate_keys_never_oversell_or_duplicate,
    a_mixed_burst_answers_each_order_as_if_it_came_alone,
);
