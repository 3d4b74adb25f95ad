//! Crash safety with the real server binary as a separate process: `kill -9` in the middle of a
//! surge loses no acknowledged order, and SIGTERM answers everyone in flight before exiting.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{start_server, Server};
use serde_json::{json, Value};
use sqlx::sqlite::SqlitePool;
use std::collections::HashSet;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const INITIAL: i64 = 1_000_000;
/// A product with no sale (the demo hoodie, id 1, sells through its waiting room).
const PRODUCT: i64 = 2;
/// The demo hoodie's drop: shoppers join its waiting room and buy with their holds.
const QUEUED: i64 = 1;
const QUEUED_INITIAL: i64 = 100_000;

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .arg(sig)
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Sends one order; an acknowledged one is kept in `acked` and counted in `acks` as it arrives.
/// False once the server has gone away (this shopper's order was never acknowledged).
async fn sent_and_counted(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    acked: &mut Vec<String>,
    acks: &AtomicUsize,
) -> bool {
    match client.post(url).json(body).send().await {
        Ok(res) if res.status() == 200 => {
            if let Ok(v) = res.json::<Value>().await {
                acked.push(v["order_code"].as_str().unwrap().to_owned());
                acks.fetch_add(1, Ordering::SeqCst);
            }
            true
        }
        Ok(_) => true,
        Err(_) => false,
    }
}

/// Shoppers ordering in a loop until `stop`; counts acknowledgements in `acks` as they arrive and
/// returns the acknowledged order codes.
async fn surge(
    base: String,
    workers: usize,
    stop: Arc<AtomicBool>,
    acks: Arc<AtomicUsize>,
) -> Vec<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (client, url, stop, acks) = (
            client.clone(),
            format!("{base}/api/place_order"),
            stop.clone(),
            acks.clone(),
        );
        set.spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = json!({
                    "idempotency_key": format!("crash-{w:04}-{i:08}"),
                    "lines": [{"product_id": PRODUCT, "quantity": 1}],
                    "customer": {"name": "Ada", "phone": "+15550102030", "address": "1 Harbour Row"}
                });
                if !sent_and_counted(&client, &url, &body, &mut acked, &acks).await {
                    break;
                }
            }
            acked
        });
    }
    for w in 0..4 {
        let (client, base, stop, acks) = (client.clone(), base.clone(), stop.clone(), acks.clone());
        set.spawn(async move { queue_shopper(&client, &base, w, &stop, &acks).await });
    }
    let mut acked = Vec::new();
    while let Some(r) = set.join_next().await {
        acked.extend(r.unwrap());
    }
    acked
}

/// A shopper going through the waiting room again and again (a new phone number each time):
/// join, and when admitted, order with the hold. Returns the acknowledged order codes.
async fn queue_shopper(
    client: &reqwest::Client,
    base: &str,
    w: usize,
    stop: &AtomicBool,
    acks: &AtomicUsize,
) -> Vec<String> {
    let mut acked = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let phone = format!("+4477{w:02}{i:06}");
        let joined = client
            .post(format!("{base}/api/queue/join"))
            .json(&json!({"product_id": QUEUED, "quantity": 1, "phone": phone}))
            .send()
            .await;
        let Ok(joined) = joined else { break };
        let Ok(ticket) = joined.json::<Value>().await else {
            continue;
        };
        let Some(hold) = ticket["hold_token"].as_str() else {
            continue;
        };
        let body = json!({
            "idempotency_key": format!("crash-queue-{w:04}-{i:08}"),
            "lines": [{"product_id": QUEUED, "quantity": 1}],
            "customer": {"name": "Ada", "phone": phone, "address": "1 Harbour Row"},
            "hold_token": hold,
        });
        let url = format!("{base}/api/place_order");
        if !sent_and_counted(client, &url, &body, &mut acked, acks).await {
            break;
        }
    }
    acked
}

/// Waits until the shoppers have been told of at least `at_least` orders. (Counting stored orders
/// instead would race: an order can be committed while its answer is lost in a crash.)
async fn wait_for_acks(acks: &AtomicUsize, at_least: usize) {
    for _ in 0..400 {
        if acks.load(Ordering::SeqCst) >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("acknowledgements never reached {at_least}");
}

async fn audit(db: &SqlitePool, acked: &[String]) {
    let stored: HashSet<String> = sqlx::query_scalar("SELECT code FROM orders")
        .fetch_all(db)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|c| !stored.contains(*c)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged orders lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    let (stock, sold) = (
        common::stock_of(db, PRODUCT).await,
        common::units_sold(db, PRODUCT).await,
    );
    assert_eq!(stock + sold, INITIAL, "stock {stock} + sold {sold}");
    let (q_stock, q_sold, q_held) = (
        common::stock_of(db, QUEUED).await,
        common::units_sold(db, QUEUED).await,
        common::units_held(db, QUEUED).await,
    );
    assert!(q_sold > 0, "orders went through the waiting room too");
    assert_eq!(
        q_stock + q_sold + q_held,
        QUEUED_INITIAL,
        "waiting room: stock {q_stock} + sold {q_sold} + held {q_held}"
    );
    let used_without_order: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM holds h LEFT JOIN orders o ON o.id = h.order_id \
         WHERE h.state = 'used' AND o.id IS NULL",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(used_without_order, 0, "every used hold is an order");
    assert_eq!(
        (sold + q_sold) as usize,
        stored.len(),
        "one unit per stored order"
    );
}

async fn open_db(dir: &std::path::Path) -> SqlitePool {
    SqlitePool::connect(&format!("sqlite://{}/holdfast.db", dir.display()))
        .await
        .unwrap()
}

/// A server with ample stock and 32 shoppers ordering in a loop, at least 300 acknowledged.
struct Surge {
    server: Server,
    db: SqlitePool,
    stop: Arc<AtomicBool>,
    shoppers: tokio::task::JoinHandle<Vec<String>>,
}

async fn start_surge(dir: &std::path::Path) -> Surge {
    let (server, base) = start_server(dir);
    let db = open_db(dir).await;
    for (product, stock) in [(PRODUCT, INITIAL), (QUEUED, QUEUED_INITIAL)] {
        sqlx::query("UPDATE products SET stock = ? WHERE id = ?")
            .bind(stock)
            .bind(product)
            .execute(&db)
            .await
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicUsize::new(0));
    let shoppers = tokio::spawn(surge(base, 32, stop.clone(), acks.clone()));
    wait_for_acks(&acks, 300).await;
    Surge {
        server,
        db,
        stop,
        shoppers,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_surge_loses_no_acknowledged_order() {
    let dir = tempfile::tempdir().unwrap();
    let Surge {
        mut server,
        db,
        stop,
        shoppers,
    } = start_surge(dir.path()).await;
    server.kill().unwrap(); // SIGKILL, mid-surge
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    let acked = shoppers.await.unwrap();
    assert!(
        acked.len() >= 300,
        "the surge got going ({} acknowledged)",
        acked.len()
    );
    db.close().await;

    // restart on the same files: recovery, then the audit
    let (server, base) = start_server(dir.path());
    let db = open_db(dir.path()).await;
    audit(&db, &acked).await;
    let res = reqwest::get(format!("{base}/api/products")).await.unwrap();
    assert_eq!(res.status(), 200, "the restarted shop serves");
    drop(server); // killed by its guard
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_everyone_in_flight_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let Surge {
        mut server,
        db,
        stop,
        shoppers,
    } = start_surge(dir.path()).await;
    signal(&server, "-TERM");
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "graceful exit, got {status}");
    stop.store(true, Ordering::Relaxed);
    let acked = shoppers.await.unwrap();
    audit(&db, &acked).await;
}
