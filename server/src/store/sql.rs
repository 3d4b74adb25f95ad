//! The one way to reach the shop's database off the order desk's hot path: a statement ([`Sql`],
//! the same text on SQLite and Postgres, numbered `$n` parameters) run on the pool ([`Db`]) or
//! inside a transaction ([`Tx`]). Which database it is gets decided in the few methods here, not
//! at every query. The owner's side, the seeding and the shop's reads use it; the desk's writers
//! keep their own drivers (rusqlite on SQLite, set-based statements on Postgres).

use super::classify;
use app::domain::At;
use app::store::StoreError;
use sqlx::postgres::PgRow;
use sqlx::query::{Query, QueryAs};
use sqlx::sqlite::SqliteRow;
use sqlx::{Database, Encode, FromRow, Postgres, Sqlite, Type};

/// One argument of a statement, bound the same way on either database.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Bool(bool),
    Bytes(&'a [u8]),
    /// An instant (`timestamptz` on Postgres, its one text form on SQLite: see `At`'s `Encode`).
    At(At),
    OptAt(Option<At>),
}

impl From<Option<At>> for Arg<'_> {
    fn from(v: Option<At>) -> Self {
        Arg::OptAt(v)
    }
}

impl From<At> for Arg<'_> {
    fn from(v: At) -> Self {
        Arg::At(v)
    }
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::OptText(v)
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Bytes(v)
    }
}

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// A statement and its arguments.
#[derive(Debug, Clone)]
pub struct Sql<'a> {
    text: &'a str,
    args: Vec<Arg<'a>>,
}

/// A statement: `sql("… WHERE id = $1").bind(id)`.
pub fn sql(text: &str) -> Sql<'_> {
    Sql {
        text,
        args: Vec::new(),
    }
}

impl<'a> Sql<'a> {
    pub fn bind(mut self, arg: impl Into<Arg<'a>>) -> Sql<'a> {
        self.args.push(arg.into());
        self
    }
}

/// What a row can be read into on both databases (tuples of `i64`, `String`, `bool`, options, or
/// a `FromRow` struct).
pub trait Rows: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

impl<T> Rows for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// The statement as a query returning rows of `T` on database `DB`.
fn rows_query<'q, DB, T>(q: &'q Sql<'q>) -> QueryAs<'q, DB, T, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    T: for<'r> FromRow<'r, DB::Row>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
    At: Encode<'q, DB> + Type<DB>,
    Option<At>: Encode<'q, DB> + Type<DB>,
{
    q.args
        .iter()
        .fold(sqlx::query_as::<DB, T>(q.text), |query, arg| match *arg {
            Arg::Int(v) => query.bind(v),
            Arg::OptInt(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::OptText(v) => query.bind(v),
            Arg::Bool(v) => query.bind(v),
            Arg::Bytes(v) => query.bind(v),
            Arg::At(v) => query.bind(v),
            Arg::OptAt(v) => query.bind(v),
        })
}

/// The statement as a command on database `DB`.
fn command<'q, DB>(q: &'q Sql<'q>) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
    At: Encode<'q, DB> + Type<DB>,
    Option<At>: Encode<'q, DB> + Type<DB>,
{
    q.args
        .iter()
        .fold(sqlx::query::<DB>(q.text), |query, arg| match *arg {
            Arg::Int(v) => query.bind(v),
            Arg::OptInt(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::OptText(v) => query.bind(v),
            Arg::Bool(v) => query.bind(v),
            Arg::Bytes(v) => query.bind(v),
            Arg::At(v) => query.bind(v),
            Arg::OptAt(v) => query.bind(v),
        })
}

/// The shop's database: its pool, whichever database it is.
#[derive(Clone)]
pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    pub async fn all<T: Rows>(&self, q: Sql<'_>) -> Result<Vec<T>, StoreError> {
        match self {
            Db::Sqlite(p) => rows_query::<Sqlite, T>(&q).fetch_all(p).await,
            Db::Postgres(p) => rows_query::<Postgres, T>(&q).fetch_all(p).await,
        }
        .map_err(classify)
    }

    pub async fn optional<T: Rows>(&self, q: Sql<'_>) -> Result<Option<T>, StoreError> {
        match self {
            Db::Sqlite(p) => rows_query::<Sqlite, T>(&q).fetch_optional(p).await,
            Db::Postgres(p) => rows_query::<Postgres, T>(&q).fetch_optional(p).await,
        }
        .map_err(classify)
    }

    pub async fn one<T: Rows>(&self, q: Sql<'_>) -> Result<T, StoreError> {
        match self {
            Db::Sqlite(p) => rows_query::<Sqlite, T>(&q).fetch_one(p).await,
            Db::Postgres(p) => rows_query::<Postgres, T>(&q).fetch_one(p).await,
        }
        .map_err(classify)
    }

    /// Runs a command; the rows it changed.
    pub async fn execute(&self, q: Sql<'_>) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(p) => command::<Sqlite>(&q)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            Db::Postgres(p) => command::<Postgres>(&q)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
        }
        .map_err(classify)
    }

    /// Closes the pool (waits for its connections to be returned).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    /// A transaction that will write: committed by [`Tx::commit`], rolled back when dropped
    /// without it. The only way to open one here, so every write off the desk takes the same
    /// door: on SQLite it is `BEGIN IMMEDIATE`, the write lock taken before anything is read
    /// (a deferred one that read first would be refused its write, `SQLITE_BUSY_SNAPSHOT`,
    /// whenever another writer committed in between, and the busy timeout does not wait that
    /// out); on Postgres a plain `BEGIN`, its rows locked by the statements that change them.
    /// Reads that must see one state use [`Db::on_one_connection`].
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        match self {
            Db::Sqlite(p) => p.begin_with("BEGIN IMMEDIATE").await.map(Tx::Sqlite),
            Db::Postgres(p) => p.begin().await.map(Tx::Postgres),
        }
        .map_err(classify)
    }
}

/// A transaction on whichever database the shop has.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    /// The transaction's connection, for its statements.
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::Sqlite(tx),
            Tx::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    pub async fn all<T: Rows>(&mut self, q: Sql<'_>) -> Result<Vec<T>, StoreError> {
        self.conn().all(q).await
    }

    pub async fn optional<T: Rows>(&mut self, q: Sql<'_>) -> Result<Option<T>, StoreError> {
        self.conn().optional(q).await
    }

    pub async fn one<T: Rows>(&mut self, q: Sql<'_>) -> Result<T, StoreError> {
        self.conn().one(q).await
    }

    /// Runs a command; the rows it changed.
    pub async fn execute(&mut self, q: Sql<'_>) -> Result<u64, StoreError> {
        self.conn().execute(q).await
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
        .map_err(classify)
    }
}

/// One connection (a reader from a pool, or the desk's writer inside its transaction), for reads
/// that must all see the same state.
pub enum Conn<'c> {
    Sqlite(&'c mut sqlx::SqliteConnection),
    Postgres(&'c mut sqlx::PgConnection),
}

impl Conn<'_> {
    pub async fn all<T: Rows>(&mut self, q: Sql<'_>) -> Result<Vec<T>, StoreError> {
        match self {
            Conn::Sqlite(c) => rows_query::<Sqlite, T>(&q).fetch_all(&mut **c).await,
            Conn::Postgres(c) => rows_query::<Postgres, T>(&q).fetch_all(&mut **c).await,
        }
        .map_err(classify)
    }

    pub async fn optional<T: Rows>(&mut self, q: Sql<'_>) -> Result<Option<T>, StoreError> {
        match self {
            Conn::Sqlite(c) => rows_query::<Sqlite, T>(&q).fetch_optional(&mut **c).await,
            Conn::Postgres(c) => rows_query::<Postgres, T>(&q).fetch_optional(&mut **c).await,
        }
        .map_err(classify)
    }

    pub async fn one<T: Rows>(&mut self, q: Sql<'_>) -> Result<T, StoreError> {
        match self {
            Conn::Sqlite(c) => rows_query::<Sqlite, T>(&q).fetch_one(&mut **c).await,
            Conn::Postgres(c) => rows_query::<Postgres, T>(&q).fetch_one(&mut **c).await,
        }
        .map_err(classify)
    }

    /// Runs a command; the rows it changed.
    pub async fn execute(&mut self, q: Sql<'_>) -> Result<u64, StoreError> {
        match self {
            Conn::Sqlite(c) => command::<Sqlite>(&q)
                .execute(&mut **c)
                .await
                .map(|r| r.rows_affected()),
            Conn::Postgres(c) => command::<Postgres>(&q)
                .execute(&mut **c)
                .await
                .map(|r| r.rows_affected()),
        }
        .map_err(classify)
    }
}

impl Db {
    /// Runs `read` on one connection of the pool.
    pub async fn on_one_connection<T>(
        &self,
        read: impl for<'c> AsyncFnOnce(&mut Conn<'c>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Db::Sqlite(p) => {
                let mut c = p.acquire().await.map_err(classify)?;
                read(&mut Conn::Sqlite(&mut c)).await
            }
            Db::Postgres(p) => {
                let mut c = p.acquire().await.map_err(classify)?;
                read(&mut Conn::Postgres(&mut c)).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Transactions that read before they write, at once on one SQLite file from several
    /// connections: each waits its turn for the write lock, none is refused, none lost.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite_every_transaction_that_reads_then_writes_counts() -> anyhow::Result<()> {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        let dir = tempfile::tempdir()?;
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("door.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let db = Db::Sqlite(pool);
        db.execute(sql("CREATE TABLE counter (n INTEGER NOT NULL)"))
            .await?;
        db.execute(sql("INSERT INTO counter (n) VALUES (0)"))
            .await?;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let db = db.clone();
            set.spawn(async move {
                let mut tx = db.begin().await?;
                let (n,): (i64,) = tx.one(sql("SELECT n FROM counter")).await?;
                // the others read meanwhile, if they can
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                tx.execute(sql("UPDATE counter SET n = $1").bind(n + 1))
                    .await?;
                tx.commit().await
            });
        }
        let mut refused = Vec::new();
        while let Some(done) = set.join_next().await {
            if let Err(e) = done? {
                refused.push(e.to_string());
            }
        }
        assert!(refused.is_empty(), "refused: {refused:?}");
        let (n,): (i64,) = db.one(sql("SELECT n FROM counter")).await?;
        assert_eq!(n, 8, "every increment counted");
        Ok(())
    }
}
