//! The SQLite backend: WAL, `synchronous=FULL`, one writer connection taking `BEGIN IMMEDIATE`
//! transactions, and a pool of readers.
//!
//! Every write goes through the order desk (`crate::desk`): each batch is ONE write transaction
//! holding orders (`orders`), waiting-room joins, leaves and admission rounds (`queue`). One
//! commit, then the answers. Reads (catalogue, orders, tickets) use a pool of read-only
//! connections.

mod orders;
mod queue;
mod reads;
mod writer;

use super::classify;
use crate::desk::Desk;
use crate::store::clock::{fingerprint_hash, Clock, Now};
use crate::store::jobs::{self, WriteDesk};
use crate::store::rows::{product_views, ProductRow, PRODUCT_COLUMNS, PRODUCT_TABLES};
use app::domain::{NewOrder, OrderCode, OrderView, ProductImage, ProductView};
use app::store::{Cause, CheckoutError, CheckoutRules, ProductKey, Store, StoreError};
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;
use writer::{SqliteBatchWriter, WriterConnection};

/// Sorts a failure on the writer connection into "busy, try again" and "broken".
fn db_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::busy(Cause::of(e))
        }
        _ => StoreError::unexpected(Cause::of(e)),
    }
}

/// The writer connection's settings, as SQLite reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterSettings {
    pub journal_mode: String,
    /// 2 is FULL.
    pub synchronous: i64,
    pub foreign_keys: bool,
    pub busy_timeout_ms: i64,
}

/// How long a statement waits for a lock before SQLite reports busy. Writers queue on the single
/// writer connection first, so this is a last resort (another process holding the file).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const READERS: u32 = 8;

#[derive(Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    /// For migrations, seeding and tests' setup; orders and the waiting room write through the
    /// desk's own connection.
    write: SqlitePool,
    desk: WriteDesk,
    desk_connection: WriterConnection,
    /// Where the desk, the reads and the usher read the time (a test may set it).
    clock: Clock,
}

/// Jobs waiting for the desk before new ones are told to retry.
const DESK_QUEUE: usize = 8192;
/// Orders committed together at most (one transaction, one fsync).
const DESK_BATCH: usize = 256;

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url` (`sqlite://path`).
    pub async fn open(url: &str) -> anyhow::Result<SqliteStore> {
        SqliteStore::open_with_clock(url, Clock::system()).await
    }

    /// [`SqliteStore::open`], reading the time from `clock`.
    pub async fn open_with_clock(url: &str, clock: Clock) -> anyhow::Result<SqliteStore> {
        use anyhow::Context;
        let base = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("bad SQLite URL {url}"))?
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let write_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // an acknowledged order survives power loss: fsync on every commit
            .synchronous(SqliteSynchronous::Full);
        // one writer: writes queue fairly in the pool rather than spinning on SQLITE_BUSY
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(write_options)
            .await
            .with_context(|| format!("cannot open the database {url}"))?;
        sqlx::migrate!("../migrations/sqlite")
            .run(&write)
            .await
            .context("database migration failed")?;
        let read = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(base.read_only(true))
            .await
            .context("cannot open database readers")?;
        let path = path_of(url).with_context(|| format!("not a SQLite URL: {url}"))?;
        let desk_connection = writer::open_writer(&path, BUSY_TIMEOUT)?;
        let (desk, _writer_task) = Desk::start(
            SqliteBatchWriter {
                conn: desk_connection.clone(),
                clock: clock.clone(),
            },
            DESK_QUEUE,
            DESK_BATCH,
        );
        Ok(SqliteStore {
            read,
            write,
            desk,
            desk_connection,
            clock,
        })
    }

    /// The desk's writer connection's settings (durability is checked by tests).
    pub async fn writer_settings(&self) -> Result<WriterSettings, StoreError> {
        let conn = self.desk_connection.clone();
        tokio::task::spawn_blocking(move || {
            let c = conn
                .lock()
                .map_err(|_| StoreError::unexpected("the writer connection is poisoned"))?;
            let read = |pragma: &str| -> Result<rusqlite::types::Value, StoreError> {
                c.pragma_query_value(None, pragma, |r| r.get(0))
                    .map_err(db_error)
            };
            let int = |v: rusqlite::types::Value| match v {
                rusqlite::types::Value::Integer(i) => i,
                _ => -1,
            };
            Ok(WriterSettings {
                journal_mode: match read("journal_mode")? {
                    rusqlite::types::Value::Text(t) => t,
                    _ => String::new(),
                },
                synchronous: int(read("synchronous")?),
                foreign_keys: int(read("foreign_keys")?) == 1,
                busy_timeout_ms: int(read("busy_timeout")?),
            })
        })
        .await
        .map_err(|e| StoreError::unexpected(Cause::of(e)))?
    }

    /// The setup pool, for seeding and for tests that set up data.
    pub fn writer(&self) -> &SqlitePool {
        &self.write
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    async fn images_for(&self, ids: &[i64]) -> Result<Vec<(i64, ProductImage)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT product_id, url, alt FROM product_images WHERE product_id IN ({}) \
             ORDER BY product_id, position",
            placeholders(ids.len())
        );
        let mut q = sqlx::query_as::<_, (i64, String, String)>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&self.read).await.map_err(classify)?;
        Ok(rows
            .into_iter()
            .map(|(id, url, alt)| (id, ProductImage { url, alt }))
            .collect())
    }

    async fn with_images(&self, rows: Vec<ProductRow>) -> Result<Vec<ProductView>, StoreError> {
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let images = self.images_for(&ids).await?;
        Ok(product_views(rows, &images, &self.clock.now()))
    }
}

#[async_trait]
impl Store for SqliteStore {
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
        let sql = format!(
            "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_TABLES} WHERE p.id IN ({}) AND NOT p.archived",
            placeholders(ids.len())
        );
        let mut q = sqlx::query_as::<_, ProductRow>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&self.read).await.map_err(classify)?;
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

jobs::desk_backed!(SqliteStore, read);

/// The file a `sqlite://path` (or `sqlite:path`) URL names; `None` for other URLs.
pub fn path_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    rest.split('?').next().map(str::to_owned)
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
