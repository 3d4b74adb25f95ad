//! Upgrading a Postgres shop whose times were text to `timestamptz` (migration 0013), and
//! SQLite's orders that never changed status to "changed when placed" (0012): the real
//! migrations, run by the real store on opening, over rows written the old way — every time
//! column, in the forms earlier writers used (with and without milliseconds, with an offset).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use app::domain::{At, OrderCode};
use app::store::Store;
use common::shop::PgDatabase;
use sqlx::PgPool;

/// Migrations up to this version are the ones before times became `timestamptz`.
const BEFORE_TIMES: i64 = 12;

/// Rows in every table with a time, as the earlier shop wrote them: RFC 3339 text. (Ids come from
/// the tables' sequences: 1, 2, … in the order written.)
const LEGACY: &[&str] = &[
    "INSERT INTO products (slug, name, price_cents, stock, image_url, created_at) VALUES
        ('tea', 'Tea', 500, 10, '/t.png', '2026-11-01T00:00:00Z'),
        ('cup', 'Cup', 900, 10, '/c.png', '2026-11-01T08:00:00.250+08:00')",
    "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents,
        created_at, status_changed_at) VALUES
        ('AAAA-AAAA', 'awaiting_payment', 'Li', '+8613800138000', 'x', '', 500,
            '2026-11-01T09:30:00+08:00', ''),
        ('AAAA-BBBB', 'paid', 'Ann', '+447700900123', 'x', '', 900,
            '2026-11-01T02:00:00.000Z', '2026-11-02T10:00:00.123Z')",
    "INSERT INTO order_lines (order_id, product_id, product_name, unit_price_cents, quantity)
        VALUES (1, 1, 'Tea', 500, 1), (2, 2, 'Cup', 900, 1)",
    "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES
        ('key-1', 'h', 1, '2026-11-01T01:30:00.000Z')",
    "INSERT INTO sales (product_id, starts_at, ends_at, sale_price_cents) VALUES
        (1, '2026-12-24T01:00:00.000Z', '2026-12-25T01:00:00Z', 400)",
    "INSERT INTO queue_tickets (product_id, phone_key, quantity, rank, state, joined_at,
        updated_at) VALUES
        (1, '+8613800138000', 1, 1, 'admitted', '2026-11-01T00:00:00Z', '2026-11-01T00:01:00Z'),
        (1, '+447700900123', 1, 2, 'admitted', '2026-11-01T00:00:00Z', '2026-11-01T00:01:00Z')",
    // by text, the first runs out last ('T09' > 'T02'); by time, first (01:00Z < 02:00Z)
    "INSERT INTO holds (ticket_id, product_id, phone_key, quantity, unit_price_cents, state,
        expires_at, created_at) VALUES
        (1, 1, '+8613800138000', 1, 400, 'live', '2026-11-01T09:00:00+08:00',
            '2026-11-01T00:00:00Z'),
        (2, 1, '+447700900123', 1, 400, 'live', '2026-11-01T02:00:00Z',
            '2026-11-01T00:00:00Z')",
    "INSERT INTO owners (email, password_hash, created_at) VALUES
        ('owner@example.com', 'x', '2026-10-01T00:00:00.000Z')",
    "INSERT INTO owner_sessions (token_hash, owner_id, csrf_token, created_at, last_seen_at,
        expires_at) VALUES ('t', 1, 'c', '2026-11-01T00:00:00.000Z', '2026-11-01T00:10:00.000Z',
        '2026-11-08T00:00:00.000Z')",
    "INSERT INTO login_failures (email, client, at) VALUES
        ('owner@example.com', '127.0.0.1', '2026-11-01T00:00:01.000Z')",
    "INSERT INTO order_events (order_id, from_status, to_status, actor, note, at) VALUES
        (2, 'awaiting_payment', 'paid', 'owner:1', '', '2026-11-02T10:00:00.123Z')",
    "INSERT INTO brakes (product_id, paused_at, paused_by) VALUES
        (2, '2026-11-03T00:00:00.000Z', 'owner:1')",
    "INSERT INTO product_audit (product_id, action, detail, actor, at) VALUES
        (1, 'created', '', 'owner:1', '2026-10-31T23:59:59.999Z')",
    "INSERT INTO shop_pictures (hash, content_type, bytes, created_at) VALUES
        ('abc', 'image/png', '\\x00', '2026-11-01T00:00:00.000Z')",
    "INSERT INTO rehearsals (product_id, state, plan, started_at, beat_at, finished_at) VALUES
        (1, 'finished', '{}', '2026-11-04T00:00:00.000Z', '2026-11-04T00:05:00.000Z',
            '2026-11-04T00:05:00.000Z')",
];

fn at(text: &str) -> At {
    At::parse(text).unwrap()
}

/// A Postgres database migrated to just before times became `timestamptz`, holding [`LEGACY`].
async fn legacy_postgres(pg: &PgDatabase, extra: &[&str]) -> PgPool {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/postgres");
    let mut before = sqlx::migrate::Migrator::new(std::path::Path::new(dir))
        .await
        .unwrap();
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version <= BEFORE_TIMES)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let pool = PgPool::connect(&pg.url).await.unwrap();
    before.run(&pool).await.unwrap();
    for sql in LEGACY.iter().chain(extra) {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool
}

/// The table and column of every time column still stored as text.
async fn text_times(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name || '.' || column_name FROM information_schema.columns \
         WHERE table_schema = current_schema() AND data_type = 'text' \
         AND (column_name LIKE '%\\_at' OR column_name = 'at') ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_postgres_shop_from_before_keeps_every_time_as_the_instant_it_named() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let legacy = legacy_postgres(&pg, &[]).await;
    assert_eq!(
        text_times(&legacy).await.len(),
        23,
        "the times before: text"
    );

    let store = server::store::PgStore::open(&pg.url).await.unwrap();
    let pool = store.pool().clone();
    assert_eq!(text_times(&pool).await, Vec::<String>::new());
    let typed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() \
         AND data_type = 'timestamp with time zone' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(typed, 23);

    // every value is the instant its text named, whatever the form
    let one = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, At>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let expected = [
        (
            "SELECT created_at FROM products WHERE id = 1",
            "2026-11-01T00:00:00.000Z",
        ),
        (
            "SELECT created_at FROM products WHERE id = 2",
            "2026-11-01T00:00:00.250Z",
        ),
        (
            "SELECT created_at FROM orders WHERE id = 1",
            "2026-11-01T01:30:00.000Z",
        ),
        // never changed: changed when placed
        (
            "SELECT status_changed_at FROM orders WHERE id = 1",
            "2026-11-01T01:30:00.000Z",
        ),
        (
            "SELECT status_changed_at FROM orders WHERE id = 2",
            "2026-11-02T10:00:00.123Z",
        ),
        (
            "SELECT created_at FROM idempotency_keys",
            "2026-11-01T01:30:00.000Z",
        ),
        ("SELECT starts_at FROM sales", "2026-12-24T01:00:00.000Z"),
        ("SELECT ends_at FROM sales", "2026-12-25T01:00:00.000Z"),
        (
            "SELECT joined_at FROM queue_tickets WHERE id = 1",
            "2026-11-01T00:00:00.000Z",
        ),
        (
            "SELECT updated_at FROM queue_tickets WHERE id = 1",
            "2026-11-01T00:01:00.000Z",
        ),
        (
            "SELECT expires_at FROM holds WHERE id = 1",
            "2026-11-01T01:00:00.000Z",
        ),
        (
            "SELECT created_at FROM holds WHERE id = 2",
            "2026-11-01T00:00:00.000Z",
        ),
        ("SELECT created_at FROM owners", "2026-10-01T00:00:00.000Z"),
        (
            "SELECT created_at FROM owner_sessions",
            "2026-11-01T00:00:00.000Z",
        ),
        (
            "SELECT last_seen_at FROM owner_sessions",
            "2026-11-01T00:10:00.000Z",
        ),
        (
            "SELECT expires_at FROM owner_sessions",
            "2026-11-08T00:00:00.000Z",
        ),
        ("SELECT at FROM login_failures", "2026-11-01T00:00:01.000Z"),
        ("SELECT at FROM order_events", "2026-11-02T10:00:00.123Z"),
        ("SELECT paused_at FROM brakes", "2026-11-03T00:00:00.000Z"),
        ("SELECT at FROM product_audit", "2026-10-31T23:59:59.999Z"),
        (
            "SELECT updated_at FROM shop_settings",
            "1970-01-01T00:00:00.000Z",
        ),
        (
            "SELECT created_at FROM shop_pictures",
            "2026-11-01T00:00:00.000Z",
        ),
        (
            "SELECT started_at FROM rehearsals",
            "2026-11-04T00:00:00.000Z",
        ),
        ("SELECT beat_at FROM rehearsals", "2026-11-04T00:05:00.000Z"),
        (
            "SELECT finished_at FROM rehearsals",
            "2026-11-04T00:05:00.000Z",
        ),
    ];
    for (sql, time) in expected {
        assert_eq!(one(sql).await, at(time), "{sql}");
    }

    // ordered by time, not by how the text was written
    let by_expiry: Vec<i64> = sqlx::query_scalar("SELECT id FROM holds ORDER BY expires_at")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(by_expiry, [1, 2]);

    // the shop reads and writes the upgraded rows: an old order as its shopper sees it, and a
    // new order placed beside it, dated by the shop's clock
    let old = store
        .order(&OrderCode::parse("AAAA-AAAA").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.created_at, at("2026-11-01T01:30:00.000Z"));
    sqlx::query("UPDATE products SET stock = 5 WHERE id = 2")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM brakes")
        .execute(&pool)
        .await
        .unwrap();
    let before = At::from(chrono::Utc::now());
    let placed = store
        .place_order(common::new_order("after-the-upgrade", &[(2, 1)]))
        .await
        .unwrap();
    assert!(placed.created_at >= before.plus_secs(-1), "{placed:?}");
    let (created, changed): (At, At) =
        sqlx::query_as("SELECT created_at, status_changed_at FROM orders WHERE code = $1")
            .bind(placed.order_code.as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(created, placed.created_at);
    assert_eq!(
        changed, created,
        "a new order's status dates from its placing"
    );
}

#[tokio::test]
async fn a_row_that_is_not_a_time_stops_the_upgrade_and_changes_nothing() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let legacy = legacy_postgres(
        &pg,
        &["INSERT INTO login_failures (email, client, at) VALUES ('a@b.c', 'x', 'yesterday-ish')"],
    )
    .await;
    let opened = server::store::PgStore::open(&pg.url).await;
    let Err(e) = opened else {
        panic!("a shop with a time that is not a time opened");
    };
    assert!(format!("{e:#}").contains("yesterday-ish"), "{e:#}");
    // the migration ran in one transaction: nothing is half-converted
    assert_eq!(text_times(&legacy).await.len(), 23);
    let applied: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&legacy)
        .await
        .unwrap();
    assert_eq!(applied, BEFORE_TIMES);
}

#[tokio::test]
async fn an_sqlite_order_that_never_changed_status_changed_when_placed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/shop.db", dir.path().display());
    let store = server::store::SqliteStore::open(&url).await.unwrap();
    let db = common::shop::Db::Sqlite(store.writer().clone());
    db.exec("DELETE FROM _sqlx_migrations WHERE description = 'status changed when placed'")
        .await;
    db.exec(
        "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents,
            created_at) VALUES
            ('AAAA-AAAA', 'paid', 'Li', '+8613800138000', 'x', '', 100, '2026-11-01T00:00:00.000Z')",
    )
    .await;
    db.exec(
        "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents,
            created_at, status_changed_at) VALUES
            ('AAAA-BBBB', 'paid', 'Li', '+8613800138000', 'x', '', 100, '2026-11-01T00:00:00.000Z',
             '2026-11-02T00:00:00.000Z')",
    )
    .await;
    let upgraded = server::store::SqliteStore::open(&url).await.unwrap();
    let db = common::shop::Db::Sqlite(upgraded.writer().clone());
    let (never, changed): (At, At) = db
        .instants(
            "SELECT (SELECT status_changed_at FROM orders WHERE code = 'AAAA-AAAA'), \
             (SELECT status_changed_at FROM orders WHERE code = 'AAAA-BBBB')",
        )
        .await;
    assert_eq!(never, at("2026-11-01T00:00:00.000Z"));
    assert_eq!(changed, at("2026-11-02T00:00:00.000Z"));
}
