//! Storage backends implementing `app::store::Store`. SQLite is the embedded default.

pub mod cached;
pub(crate) mod clock;
pub(crate) mod jobs;
pub mod postgres;
pub(crate) mod sales;
pub mod sqlite;

pub use cached::CatalogueCache;

pub use sqlite::SqliteStore;

use app::store::StoreError;

/// Sorts a database failure into "busy, try again" and "broken".
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut => StoreError::Busy(e.to_string()),
        // SQLITE_BUSY (5) / SQLITE_LOCKED (6): only if busy_timeout ran out
        sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("5" | "6" | "517")) => {
            StoreError::Busy(e.to_string())
        }
        _ => StoreError::Unexpected(e.to_string()),
    }
}
