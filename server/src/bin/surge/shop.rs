//! The server under test, in its own process, on a fresh SQLite file or Postgres database.

use super::*;

/// The server under test, in its own process; killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) db: BenchDb,
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) _pg: Option<PgDatabase>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The database a scenario's server runs on, for setup and the audit. The SQL uses numbered
/// parameters, which read the same on SQLite and Postgres.
#[derive(Clone)]
pub(crate) enum BenchDb {
    Sqlite(SqlitePool),
    Pg(sqlx::PgPool),
}

impl BenchDb {
    pub(crate) async fn scalar(&self, sql: &str, product: i64) -> anyhow::Result<i64> {
        Ok(match self {
            BenchDb::Sqlite(p) => sqlx::query_scalar(sql).bind(product).fetch_one(p).await?,
            BenchDb::Pg(p) => sqlx::query_scalar(sql).bind(product).fetch_one(p).await?,
        })
    }

    pub(crate) async fn exec(&self, sql: &str) -> anyhow::Result<()> {
        match self {
            BenchDb::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ())?,
            BenchDb::Pg(p) => sqlx::query(sql).execute(p).await.map(|_| ())?,
        }
        Ok(())
    }

    pub(crate) async fn codes(&self) -> anyhow::Result<HashSet<String>> {
        let codes: Vec<String> = match self {
            BenchDb::Sqlite(p) => {
                sqlx::query_scalar("SELECT code FROM orders")
                    .fetch_all(p)
                    .await?
            }
            BenchDb::Pg(p) => {
                sqlx::query_scalar("SELECT code FROM orders")
                    .fetch_all(p)
                    .await?
            }
        };
        Ok(codes.into_iter().collect())
    }
}

/// A throwaway Postgres database for one scenario, dropped afterwards.
pub(crate) struct PgDatabase {
    pub(crate) admin: String,
    pub(crate) name: String,
    pub(crate) url: String,
}

impl PgDatabase {
    pub(crate) async fn create(admin: &str) -> anyhow::Result<PgDatabase> {
        let pool = sqlx::PgPool::connect(admin)
            .await
            .with_context(|| format!("cannot reach Postgres at {admin}"))?;
        let name = format!("holdfast_surge_{:016x}", rand::random::<u64>());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await?;
        pool.close().await;
        let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
        Ok(PgDatabase {
            admin: admin.to_owned(),
            url: format!("{base}/{name}"),
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(&drop).execute(&pool).await;
                    }
                });
            }
        })
        .join();
    }
}

impl Server {
    /// A server on a fresh database (`postgres`: an admin URL to make one on); `max_in_flight`
    /// `None` keeps the server's own default.
    pub(crate) async fn start(
        max_in_flight: Option<usize>,
        postgres: Option<&str>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let pg = match postgres {
            Some(admin) => Some(PgDatabase::create(admin).await?),
            None => None,
        };
        Server::spawn(max_in_flight, pg, None, env).await
    }

    /// Another server of the same shop: the same Postgres database and secret.
    pub(crate) async fn beside(&self, env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let url = self
            ._pg
            .as_ref()
            .map(|pg| pg.url.clone())
            .context("only a Postgres shop has several servers")?;
        Server::spawn(None, None, Some(url), env).await
    }

    pub(crate) async fn spawn(
        max_in_flight: Option<usize>,
        pg: Option<PgDatabase>,
        shared: Option<String>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let exe = match SERVER_BIN.get() {
            Some(path) => path.clone(),
            None => std::env::current_exe()?.with_file_name("server"),
        };
        if !exe.exists() {
            bail!(
                "{} is missing: build it first (scripts/surge does)",
                exe.display()
            );
        }
        let dir = tempfile::tempdir()?;
        let url = pg.as_ref().map(|pg| pg.url.clone()).or(shared);
        let mut command = if SPLIT_CORES.load(Ordering::Relaxed) {
            let mut pinned = Command::new("taskset");
            pinned.args(["-c", "0"]).arg(&exe);
            pinned
        } else {
            Command::new(&exe)
        };
        if let Some(url) = &url {
            command.env("DATABASE_URL", url).env(
                "HOLDFAST_SECRET",
                "surge-servers-of-one-shop-share-this-secret",
            );
        }
        if let Some(n) = max_in_flight {
            command.env("HOLDFAST_MAX_ORDERS_IN_FLIGHT", n.to_string());
        }
        command.envs(env.iter().copied());
        let mut child = command
            .env("HOLDFAST_ADDR", "127.0.0.1:0")
            .env("HOLDFAST_DATA_DIR", dir.path())
            // no bundles: a release server compresses its WASM once at first start (brotli 11,
            // seconds of a core; a debug bundle left in target/site takes minutes), which is not
            // what a surge costs — by then the compressed files exist. Pages render without them.
            .env("LEPTOS_SITE_ROOT", dir.path().join("site"))
            // every simulated shopper connects from 127.0.0.1: per-client limits would refuse
            // them (behind a real proxy each phone has its own address)
            .env("HOLDFAST_RATE_LIMIT_PER_SEC", "0")
            .env("HOLDFAST_MAX_CONNECTIONS_PER_CLIENT", "1000000")
            // several servers at once: none takes the default metrics port
            .env("HOLDFAST_METRICS_ADDR", "off")
            .env("RUST_LOG", "warn,server::startup=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let base = process::announced_address(stdout, Duration::from_secs(30))?;
        let db = match &url {
            Some(url) => BenchDb::Pg(sqlx::PgPool::connect(url).await?),
            None => BenchDb::Sqlite(
                SqlitePool::connect(&format!("sqlite://{}/holdfast.db", dir.path().display()))
                    .await?,
            ),
        };
        Ok(Server {
            child,
            base,
            db,
            _dir: dir,
            _pg: pg,
        })
    }

    /// (resident now, peak resident) in MiB, from /proc.
    pub(crate) fn memory_mib(&self) -> (f64, f64) {
        process::memory_mib(self.child.id())
    }

    pub(crate) async fn exec(&self, sql: &str) -> anyhow::Result<()> {
        self.db.exec(sql).await
    }

    /// CPU seconds the server has used (user + system), from /proc.
    pub(crate) fn cpu_secs(&self) -> f64 {
        process::cpu_secs(self.child.id())
    }
}

/// One order of one unit of `product` (no hold), answered and timed.
pub(crate) async fn plain_order(
    http: &reqwest::Client,
    base: &str,
    key: String,
    product: i64,
    phone: &str,
) -> Sample {
    let body = order_body(key, product, phone, None);
    send(
        "order",
        http.post(format!("{base}/api/place_order")).json(&body),
    )
    .await
    .0
}
