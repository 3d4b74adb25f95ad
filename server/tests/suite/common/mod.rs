//! Test helpers: start the real server on port 0 with a fresh SQLite file, talk HTTP to it, and
//! look at the database directly to check what really happened.
// Every test crate compiles this module and uses only some of it, so the rest is dead code there;
// and in test code a panic is how a test reports failure (`unwrap`/`expect`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod owner;
#[macro_use]
pub mod shop;

use serde_json::{json, Value};
use server::{Application, Config};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

pub struct TestApp {
    pub base: String,
    /// Where `/metrics` is served, when the test asked for it (`HOLDFAST_METRICS_ADDR`).
    pub metrics_base: Option<String>,
    pub client: reqwest::Client,
    /// A separate connection to the same database file, for assertions.
    /// The same database, for setting up and checking what really happened.
    pub db: shop::Db,
    /// The server's clock (the system's, unless the test set its own with [`spawn_on_at`]).
    pub clock: app::rules::Clock,
    /// The unpaid-order expiry task's finished passes.
    pub expiry_passes: server::admin::orders::ExpiryPasses,
    _dir: tempfile::TempDir,
    _pg: Option<shop::PgDatabase>,
}

impl std::ops::Deref for TestApp {
    type Target = shop::Db;
    fn deref(&self) -> &shop::Db {
        &self.db
    }
}

/// Which database a test's server runs on.
pub enum Kind {
    Sqlite,
    Postgres(shop::PgDatabase),
}

/// The SQLite store alone (no HTTP), on a fresh file with the demo catalogue.
pub async fn fresh_store() -> (server::store::SqliteStore, tempfile::TempDir) {
    fresh_store_at(app::rules::Clock::system()).await
}

/// [`fresh_store`], reading the time from `clock`.
pub async fn fresh_store_at(
    clock: app::rules::Clock,
) -> (server::store::SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/shop.db", dir.path().display());
    let store = server::store::SqliteStore::open_with_clock(&url, clock)
        .await
        .unwrap();
    server::store::seed::seed_if_empty(&store).await.unwrap();
    (store, dir)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_on(Kind::Sqlite, extra).await
}

/// The real server on port 0, on a fresh SQLite file or a fresh Postgres database.
pub async fn spawn_on(kind: Kind, extra: &[(&str, &str)]) -> TestApp {
    spawn_on_at(kind, extra, app::rules::Clock::system()).await
}

/// [`spawn_on`], the server's desk, reads, usher and expiry reading the time from `clock`.
pub async fn spawn_on_at(kind: Kind, extra: &[(&str, &str)], clock: app::rules::Clock) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("HOLDFAST_ADDR".into(), "127.0.0.1:0".into());
    env.insert("HOLDFAST_DATA_DIR".into(), dir.path().display().to_string());
    // every test shopper comes from 127.0.0.1: rate limits are tested on their own
    env.insert("HOLDFAST_RATE_LIMIT_PER_SEC".into(), "0".into());
    // the waiting room's rounds run when a test asks (or a join serves the line)
    env.insert("HOLDFAST_QUEUE_TICK_MS".into(), "100".into());
    // tests in parallel cannot all have the default metrics port: a test that reads metrics
    // asks for a port of its own
    env.insert("HOLDFAST_METRICS_ADDR".into(), "off".into());
    let pg = match kind {
        Kind::Sqlite => None,
        Kind::Postgres(pg) => {
            env.insert("DATABASE_URL".into(), pg.url.clone());
            Some(pg)
        }
    };
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    let mut config = Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    config.clock = clock.clone();
    let db_url = config.database_url();
    let app = Application::build(config).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let metrics_base = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let expiry_passes = app.expiry_passes();
    tokio::spawn(app.run_until_stopped());
    let db = if pg.is_some() {
        shop::Db::Pg(
            sqlx::PgPool::connect(&db_url)
                .await
                .expect("test db connection"),
        )
    } else {
        shop::Db::Sqlite(
            SqlitePool::connect_with(SqliteConnectOptions::from_str(&db_url).unwrap())
                .await
                .expect("test db connection"),
        )
    };
    // an English-speaking browser unless a test says otherwise (the tests read English text;
    // a browser that names no language gets the shop's default, Chinese: see language.rs)
    let mut english = reqwest::header::HeaderMap::new();
    english.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_static("en"),
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        // a request the server never answers fails its test in two minutes, with its name,
        // instead of holding the whole run until CI's limit
        .timeout(Duration::from_secs(120))
        .default_headers(english)
        .build()
        .unwrap();
    TestApp {
        base,
        metrics_base,
        client,
        db,
        clock,
        expiry_passes,
        _dir: dir,
        _pg: pg,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET `path`: the status and the JSON answer.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        json_of(self.get(path).await).await
    }

    /// The page at `path` once `shows` holds for its HTML, waiting up to 10 s (the catalogue
    /// is read every 250 ms, a page is kept until what it shows changes).
    pub async fn page_when(&self, path: &str, what: &str, shows: impl Fn(&str) -> bool) -> String {
        eventually(Duration::from_secs(10), what, || async {
            let page = self.get(path).await.text().await.expect("a page");
            shows(&page).then_some(page)
        })
        .await
    }

    /// Asks to join the line for `quantity` of `product_id` as `phone`: the answer as sent.
    pub async fn join_line(
        &self,
        product_id: i64,
        quantity: i64,
        phone: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.url("/api/queue/join"))
            .json(&serde_json::json!({"product_id": product_id, "quantity": quantity, "phone": phone}))
            .send()
            .await
            .expect("request sent")
    }

    /// [`TestApp::join_line`], which must be answered 200: its JSON.
    pub async fn joined(&self, product_id: i64, quantity: i64, phone: &str) -> Value {
        let (status, body) = json_of(self.join_line(product_id, quantity, phone).await).await;
        assert_eq!(status, 200, "joining: {body}");
        body
    }

    /// POST `body` as JSON to `path`: the status and the JSON answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let res = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent");
        json_of(res).await
    }

    /// GET `path`: the body as text, whatever the status.
    pub async fn page_text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("a body")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Sends all these orders at once over separate connections; answers in completion order as
    /// (status, Retry-After header, JSON body).
    pub async fn fire_concurrently(&self, bodies: Vec<Value>) -> Vec<(u16, Option<String>, Value)> {
        let mut set = tokio::task::JoinSet::new();
        for body in bodies {
            let client = self.client.clone();
            let url = self.url("/api/place_order");
            set.spawn(async move {
                let res = client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .expect("request sent");
                let status = res.status().as_u16();
                let retry = res
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                (status, retry, res.json::<Value>().await.expect("JSON body"))
            });
        }
        let mut answers = Vec::new();
        while let Some(answer) = set.join_next().await {
            answers.push(answer.expect("request task"));
        }
        answers
    }

    /// Leaves the line with `ticket`, as the waiting page's form does (answered with its
    /// redirect, or 200 to a script).
    pub async fn leave_line(&self, ticket: &str) {
        let res = self
            .client
            .post(self.url("/api/queue/leave"))
            .form(&[("ticket", ticket)])
            .send()
            .await
            .expect("request sent");
        assert!(
            res.status().is_redirection() || res.status() == 200,
            "{}",
            res.status()
        );
    }

    pub async fn place_order(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/place_order"))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }
}

/// Units of a product left in stock, read straight from the database.
pub async fn stock_of(db: &SqlitePool, product_id: i64) -> i64 {
    sqlx::query_scalar("SELECT stock FROM products WHERE id = ?")
        .bind(product_id)
        .fetch_one(db)
        .await
        .unwrap()
}

/// Units of a product in stored orders.
pub async fn units_sold(db: &SqlitePool, product_id: i64) -> i64 {
    sqlx::query_scalar("SELECT COALESCE(SUM(quantity), 0) FROM order_lines WHERE product_id = ?")
        .bind(product_id)
        .fetch_one(db)
        .await
        .unwrap()
}

pub fn order_body(key: &str, product_id: i64, quantity: i64) -> Value {
    json!({
        "idempotency_key": key,
        "lines": [{"product_id": product_id, "quantity": quantity}],
        "customer": {"name": "Ada Lovelace", "phone": "+1 555 010 2030", "address": "1 Harbour Row, Porthaven", "note": ""}
    })
}

/// A request sent and its answer read in one step, for requests the test builds itself (other
/// headers, another server); a request not sent or an answer not read fails the test.
pub trait Fetch {
    /// The answer's body as JSON, into whatever the caller reads it as.
    fn fetch_json<T: serde::de::DeserializeOwned>(self) -> impl std::future::Future<Output = T>;
    /// The answer's body as text.
    fn fetch_text(self) -> impl std::future::Future<Output = String>;
}

impl Fetch for reqwest::RequestBuilder {
    async fn fetch_json<T: serde::de::DeserializeOwned>(self) -> T {
        read_json(self.send().await.expect("request sent")).await.1
    }

    async fn fetch_text(self) -> String {
        self.send()
            .await
            .expect("request sent")
            .text()
            .await
            .expect("an answer body")
    }
}

/// The status and the JSON body of an answer (a body that is not JSON fails the test, saying
/// what it was).
pub async fn json_of(res: reqwest::Response) -> (u16, Value) {
    read_json(res).await
}

/// The status and the body of an answer read as `T`; a body that is not one fails the test,
/// saying what it was.
async fn read_json<T: serde::de::DeserializeOwned>(res: reqwest::Response) -> (u16, T) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("an answer body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!("a {status} answer that is not what was expected ({e}): {text}")
    });
    (status, body)
}

/// Asks `check` every 50 ms until it finds what it looks for, and gives that back; fails the
/// test saying `what` was not seen within `within`. For what the shop does in the background
/// (the catalogue read every 250 ms, the usher's rounds, the live feed): a test waits exactly
/// as long as it takes, and a slow machine only makes it wait longer, never fail sooner.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("not within {within:?}: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn key(n: usize) -> String {
    format!("test-key-{n:012}")
}

/// Puts a product on sale: starting `starts_in_secs` from now (negative: already running) and
/// lasting `lasts_secs`.
pub struct Sale {
    pub starts_in_secs: i64,
    pub lasts_secs: i64,
    pub price_cents: i64,
    pub limit: Option<i64>,
    pub waiting_room: bool,
    pub hold_seconds: i64,
}

impl Default for Sale {
    fn default() -> Sale {
        Sale {
            starts_in_secs: -60,
            lasts_secs: 3600,
            price_cents: 999,
            limit: None,
            waiting_room: true,
            hold_seconds: 300,
        }
    }
}

/// An order from Ada (+1 555 010 2030) under idempotency key `key`: (product, quantity) each.
pub fn new_order(key: &str, lines: &[(i64, i64)]) -> app::domain::NewOrder {
    let lines: Vec<app::domain::LineRequest> = lines
        .iter()
        .map(|&(product_id, quantity)| app::domain::LineRequest {
            product_id,
            quantity,
        })
        .collect();
    let customer = app::domain::CustomerInput {
        name: "Ada".into(),
        phone: "+15550102030".into(),
        address: "1 Harbour Row".into(),
        note: String::new(),
    };
    app::domain::NewOrder::parse(key, &lines, &customer).unwrap()
}

/// A time as SQLite stores it, for statements run with rusqlite or written into SQL text.
pub fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Units of a product in live holds.
pub async fn units_held(db: &SqlitePool, product_id: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE product_id = ? AND state = 'live'",
    )
    .bind(product_id)
    .fetch_one(db)
    .await
    .unwrap()
}

/// The server process; killed when dropped, so a failing test leaves nothing running.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Server {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// The `server` binary on a free port with this data dir, no rate limits, no metrics address,
/// logging at info to its standard output (piped), then `env` on top.
fn spawn_server(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    Server(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .env("HOLDFAST_ADDR", "127.0.0.1:0")
            .env("HOLDFAST_DATA_DIR", data_dir)
            .env("HOLDFAST_RATE_LIMIT_PER_SEC", "0")
            .env("HOLDFAST_METRICS_ADDR", "off")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("server starts"),
    )
}

/// The log of a server process: its standard output, line by line, as it comes.
pub type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Starts `server` on a free port with this data dir and `env`, keeping every line it writes;
/// [`line_from`] waits for one.
pub fn start_logged(data_dir: &std::path::Path, env: &[(&str, &str)]) -> (Server, Log) {
    let mut child = spawn_server(data_dir, env);
    let log = Log::default();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn({
        let log = log.clone();
        move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        }
    });
    (child, log)
}

/// The first thing `find` finds in a line of `log`, waiting up to 30 s for it.
pub fn line_from(log: &Log, find: impl Fn(&str) -> Option<String>) -> String {
    for _ in 0..600 {
        if let Some(found) = log.lock().unwrap().iter().find_map(|l| find(l)) {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("not in the server's log: {:#?}", log.lock().unwrap())
}

/// Starts `server` on a free port with this data dir; returns the process and its base URL.
pub fn start_server(data_dir: &std::path::Path) -> (Server, String) {
    start_server_with(data_dir, &[])
}

/// The same, with more environment (`DATABASE_URL`, a shared `HOLDFAST_SECRET`, …).
pub fn start_server_with(data_dir: &std::path::Path, env: &[(&str, &str)]) -> (Server, String) {
    let mut child = spawn_server(data_dir, env);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find("serving on http://") {
                let _ = tx.send(line[at + "serving on ".len()..].trim().to_owned());
            }
            // the server's warnings and errors show in a failing test's output
            if line.contains("WARN") || line.contains("ERROR") {
                eprintln!("server: {line}");
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server announces its address");
    (child, base)
}
