//! The SQLite backend: WAL, `synchronous=FULL`, one writer connection taking `BEGIN IMMEDIATE`
//! transactions, and a pool of readers.
//!
//! Every write goes through the order desk (`crate::desk`): each batch is ONE write transaction
//! holding orders (`orders`), waiting-room joins, leaves and admission rounds (`queue`). One
//! commit, then the answers. Reads (catalogue, orders, tickets) use a pool of read-only
//! connections.

mod tx;
mod writer;

use crate::desk::Desk;
use crate::store::clock::{Clock, Now};
use crate::store::desk_store::DeskStore;
use crate::store::sql::Db;
use app::store::{Cause, StoreError};
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
    desk_connection: WriterConnection,
    /// The storage ports: reads on `read`, writes through the desk.
    ports: DeskStore,
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
                wrote: true,
            },
            DESK_QUEUE,
            DESK_BATCH,
        );
        Ok(SqliteStore {
            ports: DeskStore::new(Db::Sqlite(read.clone()), desk, clock),
            read,
            write,
            desk_connection,
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

    /// The storage ports (`Store`, `WaitingRoom`) of this database.
    pub fn ports(&self) -> DeskStore {
        self.ports.clone()
    }
}

impl std::ops::Deref for SqliteStore {
    type Target = DeskStore;
    fn deref(&self) -> &DeskStore {
        &self.ports
    }
}

/// The file a `sqlite://path` (or `sqlite:path`) URL names; `None` for other URLs.
pub fn path_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    rest.split('?').next().map(str::to_owned)
}
