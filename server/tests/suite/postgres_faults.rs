//! Postgres going away mid-surge, and coming back, two ways: a real Postgres of the test's own
//! (a private cluster made with `initdb`) stopped with `pg_ctl stop -m immediate` — a crash: no
//! checkpoint, recovery from the WAL at restart — and started again; and the network to the
//! shared Postgres cut by a TCP proxy owned by the test (every connection dropped, new ones
//! refused) and restored. Meanwhile shoppers keep ordering: they are answered quickly with 503 +
//! `Retry-After` (never hang, never a 500), no acknowledged order is lost, nothing is
//! half-written, and the server recovers by itself. And a server process killed with `kill -9`
//! mid-surge loses no acknowledged order. Needs Postgres (CI has it).
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::shop::{Db, PgDatabase};
use common::start_server_with;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy to Postgres that the test can cut and restore.
struct Switch {
    port: u16,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Switch {
    async fn start(target: &'static str) -> Switch {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (up2, links2) = (up.clone(), links.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    break;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client); // refused: the database is down
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut db) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut db).await;
                    }
                });
                links2.lock().unwrap().push(link);
            }
        });
        Switch { port, up, links }
    }

    /// Postgres "stops": every open connection is cut, new ones are refused.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A Postgres server of the test's own, in a temporary directory, on a free port: the one
/// Postgres a test may stop and start (the machine's is shared). Run as the `postgres` user
/// when the test runs as root (Postgres refuses to run as root).
struct PrivateCluster {
    dir: tempfile::TempDir,
    port: u16,
    bin: std::path::PathBuf,
}

impl PrivateCluster {
    /// `None` when Postgres' programs are not installed and Postgres is not required.
    fn create() -> Option<PrivateCluster> {
        let bin = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| std::path::PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .filter(|b| b.join("initdb").exists());
        let Some(bin) = bin else {
            assert!(
                std::env::var("HOLDFAST_REQUIRE_POSTGRES").is_err(),
                "Postgres is required but initdb is not installed"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = PrivateCluster { dir, port, bin };
        if Self::as_root() {
            let chown = std::process::Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(cluster.dir.path())
                .status()
                .unwrap();
            assert!(chown.success());
        }
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        cluster.start();
        Some(cluster)
    }

    fn as_root() -> bool {
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if Self::as_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            std::process::Command::new(&program)
        };
        let out = command.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    /// A crash, as far as the database is concerned: no shutdown checkpoint.
    fn stop_immediately(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
        if Self::as_root() {
            let _ = std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &self.data(), "-m", "immediate", "stop"])
                .output();
        }
    }
}

/// What goes wrong with the database, and how it comes back.
trait Outage {
    fn begin(&self);
    fn end(&self);
}

impl Outage for Switch {
    fn begin(&self) {
        self.cut();
    }
    fn end(&self) {
        self.restore();
    }
}

impl Outage for PrivateCluster {
    fn begin(&self) {
        tokio::task::block_in_place(|| self.stop_immediately());
    }
    fn end(&self) {
        tokio::task::block_in_place(|| self.start());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crashed_and_restarted_mid_surge_gets_quick_503s_loses_nothing_and_recovers() {
    let Some(cluster) = PrivateCluster::create() else {
        return;
    };
    let url = cluster.url();
    surge_through_an_outage(&url, &url, &cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cut_off_mid_surge_gets_quick_503s_loses_nothing_and_recovers_by_itself() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let switch = Switch::start("127.0.0.1:5432").await;
    let db_name = pg.url.rsplit('/').next().unwrap().to_owned();
    let via_switch = format!("postgres://postgres@127.0.0.1:{}/{db_name}", switch.port);
    surge_through_an_outage(&via_switch, &pg.url, &switch).await;
}

/// Shoppers order through one server on `server_url` while `outage` takes the database away and
/// brings it back; then the audit, on `audit_url`.
async fn surge_through_an_outage(server_url: &str, audit_url: &str, outage: &dyn Outage) {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start_server_with(dir.path(), &[("DATABASE_URL", server_url)]);
    let initial = 1_000_000;
    {
        let setup = Db::Pg(sqlx::PgPool::connect(audit_url).await.unwrap());
        setup.set_stock(2, initial).await;
        if let Db::Pg(pool) = setup {
            pool.close().await;
        }
    }

    // 16 shoppers ordering in a loop, each order timed
    let stop = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut shoppers = tokio::task::JoinSet::new();
    for w in 0..16 {
        let (http, base, stop) = (http.clone(), base.clone(), stop.clone());
        shoppers.spawn(async move {
            let mut seen = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = common::order_body(&format!("fault-{w:03}-{i:08}"), 2, 1);
                let started = Instant::now();
                let res = http
                    .post(format!("{base}/api/place_order"))
                    .json(&body)
                    .send()
                    .await;
                let took = started.elapsed();
                let (status, retry, v) = match res {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let retry = r.headers().contains_key("retry-after");
                        (
                            status,
                            retry,
                            r.json::<Value>().await.unwrap_or(Value::Null),
                        )
                    }
                    Err(e) => panic!("the server itself must keep answering: {e}"),
                };
                seen.push((
                    Instant::now(),
                    status,
                    retry,
                    took,
                    v["order_code"].as_str().map(str::to_owned),
                ));
                if status != 200 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            seen
        });
    }
    let wait_for = |status: u16, seen_since: Instant| {
        let http = http.clone();
        let base = base.clone();
        async move {
            for _ in 0..200 {
                let res = http.get(format!("{base}/healthz")).send().await.unwrap();
                if res.status().as_u16() == status && Instant::now() > seen_since {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("health never became {status}");
        }
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cut_at = Instant::now();
    outage.begin();
    wait_for(503, cut_at).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let restored_at = Instant::now();
    outage.end();
    wait_for(200, restored_at).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);

    let mut all = Vec::new();
    while let Some(r) = shoppers.join_next().await {
        all.extend(r.unwrap());
    }
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    for (_, status, retry, took, _) in &all {
        *by_status.entry(*status).or_default() += 1;
        match status {
            200 => {}
            503 => {
                assert!(retry, "a 503 says when to come back");
                assert!(
                    *took < Duration::from_secs(4),
                    "failed fast, not after {took:?}"
                );
            }
            other => panic!("only 200 or 503 while the database comes and goes, got {other}"),
        }
    }
    let slowest_503 = all
        .iter()
        .filter(|(_, s, ..)| *s == 503)
        .map(|(.., took, _)| *took)
        .max()
        .unwrap_or_default();
    println!("answers while Postgres came and went: {by_status:?}; slowest 503 {slowest_503:?}");
    let before_cut = all
        .iter()
        .filter(|(at, s, ..)| *at < cut_at && *s == 200)
        .count();
    let after_restore = all
        .iter()
        .filter(|(at, s, ..)| *at > restored_at && *s == 200)
        .count();
    assert!(
        before_cut > 0,
        "orders went through before the cut: {by_status:?}"
    );
    assert!(
        by_status.get(&503).is_some_and(|n| *n > 0),
        "the outage was noticed: {by_status:?}"
    );
    assert!(
        after_restore > 0,
        "orders go through again after the restart: {by_status:?}"
    );

    // the audit, straight on Postgres
    let db = Db::Pg(sqlx::PgPool::connect(audit_url).await.unwrap());
    let acked: HashSet<String> = all.iter().filter_map(|(.., code)| code.clone()).collect();
    let stored: HashSet<String> = db.order_codes().await.into_iter().collect();
    let lost: Vec<&String> = acked.iter().filter(|c| !stored.contains(*c)).collect();
    assert!(lost.is_empty(), "{} acknowledged orders lost", lost.len());
    let (stock, sold) = (db.stock(2).await, db.units_sold(2).await);
    assert_eq!(
        stock + sold,
        initial,
        "nothing half-written: stock {stock} + sold {sold}"
    );
    assert_eq!(sold as usize, stored.len(), "one unit per stored order");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_surge_on_postgres_loses_no_acknowledged_order() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", pg.url.as_str())];
    let (mut server, base) = start_server_with(dir.path(), &env);
    let db = Db::Pg(sqlx::PgPool::connect(&pg.url).await.unwrap());
    let initial = 1_000_000;
    db.set_stock(2, initial).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let acks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut shoppers = tokio::task::JoinSet::new();
    for w in 0..16 {
        let (http, base, acks) = (http.clone(), base.clone(), acks.clone());
        shoppers.spawn(async move {
            let mut acked = Vec::new();
            for i in 0.. {
                let body = common::order_body(&format!("kill-{w:03}-{i:08}"), 2, 1);
                match http
                    .post(format!("{base}/api/place_order"))
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => {
                        if let Ok(v) = r.json::<Value>().await {
                            acked.push(v["order_code"].as_str().unwrap().to_owned());
                            acks.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break, // the server is gone
                }
            }
            acked
        });
    }
    for _ in 0..400 {
        if acks.load(Ordering::SeqCst) >= 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(acks.load(Ordering::SeqCst) >= 300, "the surge got going");
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let mut acked = Vec::new();
    while let Some(r) = shoppers.join_next().await {
        acked.extend(r.unwrap());
    }
    // a new server on the same database
    let (_again, base) = start_server_with(dir.path(), &env);
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let stored: HashSet<String> = db.order_codes().await.into_iter().collect();
    assert!(
        acked.iter().all(|c| stored.contains(c)),
        "every acknowledged order is stored"
    );
    let (stock, sold) = (db.stock(2).await, db.units_sold(2).await);
    assert_eq!(stock + sold, initial, "stock {stock} + sold {sold}");
    assert_eq!(sold as usize, stored.len());
}
