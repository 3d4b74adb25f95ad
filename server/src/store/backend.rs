//! The database the shop runs on, chosen by its URL: opened (and migrated), seeded with the
//! demo catalogue when asked, and handed out as the app's ports and the plain `Db`.

use super::{DeskStore, PgStore, SqliteStore};
use app::rules::Clock;
use app::store::{Store, WaitingRoom};
use std::sync::Arc;

pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Backend {
    /// Opens and migrates the database at `url` (`sqlite://…` or `postgres://…`), its desk and
    /// reads on `clock`; writes the demo catalogue into an empty one if `seed_demo`.
    pub async fn open(url: &str, clock: Clock, seed_demo: bool) -> anyhow::Result<Backend> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(PgStore::open_with_clock(url, clock).await?)
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite(SqliteStore::open_with_clock(url, clock).await?)
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://");
        };
        if seed_demo {
            let seeded = match &backend {
                Backend::Sqlite(s) => super::seed::seed_if_empty(s).await?,
                Backend::Postgres(p) => super::seed::seed_if_empty_postgres(p).await?,
            };
            if seeded {
                tracing::info!("seeded the demo catalogue");
            }
        }
        Ok(backend)
    }

    /// The storage ports, the same for both databases.
    pub fn ports(&self) -> DeskStore {
        match self {
            Backend::Sqlite(s) => s.ports(),
            Backend::Postgres(p) => p.ports(),
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.ports())
    }

    pub fn queue(&self) -> Arc<dyn WaitingRoom> {
        Arc::new(self.ports())
    }

    /// The database off the desk (`store::sql`): the owner's side, the shop's settings, the
    /// monitoring's reads. On SQLite, the writer's pool (one connection: writes wait their turn
    /// there, not on the file lock).
    pub fn db(&self) -> super::sql::Db {
        match self {
            Backend::Sqlite(s) => super::sql::Db::Sqlite(s.writer().clone()),
            Backend::Postgres(p) => super::sql::Db::Postgres(p.pool().clone()),
        }
    }

    /// Its name, for the build's metric.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        match self {
            Backend::Sqlite(s) => s.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }
}
