//! One storage backend under test — SQLite (always) or Postgres (when reachable) — with the
//! setup and inspection helpers the contract tests use. The SQL uses numbered parameters, which
//! read the same on both.

use app::domain::At;
use app::store::{Store, WaitingRoom};
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use std::collections::HashMap;
use std::sync::Arc;

/// Both storage ports of one backend.
pub trait Backend: Store + WaitingRoom {}
impl<T: Store + WaitingRoom> Backend for T {}

/// A connection pool to the database under test, for setting up and inspecting.
pub enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

pub struct Shop {
    pub store: Arc<dyn Backend>,
    pub db: Db,
    pub name: &'static str,
    /// The store's clock: stopped at the shop's opening, moved by the test (no sleeping).
    pub clock: app::rules::Clock,
    _sqlite_dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl std::ops::Deref for Shop {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

/// Runs the same expression against whichever pool this is.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Pg($pool) => $body,
        }
    };
}

impl Shop {
    /// A fresh SQLite file with the demo catalogue.
    pub async fn sqlite() -> Shop {
        Shop::sqlite_at(app::rules::Clock::stopped_at(chrono::Utc::now())).await
    }

    /// [`Shop::sqlite`], its desk and reads on `clock`.
    pub async fn sqlite_at(clock: app::rules::Clock) -> Shop {
        let (store, dir) = super::fresh_store_at(clock.clone()).await;
        Shop {
            clock,
            db: Db::Sqlite(store.writer().clone()),
            store: Arc::new(store.ports()),
            name: "sqlite",
            _sqlite_dir: Some(dir),
            _pg: None,
        }
    }

    /// A fresh Postgres database with the demo catalogue, or `None` when Postgres is not
    /// reachable and not required (`HOLDFAST_REQUIRE_POSTGRES=1` makes that a failure).
    pub async fn postgres() -> Option<Shop> {
        Shop::postgres_at(app::rules::Clock::stopped_at(chrono::Utc::now())).await
    }

    /// [`Shop::postgres`], its desk and reads on `clock`.
    pub async fn postgres_at(clock: app::rules::Clock) -> Option<Shop> {
        let pg = PgDatabase::create().await?;
        let store = server::store::PgStore::open_with_clock(&pg.url, clock.clone())
            .await
            .expect("Postgres store opens");
        server::store::seed::seed_if_empty_postgres(&store)
            .await
            .expect("seeding Postgres");
        Some(Shop {
            clock,
            db: Db::Pg(store.pool().clone()),
            store: Arc::new(store.ports()),
            name: "postgres",
            _sqlite_dir: None,
            _pg: Some(pg),
        })
    }
}

impl Shop {
    /// Puts a product on sale, its times relative to the shop's clock.
    pub async fn set_sale(&self, product_id: i64, sale: super::Sale) {
        self.db
            .set_sale_from(self.clock.instant(), product_id, sale)
            .await;
    }

    /// Moves a sale's start to a second ago on the shop's clock.
    pub async fn start_sale_now(&self, product_id: i64) {
        self.db
            .start_sale_at(
                self.clock.instant() - chrono::Duration::seconds(1),
                product_id,
            )
            .await;
    }
}

impl Db {
    pub async fn set_stock(&self, product_id: i64, stock: i64) {
        on_db!(self, pool => sqlx::query("UPDATE products SET stock = $1 WHERE id = $2")
            .bind(stock)
            .bind(product_id)
            .execute(pool)
            .await
            .map(|_| ()))
        .unwrap();
    }

    /// A query without parameters that answers one number.
    pub async fn count(&self, sql: &str) -> i64 {
        on_db!(self, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
    }

    /// A query without parameters that answers one row of instants (stored as text on SQLite,
    /// `timestamptz` on Postgres).
    pub async fn instants<T>(&self, sql: &str) -> T
    where
        T: Send + Unpin,
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        on_db!(self, pool => sqlx::query_as::<_, T>(sql).fetch_one(pool).await).unwrap()
    }

    /// A query without parameters that answers one text.
    pub async fn text(&self, sql: &str) -> String {
        on_db!(self, pool => sqlx::query_scalar::<_, String>(sql).fetch_one(pool).await).unwrap()
    }

    pub async fn exec(&self, sql: &str) {
        on_db!(self, pool => sqlx::query(sql).execute(pool).await.map(|_| ())).unwrap();
    }

    pub async fn scalar(&self, sql: &str, product_id: i64) -> i64 {
        on_db!(self, pool => sqlx::query_scalar::<_, i64>(sql).bind(product_id).fetch_one(pool).await)
            .unwrap()
    }

    pub async fn stock(&self, product_id: i64) -> i64 {
        self.scalar("SELECT stock FROM products WHERE id = $1", product_id)
            .await
    }

    pub async fn price(&self, product_id: i64) -> i64 {
        self.scalar("SELECT price_cents FROM products WHERE id = $1", product_id)
            .await
    }

    pub async fn units_sold(&self, product_id: i64) -> i64 {
        self.scalar(
            // a cancelled order's units are back in stock
            "SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM order_lines l \
             JOIN orders o ON o.id = l.order_id WHERE l.product_id = $1 AND o.status <> 'cancelled'",
            product_id,
        )
        .await
    }

    pub async fn units_held(&self, product_id: i64) -> i64 {
        self.scalar(
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM holds \
             WHERE product_id = $1 AND state = 'live'",
            product_id,
        )
        .await
    }

    /// stock + sold + held, which must always equal what the shop put up.
    pub async fn accounted(&self, product_id: i64) -> i64 {
        self.stock(product_id).await
            + self.units_sold(product_id).await
            + self.units_held(product_id).await
    }

    pub async fn orders(&self) -> i64 {
        on_db!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM orders").fetch_one(pool).await)
            .unwrap()
    }

    pub async fn ticket_states(&self, product_id: i64) -> HashMap<String, i64> {
        let rows: Vec<(String, i64)> = on_db!(self, pool => sqlx::query_as(
            "SELECT state, COUNT(*) FROM queue_tickets WHERE product_id = $1 GROUP BY state",
        )
        .bind(product_id)
        .fetch_all(pool)
        .await)
        .unwrap();
        rows.into_iter().collect()
    }

    /// The tickets that got holds, in the order they were admitted.
    pub async fn admitted_in_order(&self, product_id: i64) -> Vec<i64> {
        on_db!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT ticket_id FROM holds WHERE product_id = $1 ORDER BY id",
        )
        .bind(product_id)
        .fetch_all(pool)
        .await)
        .unwrap()
    }

    pub async fn set_sale(&self, product_id: i64, sale: super::Sale) {
        self.set_sale_from(chrono::Utc::now(), product_id, sale)
            .await;
    }

    /// Puts a product on sale, its times relative to `now`.
    pub async fn set_sale_from(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        product_id: i64,
        sale: super::Sale,
    ) {
        let starts = now + chrono::Duration::seconds(sale.starts_in_secs);
        let ends = starts + chrono::Duration::seconds(sale.lasts_secs);
        on_db!(self, pool => sqlx::query(
            "INSERT INTO sales (product_id, starts_at, ends_at, sale_price_cents, \
             per_customer_limit, waiting_room, hold_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (product_id) DO UPDATE SET starts_at = excluded.starts_at, \
             ends_at = excluded.ends_at, sale_price_cents = excluded.sale_price_cents, \
             per_customer_limit = excluded.per_customer_limit, \
             waiting_room = excluded.waiting_room, hold_seconds = excluded.hold_seconds",
        )
        .bind(product_id)
        .bind(At::from(starts))
        .bind(At::from(ends))
        .bind(sale.price_cents)
        .bind(sale.limit)
        .bind(sale.waiting_room)
        .bind(sale.hold_seconds)
        .execute(pool)
        .await
        .map(|_| ()))
        .unwrap();
    }

    pub async fn start_sale_at(&self, start: chrono::DateTime<chrono::Utc>, product_id: i64) {
        let start = At::from(start);
        on_db!(self, pool => sqlx::query("UPDATE sales SET starts_at = $1 WHERE product_id = $2")
            .bind(start)
            .bind(product_id)
            .execute(pool)
            .await
            .map(|_| ()))
        .unwrap();
    }

    pub async fn order_codes(&self) -> Vec<String> {
        on_db!(self, pool => sqlx::query_scalar::<_, String>("SELECT code FROM orders ORDER BY id")
            .fetch_all(pool)
            .await)
        .unwrap()
    }

    pub async fn tickets(&self) -> i64 {
        on_db!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM queue_tickets")
            .fetch_one(pool)
            .await)
        .unwrap()
    }

    /// Everything an order could change, to prove a refused request changed nothing.
    pub async fn snapshot(&self) -> (Vec<(i64, i64)>, i64, i64, i64) {
        let stock: Vec<(i64, i64)> = on_db!(self, pool => sqlx::query_as(
            "SELECT id, stock FROM products ORDER BY id",
        )
        .fetch_all(pool)
        .await)
        .unwrap();
        let count = |sql: &'static str| async move {
            on_db!(self, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
        };
        (
            stock,
            count("SELECT COUNT(*) FROM orders").await,
            count("SELECT COUNT(*) FROM order_lines").await,
            count("SELECT COUNT(*) FROM idempotency_keys").await,
        )
    }

    /// Runs `work` while the desk's writer is held back (SQLite: the file's write lock;
    /// Postgres: product `product_id`'s row), so that what `work` queues on its first poll waits
    /// for the desk together and is written as one batch (the first job may be taken alone,
    /// before the writer blocks). The hold ends once `work` is waiting.
    pub async fn while_writer_held<F: std::future::Future>(
        &self,
        product_id: i64,
        work: F,
    ) -> F::Output {
        let mut work = std::pin::pin!(work);
        let begin = match self {
            Db::Sqlite(_) => "BEGIN IMMEDIATE",
            Db::Pg(_) => "BEGIN",
        };
        let first = on_db!(self, pool => {
            let mut held = pool.begin_with(begin).await.unwrap();
            sqlx::query("UPDATE products SET stock = stock WHERE id = $1")
                .bind(product_id)
                .execute(&mut *held)
                .await
                .unwrap();
            let first = futures::poll!(work.as_mut());
            held.rollback().await.unwrap();
            first
        });
        match first {
            std::task::Poll::Ready(done) => done,
            std::task::Poll::Pending => work.await,
        }
    }

    /// The SQLite pool, for tests of SQLite-only mechanics.
    pub fn sqlite(&self) -> &SqlitePool {
        match self {
            Db::Sqlite(pool) => pool,
            Db::Pg(_) => panic!("this test is SQLite-only"),
        }
    }
}

/// A throwaway Postgres database, dropped (forcibly) when the test ends.
pub struct PgDatabase {
    pub url: String,
    pub admin: String,
    pub name: String,
}

impl PgDatabase {
    pub async fn create() -> Option<PgDatabase> {
        let admin = std::env::var("HOLDFAST_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let required = std::env::var("HOLDFAST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let pool = match PgPool::connect(&admin).await {
            Ok(pool) => pool,
            Err(e) if !required => {
                eprintln!("Postgres unreachable at {admin} ({e}): Postgres variant skipped");
                return None;
            }
            Err(e) => {
                panic!("HOLDFAST_REQUIRE_POSTGRES=1 but Postgres is unreachable at {admin}: {e}")
            }
        };
        let name = format!("holdfast_test_{:016x}", rand::random::<u64>());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .expect("create the test database");
        pool.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Some(PgDatabase {
            url: format!("{base}/{name}"),
            admin,
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop cannot await: a short-lived runtime on its own thread does the cleanup
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(pool) = PgPool::connect(&admin).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&pool)
                                .await;
                        pool.close().await;
                    }
                });
            }
        })
        .join();
    }
}

/// Runs each named test body (`async fn name(shop: Shop)`) on SQLite and on Postgres.
#[macro_export]
macro_rules! contract_tests {
    ($($name:ident),+ $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::shop::Shop::sqlite().await).await
                }
            )+
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(shop) = $crate::common::shop::Shop::postgres().await {
                        super::$name(shop).await
                    }
                }
            )+
        }
    };
}

/// Runs each named HTTP test body (`async fn name(kind: Kind)`, which starts its own server with
/// `spawn_on(kind, …)`) against a server on SQLite and one on Postgres.
#[macro_export]
macro_rules! http_contract_tests {
    ($($name:ident),+ $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Kind::Sqlite).await
                }
            )+
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(pg) = $crate::common::shop::PgDatabase::create().await {
                        super::$name($crate::common::Kind::Postgres(pg)).await
                    }
                }
            )+
        }
    };
}
