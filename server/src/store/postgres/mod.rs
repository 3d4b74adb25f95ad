//! The Postgres backend, chosen when `DATABASE_URL` is `postgres://…`: the same order desk, sale
//! rules and waiting room as SQLite, on a connection pool. `synchronous_commit` is on (a commit
//! returns once its WAL is flushed), statements time out, and TLS (rustls) is used when the URL
//! asks for it (`sslmode=require` and stronger).

mod allowance;
mod bulk;
mod orders;
mod queue;
mod reads;
mod writer;

use super::classify;
use crate::desk::Desk;
use crate::store::clock::Clock;
use crate::store::jobs::{self, WriteDesk};
use crate::store::rows::{product_views, ProductRow, PRODUCT_COLUMNS, PRODUCT_TABLES};
pub use allowance::PgAllowance;
use app::domain::{NewOrder, OrderCode, OrderView, ProductImage, ProductView};
use app::store::{CheckoutError, CheckoutRules, ProductKey, Store, StoreError};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};
use std::str::FromStr;
use std::time::Duration;
use writer::PgBatchWriter;

/// Connections per server process for reads and the waiting room's lookups; the desk's writer has
/// one of its own besides.
const POOL_SIZE: u32 = 16;
const DESK_QUEUE: usize = 8192;
const DESK_BATCH: usize = 256;

/// Every connection's settings: durable commits, no statement or lock wait without end, UTC,
/// and no JIT: the shop's statements are short, and the few that scan many rows (likely the
/// control room's aggregates) crossed the JIT's cost threshold and were compiled by LLVM on
/// every run — 15 % of the machine's CPU in a surge (perf, 512 connections).
const SESSION: &str = "SET synchronous_commit = on; SET statement_timeout = '10s'; \
                       SET lock_timeout = '5s'; SET TIME ZONE 'UTC'; SET jit = off";

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    desk: WriteDesk,
    /// Where the desk, the reads and the usher read the time (a test may set it).
    clock: Clock,
}

impl PgStore {
    /// Connects (failing fast when the database is unreachable) and migrates.
    pub async fn open(url: &str) -> anyhow::Result<PgStore> {
        PgStore::open_with_clock(url, Clock::system()).await
    }

    /// [`PgStore::open`], reading the time from `clock`.
    pub async fn open_with_clock(url: &str, clock: Clock) -> anyhow::Result<PgStore> {
        use anyhow::Context;
        let options = PgConnectOptions::from_str(url).context("bad Postgres URL")?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            // a request waits at most this long for a connection, then is told to retry (503)
            .acquire_timeout(Duration::from_secs(3))
            .after_connect(|conn, _| {
                Box::pin(async move { conn.execute(SESSION).await.map(|_| ()) })
            })
            .connect_with(options.clone())
            .await
            .context("cannot connect to Postgres")?;
        sqlx::migrate!("../migrations/postgres")
            .run(&pool)
            .await
            .context("Postgres migration failed")?;
        let (desk, _writer_task) = Desk::start(
            PgBatchWriter::new(options, clock.clone()),
            DESK_QUEUE,
            DESK_BATCH,
        );
        Ok(PgStore { pool, desk, clock })
    }

    /// Per-client rate limits shared with every server on this database: `allowance` limited
    /// requests per client per `window`.
    pub fn shared_allowance(&self, allowance: u32, window: Duration) -> PgAllowance {
        PgAllowance::start(self.pool.clone(), allowance, window)
    }

    /// The pool, for seeding and for tests that set up data.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn with_images(&self, rows: Vec<ProductRow>) -> Result<Vec<ProductView>, StoreError> {
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let images: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT product_id, url, alt FROM product_images WHERE product_id = ANY($1) \
             ORDER BY product_id, position",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        let images: Vec<(i64, ProductImage)> = images
            .into_iter()
            .map(|(id, url, alt)| (id, ProductImage { url, alt }))
            .collect();
        Ok(product_views(rows, &images, &self.clock.now()))
    }
}

#[async_trait]
impl Store for PgStore {
    async fn products(&self) -> Result<Vec<ProductView>, StoreError> {
        self.read_products().await
    }

    async fn product(&self, key: &ProductKey) -> Result<Option<ProductView>, StoreError> {
        self.read_product(key).await
    }

    async fn products_by_ids(&self, ids: &[i64]) -> Result<Vec<ProductView>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<ProductRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_TABLES} WHERE p.id = ANY($1) AND NOT p.archived"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        self.with_images(rows).await
    }

    async fn place_order(&self, order: NewOrder) -> Result<OrderView, CheckoutError> {
        self.desk_place(order).await
    }

    async fn order(&self, code: &OrderCode) -> Result<Option<OrderView>, StoreError> {
        self.read_order(code).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.health().await
    }

    async fn checkout_rules(&self) -> Result<CheckoutRules, StoreError> {
        self.read_checkout_rules().await
    }
}

jobs::desk_backed!(PgStore, pool);
