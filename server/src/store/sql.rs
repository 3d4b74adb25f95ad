//! The one way to reach the shop's database off the order desk's hot path: a statement ([`Sql`],
//! the same text on SQLite and Postgres, numbered `$n` parameters) run on the pool ([`Db`]) or
//! inside a transaction ([`Tx`]). Which database it is gets decided in the few methods here, not
//! at every query. The owner's side, the seeding and the shop's reads use it; the desk's writers
//! keep their own drivers (rusqlite on SQLite, set-based statements on Postgres).

use super::classify;
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

    /// A transaction: committed by [`Tx::commit`], rolled back when dropped without it.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        match self {
            Db::Sqlite(p) => p.begin().await.map(Tx::Sqlite),
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
