//! The Postgres backend, chosen when `DATABASE_URL` is `postgres://…`: the same order desk, sale
//! rules and waiting room as SQLite, on a connection pool. `synchronous_commit` is on (a commit
//! returns once its WAL is flushed), statements time out, and TLS (rustls) is used when the URL
//! asks for it (`sslmode=require` and stronger).

mod allowance;
mod tx;
mod writer;

use super::classify;
use crate::desk::Desk;
use crate::store::clock::Clock;
use crate::store::desk_store::DeskStore;
use crate::store::sql::Db;
pub use allowance::PgAllowance;
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
    /// The storage ports: reads on `pool`, writes through the desk.
    ports: DeskStore,
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
        Ok(PgStore {
            ports: DeskStore::new(Db::Postgres(pool.clone()), desk, clock),
            pool,
        })
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

    /// The storage ports (`Store`, `WaitingRoom`) of this database.
    pub fn ports(&self) -> DeskStore {
        self.ports.clone()
    }
}

impl std::ops::Deref for PgStore {
    type Target = DeskStore;
    fn deref(&self) -> &DeskStore {
        &self.ports
    }
}
