//! `surge`: the surge benchmark. Starts the real `server` binary as its own process (fresh SQLite
//! file, `synchronous=FULL`, port 0) for each scenario, drives it over real HTTP from this
//! process, prints throughput, latency percentiles, answers by kind and the server's memory, audits
//! the database (oversold and lost must be 0), and measures a bare axum JSON endpoint with the same
//! client and concurrency in the same run, so the ratio is printed.
//!
//! `scripts/surge` builds in release mode and runs every scenario:
//!   a. `queue`     — 10,000 shoppers race for 100 units through the waiting room
//!   b. `orders`    — the order desk alone (no HTTP, 100,000 orders), then sustained orders over
//!      HTTP with ample stock, 64 then 512 connections, 20 s each
//!   c. `mixed`     — 90 % product page views, 10 % orders, 256 connections, 20 s
//!   d. `connections` — 10,000 open connections held idle: server memory, and a page view and an
//!      order still answered; then a second request on each idle connection
//!   e. `login-flood` — checkout at 64 connections alone, then again while 600 connections flood
//!      the owner's login with wrong passwords from ever-new addresses (half at her email, half at
//!      ever-new ones); the owner logs in from her known phone meanwhile
//!   f. `pages`     — new visitors' page views: the catalogue and every product page, asked for as a
//!      phone does (brotli accepted, no cookie), 256 connections, 20 s
//!   g. `race`      — 3,000 shoppers and 300 re-sends of their orders at the same instant for 100
//!      units of a plain product, on the server's defaults: how many got a definitive answer (an
//!      order or sold out) and how soon, how many were told "busy"; on Postgres also with 3
//!      servers of one shop
//!   h. `live`      — 10,000 pages listening live to one product on one server while its stock
//!      changes once a second: from each commit to each page hearing it (p50/p99/max), pages that
//!      missed one, server memory and CPU; then orders/s with nobody listening and with all of
//!      them listening while the badge changes four times a second
//!
//! `surge [--scenario all|race|live|queue|orders|mixed|connections|login-flood|pages] [--seconds S] [--shoppers N] [--stock S] [--server PATH]`
//!
//! `--server PATH` runs another build of the server binary (an older commit's, to compare before
//! and after in one sitting); by default the `server` beside this binary.
//!
//! `--postgres ADMIN_URL` runs them on Postgres instead (a fresh database per scenario, dropped
//! after) and adds a naive one-transaction-per-order baseline to `orders`.
//!
//! `--split-cores` runs the server(s) on the first core and this generator on the second
//! (`taskset`), so what the generator's own work (reading 10,000 streams) costs does not show up
//! as the server's: the server has one core, and every figure is for one core.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use server::load::{
    client, ms, order_body, percentile, process, run_load, send, sorted, Crowd, Sample, Tally,
};
use sqlx::sqlite::SqlitePool;
use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo's hot products: the hoodie drop (waiting room) and the caramels (direct checkout).
const QUEUED: i64 = 1;
const DIRECT: i64 = 2;
const DIRECT_SLUG: &str = "sea-salt-caramels";

struct Args {
    scenario: String,
    seconds: u64,
    shoppers: usize,
    stock: i64,
    connections: usize,
    /// An admin URL of a Postgres server: run on Postgres (a fresh database per scenario).
    postgres: Option<String>,
}

/// `--split-cores`: the servers run on core 0 (this generator moved itself to core 1).
static SPLIT_CORES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The server binary to run (`--server`), when not the one beside this binary.
static SERVER_BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

const SCENARIOS: [&str; 9] = [
    "all",
    "race",
    "live",
    "queue",
    "orders",
    "mixed",
    "connections",
    "login-flood",
    "pages",
];

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        scenario: "all".into(),
        seconds: 20,
        shoppers: 10_000,
        stock: 100,
        connections: 10_000,
        postgres: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--scenario" => args.scenario = value()?,
            "--seconds" => args.seconds = value()?.parse()?,
            "--shoppers" => args.shoppers = value()?.parse()?,
            "--stock" => args.stock = value()?.parse()?,
            "--connections" => args.connections = value()?.parse()?,
            "--postgres" => args.postgres = Some(value()?),
            "--split-cores" => split_cores()?,
            "--server" => {
                let path = std::path::PathBuf::from(value()?);
                if !path.is_file() {
                    bail!("--server {}: no such file", path.display());
                }
                let _ = SERVER_BIN.set(path);
            }
            "-h" | "--help" => {
                println!("surge [--scenario {}] [--seconds S] [--shoppers N] [--stock S] [--connections N] [--postgres ADMIN_URL] [--server PATH] [--split-cores]", SCENARIOS.join("|"));
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    if !SCENARIOS.contains(&args.scenario.as_str()) {
        bail!("--scenario is one of {}", SCENARIOS.join(", "));
    }
    if args.seconds == 0 || args.seconds > 300 || args.shoppers == 0 {
        bail!("--seconds must be 1–300 and --shoppers positive");
    }
    Ok(args)
}

/// Moves this generator (all its threads) to the second core; servers started later go to the
/// first.
fn split_cores() -> anyhow::Result<()> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        bail!("--split-cores needs two cores");
    }
    let done = Command::new("taskset")
        .args(["-a", "-p", "-c", "1", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .context("--split-cores runs taskset (util-linux)")?;
    if !done.success() {
        bail!("taskset could not move this generator to core 1");
    }
    SPLIT_CORES.store(true, Ordering::Relaxed);
    Ok(())
}

/// The server under test, in its own process; killed when dropped.
struct Server {
    child: Child,
    base: String,
    db: BenchDb,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
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
enum BenchDb {
    Sqlite(SqlitePool),
    Pg(sqlx::PgPool),
}

impl BenchDb {
    async fn scalar(&self, sql: &str, product: i64) -> anyhow::Result<i64> {
        Ok(match self {
            BenchDb::Sqlite(p) => sqlx::query_scalar(sql).bind(product).fetch_one(p).await?,
            BenchDb::Pg(p) => sqlx::query_scalar(sql).bind(product).fetch_one(p).await?,
        })
    }

    async fn exec(&self, sql: &str) -> anyhow::Result<()> {
        match self {
            BenchDb::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ())?,
            BenchDb::Pg(p) => sqlx::query(sql).execute(p).await.map(|_| ())?,
        }
        Ok(())
    }

    async fn codes(&self) -> anyhow::Result<HashSet<String>> {
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
struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create(admin: &str) -> anyhow::Result<PgDatabase> {
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
    async fn start(
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
    async fn beside(&self, env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let url = self
            ._pg
            .as_ref()
            .map(|pg| pg.url.clone())
            .context("only a Postgres shop has several servers")?;
        Server::spawn(None, None, Some(url), env).await
    }

    async fn spawn(
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
    fn memory_mib(&self) -> (f64, f64) {
        process::memory_mib(self.child.id())
    }

    async fn exec(&self, sql: &str) -> anyhow::Result<()> {
        self.db.exec(sql).await
    }

    /// CPU seconds the server has used (user + system), from /proc.
    fn cpu_secs(&self) -> f64 {
        process::cpu_secs(self.child.id())
    }
}

/// One order of one unit of `product` (no hold), answered and timed.
async fn plain_order(
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

/// (a) Shoppers race for the units of a drop through its waiting room: join; when admitted, order
/// with the hold; while waiting, ask again every second; stop at sold out.
async fn scenario_queue(args: &Args, concurrency: usize) -> anyhow::Result<bool> {
    let server = Server::start(Some(concurrency * 2), args.postgres.as_deref(), &[]).await?;
    server
        .exec(&format!(
            "UPDATE products SET stock = {} WHERE id = {QUEUED}",
            args.stock
        ))
        .await?;
    // one unit per phone number, so the limit does not shape the race
    server
        .exec(&format!(
            "UPDATE sales SET per_customer_limit = 1 WHERE product_id = {QUEUED}"
        ))
        .await?;
    heading(&format!(
        "(a) waiting room: {} shoppers race for {} units, {concurrency} connections",
        args.shoppers, args.stock
    ));
    let http = client(concurrency)?;
    let base = server.base.clone();
    let (tally, elapsed) = run_load(
        Crowd::new(
            concurrency,
            args.shoppers,
            Duration::from_secs(args.seconds.max(60)),
        ),
        move |i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let began = Instant::now();
                let phone = format!("+4477{i:08}");
                let mut samples = Vec::new();
                let (s, mut status) = send(
                    "join",
                    http.post(format!("{base}/api/queue/join"))
                        .json(&json!({"product_id": QUEUED, "quantity": 1, "phone": phone})),
                )
                .await;
                samples.push(s);
                let ticket = status["ticket"].as_str().unwrap_or_default().to_owned();
                for _ in 0..120 {
                    match status["state"].as_str() {
                        Some("waiting") => {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            let (s, next) = send(
                                "status",
                                http.get(format!("{base}/api/queue/status"))
                                    .query(&[("ticket", &ticket)]),
                            )
                            .await;
                            samples.push(s);
                            status = next;
                        }
                        Some("admitted") => {
                            let hold = status["hold_token"].as_str().unwrap_or_default();
                            let body = order_body(
                                format!("surge-queue-{i:010}"),
                                QUEUED,
                                &phone,
                                Some(hold),
                            );
                            let (s, _) = send(
                                "order",
                                http.post(format!("{base}/api/place_order")).json(&body),
                            )
                            .await;
                            samples.push(s);
                            break;
                        }
                        _ => break,
                    }
                }
                (samples, Some(began.elapsed()))
            }
        },
    )
    .await?;
    report(&tally, elapsed);
    let journeys = sorted(&tally.journeys);
    println!(
        "  shopper journey  p50 {:.0} ms   p95 {:.0} ms   p99 {:.0} ms (join to final answer)",
        ms(percentile(&journeys, 50.0)),
        ms(percentile(&journeys, 95.0)),
        ms(percentile(&journeys, 99.0))
    );
    let ok = audit(&server, QUEUED, args.stock, &tally.acknowledged()).await?;
    stop_and_compare(server, &tally, elapsed, concurrency).await?;
    Ok(ok)
}

/// (b) and (c): orders for one hot product with ample stock, optionally mixed with page views.
async fn scenario_orders(
    args: &Args,
    concurrency: usize,
    page_view_percent: usize,
) -> anyhow::Result<(bool, f64)> {
    let server = Server::start(Some(concurrency * 2), args.postgres.as_deref(), &[]).await?;
    let initial: i64 = 100_000_000;
    server
        .exec(&format!(
            "UPDATE products SET stock = {initial} WHERE id = {DIRECT}"
        ))
        .await?;
    heading(&if page_view_percent == 0 {
        format!(
            "(b) sustained orders, one hot product, ample stock, {concurrency} connections, {} s",
            args.seconds
        )
    } else {
        format!("(c) mixed: {page_view_percent} % product page views, the rest orders, {concurrency} connections, {} s", args.seconds)
    });
    let http = client(concurrency)?;
    let base = server.base.clone();
    let (tally, elapsed) = run_load(
        Crowd::new(concurrency, usize::MAX, Duration::from_secs(args.seconds)),
        move |i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let s = if i % 100 < page_view_percent {
                    send("page", http.get(format!("{base}/p/{DIRECT_SLUG}")))
                        .await
                        .0
                } else {
                    let body = order_body(
                        format!("surge-{i:012}"),
                        DIRECT,
                        &format!("+86139{i:08}"),
                        None,
                    );
                    send(
                        "order",
                        http.post(format!("{base}/api/place_order")).json(&body),
                    )
                    .await
                    .0
                };
                (vec![s], None)
            }
        },
    )
    .await?;
    report(&tally, elapsed);
    let ok = audit(&server, DIRECT, initial, &tally.acknowledged()).await?;
    stop_and_compare(server, &tally, elapsed, concurrency).await?;
    let orders_per_sec = tally.acknowledged().len() as f64 / elapsed.as_secs_f64().max(1e-9);
    Ok((ok, orders_per_sec))
}

/// (g) The race for a plain product: `shoppers` shoppers (3,000 by default) order at the same
/// instant, and a tenth of them send their order a second time at once (a double tap, a retry
/// after a lost answer), for `stock` units (100) — spread over `servers` servers of one shop on
/// Postgres. Every shopper should get an order or "sold out" within 3 s, and none "busy".
async fn scenario_race(args: &Args, servers: usize) -> anyhow::Result<bool> {
    // this process holds one end of every connection too
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    // the waiting room's default of 10,000 shoppers is this race's 3,000
    let shoppers = if args.shoppers == 10_000 {
        3_000
    } else {
        args.shoppers
    };
    let stock = args.stock;
    let resends = shoppers / 10;
    let first = Server::start(None, args.postgres.as_deref(), &[]).await?;
    let mut fleet = vec![];
    for _ in 1..servers {
        fleet.push(first.beside(&[]).await?);
    }
    first
        .exec(&format!(
            "UPDATE products SET stock = {stock} WHERE id = {DIRECT}"
        ))
        .await?;
    let bases: Vec<String> = std::iter::once(first.base.clone())
        .chain(fleet.iter().map(|s| s.base.clone()))
        .collect();
    heading(&format!(
        "(g) the race: {shoppers} shoppers + {resends} re-sends at once for {stock} units, {} server(s), server defaults",
        bases.len()
    ));
    // the catalogue read by each server at most a quarter second ago shows the new stock
    tokio::time::sleep(Duration::from_millis(600)).await;
    let http = client(shoppers + resends)?;
    let gate = Arc::new(tokio::sync::Barrier::new(shoppers + resends + 1));
    let mut set = tokio::task::JoinSet::new();
    for n in 0..shoppers + resends {
        // the re-sends are shoppers 0, 10, 20 …: same key, same order, sent again
        let i = if n < shoppers { n } else { (n - shoppers) * 10 };
        let (http, gate) = (http.clone(), gate.clone());
        let url = format!("{}/api/place_order", bases[n % bases.len()]);
        let body = order_body(
            format!("surge-race-{i:010}"),
            DIRECT,
            &format!("+86139{i:08}"),
            None,
        );
        set.spawn(async move {
            gate.wait().await;
            let (s, _) = send("order", http.post(url).json(&body)).await;
            (i, s)
        });
    }
    gate.wait().await;
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut codes_by_key: BTreeMap<usize, HashSet<String>> = BTreeMap::new();
    while let Some(done) = set.join_next().await {
        let (i, s) = done?;
        if let Some(code) = &s.order_code {
            codes_by_key.entry(i).or_default().insert(code.clone());
        }
        tally.samples.push(s);
    }
    let elapsed = started.elapsed();
    report(&tally, elapsed);
    let latencies = sorted(&tally.samples.iter().map(|s| s.latency).collect::<Vec<_>>());
    let busy = tally
        .samples
        .iter()
        .filter(|s| s.kind == "overloaded")
        .count();
    let definitive = tally
        .samples
        .iter()
        .filter(|s| s.kind == "acknowledged" || s.kind == "sold_out")
        .count();
    let last = latencies.last().copied().unwrap_or_default();
    println!(
        "  definitive       {definitive} of {} (an order or sold out); busy {busy}; last answer after {:.0} ms",
        shoppers + resends,
        ms(last)
    );
    let doubled = codes_by_key
        .values()
        .filter(|codes| codes.len() > 1)
        .count();
    println!("  keys with two orders {doubled}");
    let met = busy == 0 && definitive == shoppers + resends && last <= Duration::from_secs(3);
    println!(
        "  target           every shopper an order or sold out within 3 s, none busy: {}",
        if met { "met" } else { "NOT met" }
    );
    let acknowledged: Vec<String> = codes_by_key.values().flatten().cloned().collect();
    let ok = audit(&first, DIRECT, stock, &acknowledged).await?;
    for server in [&first].into_iter().chain(fleet.iter()) {
        memory(server);
    }
    Ok(ok && doubled == 0)
}

/// The demo's mug: a plain product the `live` scenario's orders buy (its listeners watch
/// [`DIRECT`]).
const MUG: i64 = 3;

/// (h) Pages listening live: `--shoppers` (10,000) pages of one product each hold a live stream
/// on one server; the product's stock changes by a commit once a second, 20 times (its badge
/// "only 3 left" and "only 4 left" in turn): from each commit to each page hearing it, pages that
/// missed a change, the server's memory and CPU. Then orders/s at 64 connections for another
/// product, with nobody listening and with every page listening while the badge changes four
/// times a second.
async fn scenario_live(args: &Args, servers: usize) -> anyhow::Result<bool> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let listeners = args.shoppers;
    // room for the product pages and then the waiting pages (a closed page is noticed at its
    // stream's next write), all from 127.0.0.1 (one client, as behind a carrier's NAT)
    let (cap, conns) = (
        (2 * listeners + 100).to_string(),
        (2 * listeners + 2_000).to_string(),
    );
    let env = [
        ("HOLDFAST_MAX_LIVE", cap.as_str()),
        ("HOLDFAST_MAX_LIVE_PER_CLIENT", cap.as_str()),
        ("HOLDFAST_MAX_CONNECTIONS", conns.as_str()),
    ];
    let server = Server::start(None, args.postgres.as_deref(), &env).await?;
    // with several servers (Postgres) the pages are spread over them; orders go to the first
    let mut others = Vec::new();
    for _ in 1..servers {
        others.push(server.beside(&env).await?);
    }
    let shop: Vec<&Server> = std::iter::once(&server).chain(others.iter()).collect();
    let addrs: Vec<String> = shop
        .iter()
        .map(|s| s.base.trim_start_matches("http://").to_owned())
        .collect();
    server
        .exec(&format!(
            "UPDATE products SET stock = 4 WHERE id = {DIRECT}"
        ))
        .await?;
    server
        .exec(&format!(
            "UPDATE products SET stock = 100000000 WHERE id = {MUG}"
        ))
        .await?;
    let on = if servers == 1 {
        "one server".to_owned()
    } else {
        format!("{servers} servers, spread evenly, orders to the first")
    };
    heading(&format!(
        "(h) {listeners} pages listening live to one product, {on}"
    ));
    let seconds = args.seconds.min(10);
    // the stock changes four times a second in both runs: listeners are the only difference
    let toggling = toggle_stock(&server.db);
    let (alone, alone_cpu) = orders_per_sec(&server, 64, seconds, "alone").await?;
    toggling.stop().await?;
    println!(
        "  orders alone     {alone:.0}/s (64 connections, {seconds} s, the stock changing 4 times a second, nobody listening); server CPU {:.0} µs an order",
        alone_cpu * 1e6
    );
    let (idle_mib, _) = shop_memory_mib(&shop);

    let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let connected = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut pages = tokio::task::JoinSet::new();
    for i in 0..listeners {
        let (addr, tx, connected) = (
            addrs[i % addrs.len()].clone(),
            tx.clone(),
            connected.clone(),
        );
        pages.spawn(async move { listen_live(&addr, tx, connected).await });
        // a surge arrives over seconds, not in one instant: 1,000 new pages a tenth of a second
        if pages.len() % 1_000 == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    while connected.load(Ordering::Relaxed) < listeners
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open = connected.load(Ordering::Relaxed);
    println!(
        "  listening        {open} of {listeners} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // the first news each page is told on connecting
    tokio::time::sleep(Duration::from_secs(1)).await;
    while heard.try_recv().is_ok() {}

    let cpu_before = shop_cpu_secs(&shop);
    let rounds = 20;
    let round_started = Instant::now();
    let mut latencies = Vec::with_capacity(open * rounds);
    let mut missed = 0_usize;
    for round in 0..rounds {
        let stock = if round % 2 == 0 { 3 } else { 4 };
        server
            .exec(&format!(
                "UPDATE products SET stock = {stock} WHERE id = {DIRECT}"
            ))
            .await?;
        let committed = Instant::now();
        let mut got = 0_usize;
        let until = committed + Duration::from_millis(1_500);
        while let Ok(Some(at)) = tokio::time::timeout_at(until.into(), heard.recv()).await {
            latencies.push(at.saturating_duration_since(committed));
            got += 1;
        }
        missed += open.saturating_sub(got);
    }
    let busy = round_started.elapsed().as_secs_f64();
    let cpu = (shop_cpu_secs(&shop) - cpu_before) / busy * 100.0;
    let latencies = sorted(&latencies);
    let (rss, peak) = shop_memory_mib(&shop);
    println!(
        "  commit → page    p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over {rounds} changes × {open} pages; {missed} missed",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    println!(
        "  server(s)        RSS {idle_mib:.0} MiB before, {rss:.0} MiB listening ({:.1} KiB a page), {peak:.0} MiB peak; CPU {cpu:.0} % of a core while telling them",
        (rss - idle_mib) * 1024.0 / open.max(1) as f64
    );

    // orders while every page is told of the same four changes a second
    let toggling = toggle_stock(&server.db);
    let (with, with_cpu) = orders_per_sec(&server, 64, seconds, "with").await?;
    toggling.stop().await?;
    while heard.try_recv().is_ok() {}
    let still = pages.len();
    pages.abort_all();
    println!(
        "  orders listened  {with:.0}/s while {still} pages listened to the same changes ({:.2} × alone); server CPU {:.0} µs an order, listeners' share included ({:.2} × alone)",
        with / alone.max(1e-9),
        with_cpu * 1e6,
        with_cpu / alone_cpu.max(1e-12)
    );
    if !SPLIT_CORES.load(Ordering::Relaxed) {
        println!(
            "                   (this generator shares the server's two cores and reads every page's events: orders/s mixes its cost with the server's; CPU an order is the server's alone; --split-cores separates them)"
        );
    }
    let p99 = percentile(&latencies, 0.99);
    let met = p99 < Duration::from_secs(1)
        && rss < 250.0 * servers as f64
        && missed == 0
        && open == listeners;
    println!(
        "  target           p99 under 1 s, RSS under 250 MiB a server, none missed: {}; orders/s not worse than alone: {}",
        if met { "met" } else { "NOT met" },
        if with >= alone { "met" } else { "NOT met" }
    );
    // the waiting pages on servers of their own: the memory they show is theirs alone
    drop(shop);
    drop(others);
    drop(server);
    let server = Server::start(None, args.postgres.as_deref(), &env).await?;
    let mut others = Vec::new();
    for _ in 1..servers {
        others.push(server.beside(&env).await?);
    }
    let shop: Vec<&Server> = std::iter::once(&server).chain(others.iter()).collect();
    live_line_pages(&shop, listeners).await?;
    Ok(open == listeners)
}

/// Waiting pages listening live: `n` shoppers join the hoodie's line while the owner has it
/// paused (nobody admitted), each page holding a `/live/line` stream; the owner resumes with
/// stock for half of them, and one admission round tells half their turn and the other half
/// their new place. From the resume's commit to each page hearing it (the usher's tick and the
/// feed's reading of the 10,000-long line included).
async fn live_line_pages(shop: &[&Server], n: usize) -> anyhow::Result<bool> {
    use futures::StreamExt;
    let server = shop[0];
    heading(&format!(
        "(h) {n} waiting pages listening to their place in one line, {} server(s)",
        shop.len()
    ));
    server
        .exec(&format!(
            "INSERT INTO brakes (product_id, paused_at, paused_by) \
             VALUES ({QUEUED}, '2026-01-01T00:00:00.000Z', 'surge')"
        ))
        .await?;
    server
        .exec(&format!(
            "UPDATE products SET stock = {} WHERE id = {QUEUED}",
            n / 2
        ))
        .await?;
    let http = client(64)?;
    let (fresh_mib, _) = shop_memory_mib(shop);
    let joined_at = Instant::now();
    let tickets: Vec<String> = futures::stream::iter(0..n)
        .map(|i| {
            let (http, base) = (http.clone(), server.base.clone());
            async move {
                let (_, status) = send(
                    "join",
                    http.post(format!("{base}/api/queue/join")).json(
                        &json!({"product_id": QUEUED, "quantity": 1, "phone": format!("+4478{i:08}")}),
                    ),
                )
                .await;
                (status["state"] == "waiting")
                    .then(|| status["ticket"].as_str().map(str::to_owned))
                    .flatten()
            }
        })
        .buffer_unordered(64)
        .filter_map(|t| async move { t })
        .collect()
        .await;
    let (joined_mib, _) = shop_memory_mib(shop);
    println!(
        "  joined           {} of {n} waiting in {:.1} s (the line paused); RSS {joined_mib:.0} MiB",
        tickets.len(),
        joined_at.elapsed().as_secs_f64()
    );
    let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel::<(Instant, bool)>();
    let connected = Arc::new(AtomicUsize::new(0));
    let addrs: Vec<String> = shop
        .iter()
        .map(|s| s.base.trim_start_matches("http://").to_owned())
        .collect();
    let mut pages = tokio::task::JoinSet::new();
    for (i, ticket) in tickets.iter().enumerate() {
        let (addr, tx, connected, ticket) = (
            addrs[i % addrs.len()].clone(),
            tx.clone(),
            connected.clone(),
            ticket.clone(),
        );
        pages.spawn(async move { listen_line(&addr, &ticket, tx, connected).await });
        if pages.len() % 1_000 == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let started = Instant::now();
    while connected.load(Ordering::Relaxed) < tickets.len()
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open = connected.load(Ordering::Relaxed);
    println!(
        "  listening        {open} of {} waiting pages in {:.1} s",
        tickets.len(),
        started.elapsed().as_secs_f64()
    );
    let (listening_mib, _) = shop_memory_mib(shop);
    tokio::time::sleep(Duration::from_secs(1)).await;
    while heard.try_recv().is_ok() {}

    let cpu_before = shop_cpu_secs(shop);
    server
        .exec(&format!("DELETE FROM brakes WHERE product_id = {QUEUED}"))
        .await?;
    let resumed = Instant::now();
    // when the admission round is in the database (what the pages are told after)
    let round = {
        let db = server.db.clone();
        let half = i64::try_from(n / 2).unwrap_or(i64::MAX);
        tokio::spawn(async move {
            while resumed.elapsed() < Duration::from_secs(30) {
                let admitted = db
                    .scalar(
                        "SELECT COUNT(*) FROM queue_tickets WHERE product_id = $1 AND state = 'admitted'",
                        QUEUED,
                    )
                    .await
                    .unwrap_or(0);
                if admitted >= half {
                    return Some(resumed.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            None
        })
    };
    let (mut turns, mut places) = (Vec::new(), Vec::new());
    let until = resumed + Duration::from_secs(10);
    while turns.len() + places.len() < open {
        let Ok(Some((at, turn))) = tokio::time::timeout_at(until.into(), heard.recv()).await else {
            break;
        };
        let took = at.saturating_duration_since(resumed);
        if turn {
            turns.push(took);
        } else {
            places.push(took);
        }
    }
    let cpu = (shop_cpu_secs(shop) - cpu_before) / resumed.elapsed().as_secs_f64() * 100.0;
    let (rss, _) = shop_memory_mib(shop);
    let missed = open.saturating_sub(turns.len() + places.len());
    match round.await.ok().flatten() {
        Some(took) => println!(
            "  admission round  {} admitted, in the database {:.0} ms after the resume (seen by polling every 20 ms)",
            n / 2,
            ms(took)
        ),
        None => println!("  admission round  not seen in the database within 30 s"),
    }
    for (what, got) in [("turn", &mut turns), ("place", &mut places)] {
        let got = sorted(got);
        println!(
            "  resume → {what:<6}  {} pages: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            got.len(),
            ms(percentile(&got, 0.50)),
            ms(percentile(&got, 0.99)),
            ms(got.last().copied().unwrap_or_default()),
        );
    }
    println!(
        "  server(s)        RSS {fresh_mib:.0} MiB fresh, {listening_mib:.0} MiB with {n} waiting and {open} pages listening, {rss:.0} MiB after the round; CPU {cpu:.0} % of a core until the last page heard; {missed} pages heard nothing in 10 s"
    );
    pages.abort_all();
    let mut all: Vec<Duration> = turns.iter().chain(places.iter()).copied().collect();
    all.sort();
    let met = missed == 0
        && open == tickets.len()
        && tickets.len() == n
        && percentile(&all, 0.99) < Duration::from_secs(1)
        && rss < 250.0 * shop.len() as f64;
    println!(
        "  target           p99 under 1 s, RSS under 250 MiB a server, none missed: {}",
        if met { "met" } else { "NOT met" }
    );
    Ok(met)
}

/// Changes [`DIRECT`]'s stock (3, 4, 3, …) four times a second until stopped.
struct Toggling {
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    db: BenchDb,
}

fn toggle_stock(db: &BenchDb) -> Toggling {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let task = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            for round in 0_u64.. {
                tick.tick().await;
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let stock = if round % 2 == 0 { 3 } else { 4 };
                let _ = db
                    .exec(&format!(
                        "UPDATE products SET stock = {stock} WHERE id = {DIRECT}"
                    ))
                    .await;
            }
        })
    };
    Toggling {
        stop,
        task,
        db: db.clone(),
    }
}

impl Toggling {
    /// Stops after the change in progress and leaves the stock at 4.
    async fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.db
            .exec(&format!(
                "UPDATE products SET stock = 4 WHERE id = {DIRECT}"
            ))
            .await
    }
}

/// The servers' resident memory now and at peak, in MiB, added up.
fn shop_memory_mib(shop: &[&Server]) -> (f64, f64) {
    shop.iter()
        .map(|s| s.memory_mib())
        .fold((0.0, 0.0), |(a, b), (c, d)| (a + c, b + d))
}

/// The servers' CPU seconds, added up.
fn shop_cpu_secs(shop: &[&Server]) -> f64 {
    shop.iter().map(|s| s.cpu_secs()).sum()
}

/// One waiting page listening to its line: counted in `connected` once its ticket is read and
/// it follows its place; the arrival of its first `place` (false) or `turn` (true) goes to
/// `heard`, then the next ones.
async fn listen_line(
    addr: &str,
    ticket: &str,
    heard: tokio::sync::mpsc::UnboundedSender<(Instant, bool)>,
    connected: Arc<AtomicUsize>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    let ask = format!(
        "GET /live/line?t={ticket} HTTP/1.1\r\nHost: shop\r\nAccept: text/event-stream\r\n\r\n"
    );
    if stream.write_all(ask.as_bytes()).await.is_err() {
        return;
    }
    let mut lines = tokio::io::BufReader::with_capacity(1024, stream).lines();
    // listening once its ticket has been read: the stream's first word after that (the head
    // goes before the read)
    let mut counted = false;
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim_end();
        if !counted {
            if line.starts_with("HTTP/1.1 ") && !line.starts_with("HTTP/1.1 200") {
                eprintln!("  a waiting page was answered {line}");
                return;
            }
            if line == ": busy" {
                eprintln!("  a waiting page's ticket was not read (busy)");
                return;
            }
            if line == ": listening" || line.starts_with("event: ") {
                connected.fetch_add(1, Ordering::Relaxed);
                counted = true;
            }
        }
        let turn = match line {
            "event: turn" => true,
            "event: place" => false,
            _ => continue,
        };
        if heard.send((Instant::now(), turn)).is_err() {
            return;
        }
    }
}

/// One page listening live to [`DIRECT`] over its own connection: each `stock` event's arrival
/// time goes to `heard`.
async fn listen_live(
    addr: &str,
    heard: tokio::sync::mpsc::UnboundedSender<Instant>,
    connected: Arc<AtomicUsize>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    let ask = format!(
        "GET /live/products?ids={DIRECT} HTTP/1.1\r\nHost: shop\r\nAccept: text/event-stream\r\n\r\n"
    );
    if stream.write_all(ask.as_bytes()).await.is_err() {
        return;
    }
    let mut lines = tokio::io::BufReader::with_capacity(1024, stream).lines();
    let mut counted = false;
    while let Ok(Some(line)) = lines.next_line().await {
        if !counted && line.starts_with("HTTP/1.1 200") {
            connected.fetch_add(1, Ordering::Relaxed);
            counted = true;
        }
        if line.trim_end() == "event: stock" && heard.send(Instant::now()).is_err() {
            return;
        }
    }
}

/// Orders/s over `seconds` at `concurrency` connections, each for one [`MUG`], and the server's
/// CPU seconds per order meanwhile.
async fn orders_per_sec(
    server: &Server,
    concurrency: usize,
    seconds: u64,
    label: &'static str,
) -> anyhow::Result<(f64, f64)> {
    let cpu_before = server.cpu_secs();
    let http = client(concurrency)?;
    let base = server.base.clone();
    let (tally, elapsed) = run_load(
        Crowd::new(concurrency, usize::MAX, Duration::from_secs(seconds)),
        move |i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let key = format!("surge-{label}-{i:012}");
                let s = plain_order(&http, &base, key, MUG, &format!("+86137{i:08}")).await;
                (vec![s], None)
            }
        },
    )
    .await?;
    let orders = tally.acknowledged().len() as f64;
    let cpu = server.cpu_secs() - cpu_before;
    Ok((
        orders / elapsed.as_secs_f64().max(1e-9),
        cpu / orders.max(1.0),
    ))
}

/// Sends `ask` on `stream` and reads the answer to its end (by its Content-Length).
async fn whole_answer(stream: &mut tokio::net::TcpStream, ask: &[u8]) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if stream.write_all(ask).await.is_err() {
        return false;
    }
    let mut got = Vec::with_capacity(16 * 1024);
    let mut buf = [0_u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        match length {
            Some(length) if got.len() >= end + 4 + length => {
                return head.starts_with("http/1.1 200")
            }
            Some(_) => continue,
            // a chunked answer: not what the cached page sends; count it as answered once the
            // head is here
            None => return head.starts_with("http/1.1 200"),
        }
    }
}

/// (f) New visitors looking: the catalogue and every product page, as a phone asks for them
/// (brotli accepted, no cookie), at `concurrency` connections. Every answer must be a whole page.
async fn scenario_pages(args: &Args, concurrency: usize) -> anyhow::Result<bool> {
    let server = Server::start(Some(concurrency * 2), args.postgres.as_deref(), &[]).await?;
    heading(&format!(
        "(f) page views: the catalogue and the product pages, brotli accepted, {concurrency} connections, {} s",
        args.seconds
    ));
    let http = client(concurrency)?;
    let products: Vec<Value> = http
        .get(format!("{}/api/products", server.base))
        .send()
        .await?
        .json()
        .await?;
    let mut paths = vec!["/".to_owned()];
    paths.extend(
        products
            .iter()
            .filter_map(|p| p["slug"].as_str())
            .map(|slug| format!("/p/{slug}")),
    );
    println!(
        "  pages            {} (the catalogue and {} products)",
        paths.len(),
        paths.len() - 1
    );
    let base = server.base.clone();
    let paths = Arc::new(paths);
    let (tally, elapsed) = run_load(
        Crowd::new(concurrency, usize::MAX, Duration::from_secs(args.seconds)),
        move |i| {
            let (http, base, paths) = (http.clone(), base.clone(), paths.clone());
            async move {
                let path = &paths[i % paths.len()];
                let s = send(
                    "page",
                    http.get(format!("{base}{path}"))
                        .header("accept-encoding", "gzip, deflate, br")
                        .header("accept", "text/html"),
                )
                .await
                .0;
                (vec![s], None)
            }
        },
    )
    .await?;
    report(&tally, elapsed);
    stop_and_compare(server, &tally, elapsed, concurrency).await?;
    let failed = tally
        .samples
        .iter()
        .filter(|s| s.kind != "page_viewed")
        .count();
    println!("  not a page       {failed}");
    Ok(failed == 0)
}

/// (d) Many phones holding connections open: the server keeps every one and still answers.
async fn scenario_connections(args: &Args) -> anyhow::Result<bool> {
    // this process holds one end of every connection too
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        println!("  (could not raise this process's open-file limit: {e})");
    }
    let server = Server::start(Some(512), args.postgres.as_deref(), &[]).await?;
    heading(&format!("(d) {} open idle connections", args.connections));
    let (idle_mib, _) = server.memory_mib();
    let addr = server.base.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let mut open = Vec::with_capacity(args.connections);
    let mut refused = 0_usize;
    for _ in 0..args.connections {
        match tokio::net::TcpStream::connect(&addr).await {
            Ok(stream) => open.push(stream),
            Err(_) => refused += 1,
        }
    }
    println!(
        "  opened           {} in {:.2} s ({refused} refused)",
        open.len(),
        started.elapsed().as_secs_f64()
    );
    // like a phone that opened the shop's link and keeps the connection for the next click:
    // one keep-alive request for the front page on each (read whole), then silence
    let mut answered = 0_usize;
    let ask = b"GET / HTTP/1.1\r\nHost: shop\r\nAccept: text/html\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n";
    for stream in &mut open {
        if tokio::time::timeout(Duration::from_secs(5), whole_answer(stream, ask))
            .await
            .is_ok_and(|whole| whole)
        {
            answered += 1;
        }
    }
    println!("  one request each {answered} answered in whole (GET /, brotli accepted)");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (now, peak) = server.memory_mib();
    let per_conn_kib = (now - idle_mib) * 1024.0 / open.len().max(1) as f64;
    println!("  server memory    RSS {idle_mib:.0} MiB before, {now:.0} MiB with them open ({per_conn_kib:.1} KiB each), {peak:.0} MiB peak");
    let http = client(4)?;
    let (page, _) = send("page", http.get(format!("{}/p/{DIRECT_SLUG}", server.base))).await;
    let body = order_body(
        "surge-connections-order".into(),
        DIRECT,
        "+15550000001",
        None,
    );
    let (order, _) = send(
        "order",
        http.post(format!("{}/api/place_order", server.base))
            .json(&body),
    )
    .await;
    println!(
        "  while open       page view {} in {:.1} ms, order {} in {:.1} ms",
        page.kind,
        ms(page.latency),
        order.kind,
        ms(order.latency)
    );
    // are they all still there?
    let mut alive = 0_usize;
    for stream in &open {
        // drain what is left of the answer; open means "nothing more to read" but no end of stream
        let mut buf = [0_u8; 4096];
        loop {
            match stream.try_read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    alive += 1;
                    break;
                }
                Err(_) => break,
            }
        }
    }
    println!("  still open       {alive} of {}", open.len());
    // each phone clicks again: the idle connections must still serve a next request whole
    let mut again = 0_usize;
    for stream in &mut open {
        if tokio::time::timeout(Duration::from_secs(5), whole_answer(stream, ask))
            .await
            .is_ok_and(|whole| whole)
        {
            again += 1;
        }
    }
    let (after, _) = server.memory_mib();
    println!(
        "  a second request {again} answered in whole on the same connections (RSS {after:.0} MiB)"
    );
    drop(open);
    Ok(page.kind == "page_viewed"
        && order.kind == "acknowledged"
        && refused == 0
        && answered == args.connections
        && again == args.connections)
}

/// The order desk alone, in this process, no HTTP: how fast the single writer commits durable
/// (e) A flood of wrong owner logins from ever-new addresses (600 connections) while shoppers
/// check out at 64 connections: checkout p99 with and without the flood, what the flood was
/// answered, and the owner's own logins from her known phone meanwhile.
async fn scenario_login_flood(args: &Args) -> anyhow::Result<bool> {
    const SECRET: &str = "surge-login-flood-secret-0123456789abcdef";
    const EMAIL: &str = "owner@surge.example";
    const PASSWORD: &str = "surge owner password";
    let checkout = 64;
    let flood = 600;
    let server = Server::start(
        Some(checkout * 2),
        args.postgres.as_deref(),
        &[
            ("HOLDFAST_SECRET", SECRET),
            // the flood comes from ever-new addresses, as a botnet's would
            ("HOLDFAST_TRUST_PROXY", "true"),
        ],
    )
    .await?;
    let initial: i64 = 100_000_000;
    server
        .exec(&format!(
            "UPDATE products SET stock = {initial} WHERE id = {DIRECT}"
        ))
        .await?;
    // shoppers and the flood on clients of their own, as on the internet (no shared pool)
    let http = client(checkout + 8)?;
    let bots = client(flood)?;
    let base = server.base.clone();
    // the owner, and her phone's known-device cookie from a first login
    let code = server::admin::setup_code(SECRET.as_bytes());
    let setup = http
        .post(format!("{base}/admin/setup"))
        .form(&[
            ("code", code.as_str()),
            ("email", EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    if setup.status() != 303 {
        bail!("owner setup answered {}", setup.status());
    }
    let first = http
        .post(format!("{base}/admin/login"))
        .header("x-forwarded-for", "198.51.100.1")
        .form(&[("email", EMAIL), ("password", PASSWORD), ("next", "/admin")])
        .send()
        .await?;
    let device = first
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("holdfast_device="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .context("the owner's first login set no known-device cookie")?;

    let seconds = args.seconds;
    let checkout_load = |offset: usize| {
        let (http, base) = (http.clone(), base.clone());
        run_load(
            Crowd::new(checkout, usize::MAX, Duration::from_secs(seconds)),
            move |i| {
                let (http, base) = (http.clone(), base.clone());
                let i = i + offset;
                async move {
                    let key = format!("surge-{i:012}");
                    let s = plain_order(&http, &base, key, DIRECT, &format!("+86139{i:08}")).await;
                    (vec![s], None)
                }
            },
        )
    };

    heading(&format!(
        "(e) checkout alone: one hot product, {checkout} connections, {seconds} s"
    ));
    let (calm, calm_elapsed) = checkout_load(0).await?;
    report(&calm, calm_elapsed);

    heading(&format!(
        "(e) the same checkout while {flood} connections flood the owner's login, {seconds} s"
    ));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooders = {
        let (http, base, stop) = (bots.clone(), base.clone(), stop.clone());
        run_load(
            Crowd::new(flood, usize::MAX, Duration::from_secs(seconds + 2)),
            move |i| {
                let (http, base, stop) = (http.clone(), base.clone(), stop.clone());
                async move {
                    if stop.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        return (Vec::new(), None);
                    }
                    // a new address every attempt, so per-address limits alone cannot stop
                    // it; half at the owner's email, half at ever-new ones (no account
                    // throttle stops those)
                    let from = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
                    let email = if i % 2 == 0 {
                        EMAIL.to_owned()
                    } else {
                        format!("bot{i}@flood.example")
                    };
                    let s = send(
                        "login",
                        http.post(format!("{base}/admin/login"))
                            .header("x-forwarded-for", from)
                            .form(&[
                                ("email", email.as_str()),
                                ("password", "not the password"),
                                ("next", "/admin"),
                            ]),
                    )
                    .await
                    .0;
                    (vec![s], None)
                }
            },
        )
    };
    let owner = {
        let (http, base, device, stop) = (http.clone(), base.clone(), device.clone(), stop.clone());
        async move {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let (s, _) = send(
                    "login-owner",
                    http.post(format!("{base}/admin/login"))
                        .header("x-forwarded-for", "198.51.100.1")
                        .header(reqwest::header::COOKIE, &device)
                        .form(&[("email", EMAIL), ("password", PASSWORD), ("next", "/admin")]),
                )
                .await;
                samples.push(s);
            }
            samples
        }
    };
    let flooding = tokio::spawn(flooders);
    let owner = tokio::spawn(owner);
    // the flood gets a second's head start, so checkout meets it at full strength
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (stormy, stormy_elapsed) = checkout_load(10_000_000).await?;
    stop.store(true, Ordering::Relaxed);
    let (logins, login_elapsed) = flooding.await??;
    let owner_tally = Tally {
        samples: owner.await?,
        ..Tally::default()
    };
    report(&stormy, stormy_elapsed);
    println!("  the flood:");
    report(&logins, login_elapsed);
    println!("  the owner's own logins from her known phone, once a second:");
    report(&owner_tally, stormy_elapsed);

    let p99 = |t: &Tally| {
        let lat: Vec<Duration> = t
            .samples
            .iter()
            .filter(|s| s.what == "order")
            .map(|s| s.latency)
            .collect();
        ms(percentile(&sorted(&lat), 99.0))
    };
    let rate = |t: &Tally, e: Duration| t.acknowledged().len() as f64 / e.as_secs_f64().max(1e-9);
    println!(
        "  checkout p99     {:.1} ms alone, {:.1} ms under the flood ({:.2} ×); orders/s {:.0} → {:.0}",
        p99(&calm),
        p99(&stormy),
        p99(&stormy) / p99(&calm).max(1e-9),
        rate(&calm, calm_elapsed),
        rate(&stormy, stormy_elapsed)
    );
    let owner_in = owner_tally
        .samples
        .iter()
        .filter(|s| s.kind == "logged_in")
        .count();
    println!(
        "  owner logged in  {owner_in} of {} tries during the flood",
        owner_tally.samples.len()
    );
    let mut acknowledged = calm.acknowledged();
    acknowledged.extend(stormy.acknowledged());
    let ok = audit(&server, DIRECT, initial, &acknowledged).await?;
    memory(&server);
    Ok(ok && owner_in == owner_tally.samples.len())
}

/// orders for one hot product. Tells the writer's share of the cost from the web stack's.
async fn desk_alone(orders: usize, postgres: Option<&str>) -> anyhow::Result<bool> {
    use app::domain::{CustomerInput, LineRequest, NewOrder};
    use app::store::Store;
    heading(&format!(
        "the order desk alone: {orders} orders for one product, no HTTP"
    ));
    let dir = tempfile::tempdir()?;
    let mut _pg = None;
    let (store, db): (Arc<dyn Store>, BenchDb) = match postgres {
        Some(admin) => {
            let pg = PgDatabase::create(admin).await?;
            let store = server::store::PgStore::open(&pg.url).await?;
            server::store::seed::seed_if_empty_postgres(&store).await?;
            let db = BenchDb::Pg(store.pool().clone());
            _pg = Some(pg);
            (Arc::new(store.ports()), db)
        }
        None => {
            let url = format!("sqlite://{}/desk.db", dir.path().display());
            let store = server::store::SqliteStore::open(&url).await?;
            server::store::seed::seed_if_empty(&store).await?;
            let db = BenchDb::Sqlite(store.writer().clone());
            (Arc::new(store.ports()), db)
        }
    };
    db.exec(&format!(
        "UPDATE products SET stock = {orders} WHERE id = {DIRECT}"
    ))
    .await?;
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let mut acknowledged = 0_usize;
    for i in 0..orders {
        let store = store.clone();
        set.spawn(async move {
            let customer = CustomerInput {
                name: "Surge Shopper".into(),
                phone: format!("+86139{i:08}"),
                address: "1 Harbour Row, Porthaven".into(),
                note: String::new(),
            };
            let line = [LineRequest {
                product_id: DIRECT,
                quantity: 1,
            }];
            match NewOrder::parse(&format!("desk-alone-{i:012}"), &line, &customer) {
                Ok(order) => store.place_order(order).await.is_ok(),
                Err(_) => false,
            }
        });
        // stay within the desk's queue, like the admission limit does
        while set.len() >= 2048 {
            acknowledged += usize::from(set.join_next().await.is_some_and(|r| r.unwrap_or(false)));
        }
    }
    while let Some(r) = set.join_next().await {
        acknowledged += usize::from(r.unwrap_or(false));
    }
    let secs = started.elapsed().as_secs_f64();
    let stock = db
        .scalar("SELECT stock FROM products WHERE id = $1", DIRECT)
        .await?;
    println!(
        "  {acknowledged} acknowledged in {secs:.2} s: {:.0} durable orders/s; stock left {stock}",
        acknowledged as f64 / secs
    );
    Ok(acknowledged == orders && stock == 0)
}

/// The naive way, for comparison, on the same Postgres: one transaction per order on the same hot
/// row (the row lock is held through each commit's WAL flush), driven straight over a connection
/// pool by `concurrency` clients. Returns orders per second.
async fn naive_postgres(admin: &str, concurrency: usize, seconds: u64) -> anyhow::Result<f64> {
    heading(&format!(
        "naive baseline: one transaction per order, one hot row, {concurrency} clients, {seconds} s (no HTTP)"
    ));
    let pg = PgDatabase::create(admin).await?;
    let store = server::store::PgStore::open(&pg.url).await?;
    server::store::seed::seed_if_empty_postgres(&store).await?;
    store.close().await;
    // Postgres allows 100 connections by default; the clients queue for these
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(80)
        .acquire_timeout(Duration::from_secs(60))
        .connect(&pg.url)
        .await?;
    sqlx::query("UPDATE products SET stock = 100000000 WHERE id = $1")
        .bind(DIRECT)
        .execute(&pool)
        .await?;
    let p = pool.clone();
    let (tally, elapsed) = run_load(
        Crowd::new(concurrency, usize::MAX, Duration::from_secs(seconds)),
        move |i| {
            let pool = p.clone();
            async move {
                let t = Instant::now();
                let kind = match naive_order(&pool, i).await {
                    Ok(code) => {
                        return (
                            vec![Sample {
                                order_code: Some(code),
                                ..Sample::new("order", "acknowledged", t)
                            }],
                            None,
                        )
                    }
                    Err(e) => format!("error: {e}"),
                };
                (vec![Sample::new("order", &kind, t)], None)
            }
        },
    )
    .await?;
    report(&tally, elapsed);
    pool.close().await;
    Ok(tally.acknowledged().len() as f64 / elapsed.as_secs_f64().max(1e-9))
}

async fn naive_order(pool: &sqlx::PgPool, i: usize) -> Result<String, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (price,): (i64,) = sqlx::query_as(
        "UPDATE products SET stock = stock - 1 WHERE id = $1 AND stock >= 1 RETURNING price_cents",
    )
    .bind(DIRECT)
    .fetch_one(&mut *tx)
    .await?;
    let code = format!("N{i:011}");
    let (order_id,): (i64,) = sqlx::query_as(
        "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents, created_at) \
         VALUES ($1, 'awaiting_payment', 'Naive', '+15550000000', '1 Harbour Row', '', $2, '2026-01-01T00:00:00.000Z') RETURNING id",
    )
    .bind(&code)
    .bind(price)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO order_lines (order_id, product_id, product_name, unit_price_cents, quantity) \
         VALUES ($1, $2, 'Sea-Salt Caramels', $3, 1)",
    )
    .bind(order_id)
    .bind(DIRECT)
    .bind(price)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) \
         VALUES ($1, '', $2, '2026-01-01T00:00:00.000Z')",
    )
    .bind(format!("naive-key-{i:012}"))
    .bind(order_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(code)
}

fn heading(text: &str) {
    println!("\n== {text}");
}

fn memory(server: &Server) {
    let (now, peak) = server.memory_mib();
    println!("  server memory    RSS {now:.0} MiB now, {peak:.0} MiB peak");
}

/// The end of a load scenario: the server's memory, then the server stopped and the bare endpoint
/// measured with the same concurrency for the ratio.
async fn stop_and_compare(
    server: Server,
    tally: &Tally,
    elapsed: Duration,
    concurrency: usize,
) -> anyhow::Result<()> {
    memory(&server);
    drop(server);
    bare_ratio(
        concurrency,
        Duration::from_secs(5),
        tally.samples.len(),
        elapsed,
    )
    .await
}

/// The bare endpoint, same client settings and concurrency, measured now; prints the ratio of the
/// scenario's answers per second to it.
async fn bare_ratio(
    concurrency: usize,
    duration: Duration,
    answers: usize,
    elapsed: Duration,
) -> anyhow::Result<()> {
    let router = axum::Router::new().route(
        "/bare",
        axum::routing::get(|| async { axum::Json(json!({"ok": true})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/bare", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let http = client(concurrency)?;
    let (bare, bare_elapsed) = run_load(Crowd::new(concurrency, usize::MAX, duration), move |_| {
        let (http, url) = (http.clone(), url.clone());
        async move { (vec![send("bare", http.get(url)).await.0], None) }
    })
    .await?;
    server.abort();
    let bare_rps = bare.samples.len() as f64 / bare_elapsed.as_secs_f64().max(1e-9);
    let rps = answers as f64 / elapsed.as_secs_f64().max(1e-9);
    println!("  bare axum JSON   {bare_rps:.0} requests/s (same client and concurrency, measured just after)");
    println!(
        "  ratio            {:.2} (this scenario's answers/s ÷ bare requests/s)",
        rps / bare_rps
    );
    Ok(())
}

fn report(tally: &Tally, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!("  elapsed          {secs:.2} s");
    println!(
        "  requests/s       {:.0}",
        tally.samples.len() as f64 / secs
    );
    println!(
        "  orders/s         {:.0} (acknowledged, durable)",
        tally.acknowledged().len() as f64 / secs
    );
    for what in ["order", "join", "status", "page", "login", "login-owner"] {
        let lat: Vec<Duration> = tally
            .samples
            .iter()
            .filter(|s| s.what == what)
            .map(|s| s.latency)
            .collect();
        if lat.is_empty() {
            continue;
        }
        let lat = sorted(&lat);
        println!(
            "  {what:<7} latency  p50 {:.1} ms   p95 {:.1} ms   p99 {:.1} ms   max {:.1} ms   ({} requests)",
            ms(percentile(&lat, 50.0)),
            ms(percentile(&lat, 95.0)),
            ms(percentile(&lat, 99.0)),
            ms(lat.last().copied().unwrap_or_default()),
            lat.len()
        );
    }
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for s in &tally.samples {
        *kinds.entry(format!("{}:{}", s.what, s.kind)).or_default() += 1;
    }
    println!("  answers by kind");
    for (kind, n) in &kinds {
        println!("    {kind:<24} {n}");
    }
    let errors: usize = tally.samples.iter().filter(|s| s.is_error()).count();
    let shed = tally
        .samples
        .iter()
        .filter(|s| s.kind == "overloaded")
        .count();
    println!("  5xx / errors     {errors} (besides {shed} deliberate 503 overloaded)");
}

/// Checks the database against what shoppers were told: stock + sold + held = initial, nothing
/// oversold, every acknowledged order stored.
async fn audit(
    server: &Server,
    product: i64,
    initial: i64,
    acknowledged: &[String],
) -> anyhow::Result<bool> {
    let db = &server.db;
    let stock = db
        .scalar("SELECT stock FROM products WHERE id = $1", product)
        .await?;
    let sold = db
        .scalar(
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM order_lines WHERE product_id = $1",
            product,
        )
        .await?;
    let held = db
        .scalar(
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM holds \
             WHERE product_id = $1 AND state = 'live'",
            product,
        )
        .await?;
    let stored = db.codes().await?;
    let lost = acknowledged.iter().filter(|c| !stored.contains(*c)).count();
    let oversold = (sold - initial).max(0);
    let balanced = stock + sold + held == initial;
    let all_acked = sold == acknowledged.len() as i64;
    println!("  audit            stock {stock} + sold {sold} + held {held} = {} (initial {initial}): {balanced}", stock + sold + held);
    println!("  oversold         {oversold}");
    println!("  lost             {lost} (acknowledged but not stored)");
    println!("  sold = acknowledged units: {all_acked}");
    Ok(oversold == 0 && lost == 0 && balanced && all_acked)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let database = match &args.postgres {
        Some(_) => "Postgres (synchronous_commit on, a fresh database per scenario)",
        None => "SQLite (WAL, synchronous=FULL)",
    };
    if SPLIT_CORES.load(Ordering::Relaxed) {
        println!("surge: Holdfast on {database}, server(s) on core 0 and load generator on core 1");
    } else {
        println!(
            "surge: Holdfast on {database}, {} cores, server and load generator on one machine",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    let pg = args.postgres.as_deref();
    let mut ok = true;
    let s = args.scenario.as_str();
    if s == "all" || s == "queue" {
        ok &= scenario_queue(&args, 512).await?;
    }
    if s == "all" || s == "race" {
        ok &= scenario_race(&args, 1).await?;
        if pg.is_some() {
            ok &= scenario_race(&args, 3).await?;
        }
    }
    if s == "all" || s == "live" {
        ok &= scenario_live(&args, 1).await?;
        if pg.is_some() {
            ok &= scenario_live(&args, 3).await?;
        }
    }
    if s == "all" || s == "orders" {
        ok &= desk_alone(100_000, pg).await?;
        ok &= scenario_orders(&args, 64, 0).await?.0;
        let (fine, at_512) = scenario_orders(&args, 512, 0).await?;
        ok &= fine;
        if let Some(admin) = pg {
            let naive = naive_postgres(admin, 512, args.seconds).await?;
            println!(
                "  ratio            {:.1} × (Holdfast over HTTP at 512 connections ÷ naive at 512 clients)",
                at_512 / naive.max(1e-9)
            );
        }
    }
    if s == "all" || s == "mixed" {
        ok &= scenario_orders(&args, 256, 90).await?.0;
    }
    if s == "all" || s == "connections" {
        ok &= scenario_connections(&args).await?;
    }
    if s == "all" || s == "login-flood" {
        ok &= scenario_login_flood(&args).await?;
    }
    if s == "all" || s == "pages" {
        ok &= scenario_pages(&args, 256).await?;
    }
    if !ok {
        bail!("an audit failed");
    }
    println!("\nall audits passed: 0 oversold, 0 lost");
    Ok(())
}
