//! The rehearsal's own copy of the shop, taken without ever writing to the live data: on SQLite
//! the online backup into `<data>/rehearsal-<id>/holdfast.db`; on Postgres a database of its
//! own beside the live one ([`super::pg_copy`]). On the copy the rehearsed sale is moved to start
//! now; after the run the audit reads it; then the copy is deleted. The reads and writes here go
//! through [`Db`], the same statements on both databases.

use super::pg_copy;
use crate::config::Config;
use crate::store::sql::{sql, Db};
use anyhow::{bail, Context};
use app::domain::At;
use std::path::PathBuf;
use std::time::Duration;

/// The product and sale as the copy holds them when the crowd arrives.
#[derive(Debug, Clone)]
pub struct Stage {
    pub product_id: i64,
    pub name: String,
    pub slug: String,
    /// The sale sends shoppers through the waiting room.
    pub waiting_room: bool,
    /// How long a waiting-room hold lasts, when there is a sale.
    pub hold_seconds: Option<i64>,
    pub before: Counts,
}

/// The product's units in the copy at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Free to take.
    pub stock: i64,
    /// In live waiting-room holds.
    pub held: i64,
    /// On orders since cancelled (their units went back to stock).
    pub cancelled: i64,
    /// The newest order's id: orders after it are the rehearsal's.
    pub last_order: i64,
}

/// Where rehearsal `id` keeps its copy.
pub struct Place {
    /// The second shop's data directory (on SQLite, where the copied database is).
    pub dir: PathBuf,
    /// The live shop's data directory, where earlier rehearsals' directories may be left.
    data_dir: PathBuf,
    live: Live,
}

/// The live database the copy is taken from.
enum Live {
    Sqlite(PathBuf),
    /// Its URL, and the name of the copy database.
    Postgres {
        url: String,
        copy: String,
    },
}

/// Whether `rest` (a name after its `rehearsal-` or `_rehearsal_`) is a rehearsal's id.
pub fn is_rehearsal_id(rest: &str) -> bool {
    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())
}

impl Place {
    pub fn of(config: &Config, id: i64) -> anyhow::Result<Place> {
        let live = match config.sqlite_path() {
            Some(path) => Live::Sqlite(path),
            None => {
                let url = config.database_url();
                let copy = pg_copy::copy_name(&url, id)?;
                Live::Postgres { url, copy }
            }
        };
        Ok(Place {
            dir: config.data_dir.join(format!("rehearsal-{id}")),
            data_dir: config.data_dir.clone(),
            live,
        })
    }

    /// Takes the copy of the live database.
    pub async fn take(&self) -> anyhow::Result<Copy> {
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir)
                .with_context(|| format!("cannot clear {}", self.dir.display()))?;
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let url = match &self.live {
            Live::Postgres { url, copy } => Some(pg_copy::take(url, copy).await?),
            Live::Sqlite(live) => {
                let (live, copy) = (live.clone(), self.dir.join("holdfast.db"));
                tokio::task::spawn_blocking(move || crate::ops::backup::backup(&live, &copy))
                    .await??;
                None
            }
        };
        let db = match &url {
            Some(url) => Db::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await
                    .context("cannot open the copy database")?,
            ),
            None => Db::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(
                        sqlx::sqlite::SqliteConnectOptions::new()
                            .filename(self.dir.join("holdfast.db"))
                            .busy_timeout(Duration::from_secs(10)),
                    )
                    .await
                    .context("cannot open the copy")?,
            ),
        };
        Ok(Copy {
            dir: self.dir.clone(),
            url,
            db,
        })
    }

    /// Deletes the copy (whatever of it was made), and any an earlier rehearsal left behind
    /// (only one runs at a time: any other is stale). Logs what it cannot delete.
    pub async fn discard(&self) {
        let stale = std::fs::read_dir(&self.data_dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix("rehearsal-"))
                    .is_some_and(is_rehearsal_id)
                    && p.is_dir()
            });
        for dir in stale {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "could not delete a rehearsal's copy");
            }
        }
        if let Live::Postgres { url, copy } = &self.live {
            if let Err(e) = pg_copy::drop_all(url, copy).await {
                tracing::warn!(database = %copy, error = format!("{e:#}"), "could not drop a rehearsal's copy database");
            }
        }
    }
}

/// The copy, open.
pub struct Copy {
    /// The second shop's data directory.
    pub dir: PathBuf,
    /// On Postgres, the copy database's URL (the second shop's `DATABASE_URL`).
    pub url: Option<String>,
    db: Db,
}

impl Copy {
    /// Sets the copy up for the crowd: the product's sale (if any) starts now and lasts at least
    /// `lasting_secs`; the stock is `stock` if given. Gives what the audit starts from.
    pub async fn stage(
        &self,
        product_id: i64,
        stock: Option<i64>,
        now: &app::rules::Now,
        lasting_secs: i64,
    ) -> anyhow::Result<Stage> {
        let product: Option<(String, String)> = self
            .db
            .optional(sql("SELECT name, slug FROM products WHERE id = $1").bind(product_id))
            .await?;
        let Some((name, slug)) = product else {
            bail!("there is no product {product_id}");
        };
        let sale: Option<(At, At, bool, i64)> = self
            .db
            .optional(
                sql(
                    "SELECT starts_at, ends_at, waiting_room, hold_seconds FROM sales \
                     WHERE product_id = $1",
                )
                .bind(product_id),
            )
            .await?;
        if let Some((starts_at, ends_at, _, _)) = &sale {
            let length = starts_at.secs_until(*ends_at).max(lasting_secs);
            let ends = now.instant().plus_secs(length);
            self.db
                .execute(
                    sql("UPDATE sales SET starts_at = $1, ends_at = $2 WHERE product_id = $3")
                        .bind(now.instant())
                        .bind(ends)
                        .bind(product_id),
                )
                .await?;
        }
        if let Some(stock) = stock {
            self.db
                .execute(
                    sql("UPDATE products SET stock = $1 WHERE id = $2")
                        .bind(stock)
                        .bind(product_id),
                )
                .await?;
        }
        Ok(Stage {
            product_id,
            name,
            slug,
            waiting_room: sale.as_ref().is_some_and(|s| s.2),
            hold_seconds: sale.map(|s| s.3),
            before: self.counts(product_id).await?,
        })
    }

    /// After the run: the product's units now, its units on the orders made since
    /// `last_order` (cancelled ones included), and those orders' codes. Closes the copy.
    pub async fn after(
        self,
        product_id: i64,
        last_order: i64,
    ) -> anyhow::Result<(Counts, i64, Vec<String>)> {
        let counts = self.counts(product_id).await?;
        let (sold,): (i64,) = self
            .db
            .one(
                sql(
                    "SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM order_lines l \
                     JOIN orders o ON o.id = l.order_id WHERE l.product_id = $1 AND o.id > $2",
                )
                .bind(product_id)
                .bind(last_order),
            )
            .await?;
        let codes: Vec<(String,)> = self
            .db
            .all(sql("SELECT code FROM orders WHERE id > $1").bind(last_order))
            .await?;
        self.db.close().await;
        Ok((counts, sold, codes.into_iter().map(|(c,)| c).collect()))
    }

    async fn counts(&self, product_id: i64) -> anyhow::Result<Counts> {
        let one = |text| async move {
            self.db
                .one::<(i64,)>(sql(text).bind(product_id))
                .await
                .map(|(n,)| n)
        };
        Ok(Counts {
            stock: one("SELECT stock FROM products WHERE id = $1").await?,
            held: one(
                "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM holds \
                 WHERE product_id = $1 AND state = 'live'",
            )
            .await?,
            cancelled: one(
                "SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM order_lines l \
                 JOIN orders o ON o.id = l.order_id \
                 WHERE l.product_id = $1 AND o.status = 'cancelled'",
            )
            .await?,
            last_order: self
                .db
                .one::<(i64,)>(sql(
                    "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM orders",
                ))
                .await?
                .0,
        })
    }
}
