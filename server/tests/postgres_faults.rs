//! Postgres going away mid-surge, and coming back. The server reaches Postgres through a TCP
//! proxy owned by the test: cutting it drops every connection and refuses new ones, as a stopped
//! database would; opening it again is the restart. Meanwhile shoppers keep ordering: they are
//! answered quickly with 503 + `Retry-After` (never hang, never a 500), no acknowledged order is
//! lost, nothing is half-written, and the server recovers by itself. And a server process killed
//! with `kill -9` mid-surge loses no acknowledged order. Needs Postgres (CI has it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_surge_gets_quick_503s_loses_nothing_and_recovers_by_itself() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let switch = Switch::start("127.0.0.1:5432").await;
    let db_name = pg.url.rsplit('/').next().unwrap().to_owned();
    let via_switch = format!("postgres://postgres@127.0.0.1:{}/{db_name}", switch.port);
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start_server_with(dir.path(), &[("DATABASE_URL", via_switch.as_str())]);
    let db = Db::Pg(sqlx::PgPool::connect(&pg.url).await.unwrap());
    let initial = 1_000_000;
    db.set_stock(2, initial).await;

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
    switch.cut();
    wait_for(503, cut_at).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let restored_at = Instant::now();
    switch.restore();
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
                    *took < Duration::from_secs(8),
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
