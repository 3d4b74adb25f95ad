//! Storage backends implementing `app::store::Store`. SQLite is the embedded default.

pub mod backend;
pub mod cached;
pub(crate) mod clock;
pub mod desk_store;
pub(crate) mod jobs;
pub mod postgres;
pub(crate) mod rows;
pub(crate) mod sales;
pub mod seed;
pub mod settings_db;
pub mod sql;
pub(crate) mod sql_reads;
pub mod sqlite;
pub(crate) mod writes;

/// A per-client allowance shared by every server of the shop (kept in the shared database:
/// `postgres::allowance`), asked by the edge's rate limits.
#[async_trait::async_trait]
pub trait SharedAllowance: Send + Sync {
    /// `Ok(Ok(()))` to go on, `Ok(Err(secs))` to wait, `Err` when no decision could be made.
    async fn check(&self, client: String) -> Result<Result<(), u32>, app::store::StoreError>;
}

pub use cached::CatalogueCache;
pub use desk_store::{DeskStore, LineReading};
pub use postgres::PgStore;

pub use sqlite::SqliteStore;

use app::store::{Cause, StoreError};

/// Sorts a database failure into "busy, try again" and "broken".
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        // the database is unreachable, restarting or out of connections: fail fast, retry later
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::busy(Cause::of(e)),
        // Postgres: serialization failure, deadlock, lock or statement timeout, too many
        // connections, shutting down, connection exceptions (class 08)
        sqlx::Error::Database(db)
            if db.code().as_deref().is_some_and(|c| {
                matches!(
                    c,
                    "40001" | "40P01" | "55P03" | "57014" | "53300" | "57P01" | "57P02" | "57P03"
                ) || c.starts_with("08")
            }) =>
        {
            StoreError::busy(Cause::of(e))
        }
        // SQLITE_BUSY (5) / SQLITE_LOCKED (6): only if busy_timeout ran out
        sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("5" | "6" | "517")) => {
            StoreError::busy(Cause::of(e))
        }
        _ => StoreError::unexpected(Cause::of(e)),
    }
}
