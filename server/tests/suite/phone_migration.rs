//! Upgrading a shop whose data predates E.164 phone numbers: the real migration, run by the real
//! store on opening, over rows written the old way (numbers as typed, keys as digits), on SQLite
//! and on Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::shop::{Db, PgDatabase};
use std::collections::BTreeMap;

/// What the previous migrations left, in the old forms. (Written into today's schema, whose later
/// migrations do not touch phone numbers: the orders' status times, `timestamptz` on Postgres
/// since 0013, are given.)
const LEGACY: &[&str] = &[
    "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents, created_at,
        status_changed_at) VALUES
        ('AAAA-AAAA', 'paid', 'Li', '13800138000', 'x', '', 100, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'),
        ('AAAA-BBBB', 'paid', 'Li', '8613800138000', 'x', '', 100, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'),
        ('AAAA-CCCC', 'paid', 'Li', '+8613800138000', 'x', '', 100, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'),
        ('AAAA-DDDD', 'paid', 'Ann', '00447700900123', 'x', '', 100, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'),
        ('AAAA-EEEE', 'paid', 'Ada', '+15550102030', 'x', '', 100, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'),
        ('AAAA-FFFF', 'paid', 'Bo', '5550102030', 'x', '', 100, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z')",
    // one shopper's units under two ways of writing her number, and another's
    "INSERT INTO customer_units (product_id, phone_key, units) VALUES
        (1, '13800138000', 2), (1, '8613800138000', 1), (2, '13800138000', 4), (1, '15550102030', 3)",
    // she holds two live places for product 1 (written two ways), and an old, ordered one
    "INSERT INTO queue_tickets (id, product_id, phone_key, quantity, rank, state, joined_at, updated_at) VALUES
        (1, 1, '13800138000', 1, 10, 'admitted', '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'),
        (2, 1, '8613800138000', 1, 20, 'waiting', '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'),
        (3, 1, '13800138000', 1, 5, 'ordered', '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'),
        (4, 2, '447700900123', 1, 5, 'waiting', '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z')",
    "INSERT INTO holds (ticket_id, product_id, phone_key, quantity, unit_price_cents, state, expires_at, created_at) VALUES
        (1, 1, '13800138000', 1, 100, 'live', '2026-11-01T00:05:00Z', '2026-11-01T00:00:00Z')",
];

async fn rows(db: &Db, sql: &str) -> Vec<(String, String)> {
    match db {
        Db::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        Db::Pg(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
    }
}

async fn check_upgraded(db: &Db) {
    let phones: BTreeMap<_, _> = rows(db, "SELECT code, phone FROM orders")
        .await
        .into_iter()
        .collect();
    let expected: BTreeMap<String, String> = [
        ("AAAA-AAAA", "+8613800138000"),
        ("AAAA-BBBB", "+8613800138000"),
        ("AAAA-CCCC", "+8613800138000"),
        ("AAAA-DDDD", "+447700900123"),
        ("AAAA-EEEE", "+15550102030"),
        // no country can be told: kept, and keyed as the migration keyed it
        ("AAAA-FFFF", "5550102030"),
    ]
    .into_iter()
    .map(|(c, p)| (c.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(phones, expected);
    // every stored number is found by the key the shop now computes for it
    for phone in phones.values() {
        let key = app::domain::Phone::key_of(phone);
        assert!(key.starts_with('+'), "{phone} → {key}");
    }

    let units = rows(
        db,
        "SELECT CAST(product_id AS TEXT) || ' ' || phone_key, CAST(units AS TEXT) FROM customer_units ORDER BY 1",
    )
    .await;
    assert_eq!(
        units,
        [
            ("1 +15550102030".to_owned(), "3".to_owned()),
            ("1 +8613800138000".to_owned(), "3".to_owned()),
            ("2 +8613800138000".to_owned(), "4".to_owned()),
        ]
    );

    let tickets = rows(
        db,
        "SELECT CAST(id AS TEXT), phone_key FROM queue_tickets ORDER BY id",
    )
    .await;
    assert_eq!(
        tickets,
        [
            ("1".to_owned(), "+8613800138000".to_owned()),
            // the same number's second live place for the same product keeps its old key
            ("2".to_owned(), "8613800138000".to_owned()),
            ("3".to_owned(), "+8613800138000".to_owned()),
            ("4".to_owned(), "+447700900123".to_owned()),
        ]
    );
    let holds = rows(db, "SELECT CAST(ticket_id AS TEXT), phone_key FROM holds").await;
    assert_eq!(holds, [("1".to_owned(), "+8613800138000".to_owned())]);
}

#[tokio::test]
async fn an_sqlite_shop_from_before_keeps_its_shoppers_under_e164_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/shop.db", dir.path().display());
    let store = server::store::SqliteStore::open(&url).await.unwrap();
    server::store::seed::seed_if_empty(&store).await.unwrap();
    let db = Db::Sqlite(store.writer().clone());
    // back to before the migration: its rows in the old forms, and the migration not yet run
    db.exec("DELETE FROM _sqlx_migrations WHERE description = 'phone e164'")
        .await;
    for sql in LEGACY {
        db.exec(sql).await;
    }
    let upgraded = server::store::SqliteStore::open(&url).await.unwrap();
    check_upgraded(&Db::Sqlite(upgraded.writer().clone())).await;
}

#[tokio::test]
async fn a_postgres_shop_from_before_keeps_its_shoppers_under_e164_numbers() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let store = server::store::PgStore::open(&pg.url).await.unwrap();
    server::store::seed::seed_if_empty_postgres(&store)
        .await
        .unwrap();
    let db = Db::Pg(store.pool().clone());
    db.exec("DELETE FROM _sqlx_migrations WHERE description = 'phone e164'")
        .await;
    for sql in LEGACY {
        db.exec(sql).await;
    }
    let upgraded = server::store::PgStore::open(&pg.url).await.unwrap();
    check_upgraded(&Db::Pg(upgraded.pool().clone())).await;
}
