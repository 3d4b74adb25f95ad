//! What an operator relies on, against the real server binary: `GET /healthz` for the load
//! balancer, and `server backup <file>` taking a consistent copy while the shop keeps selling.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{key, order_body, spawn_app, start_server};
use serde_json::Value;
use sqlx::sqlite::SqlitePool;
use std::collections::HashSet;
use std::process::Command;

#[tokio::test]
async fn healthz_says_ok_and_is_never_cached() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_orders_pour_in_is_consistent_and_has_every_earlier_order() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start_server(dir.path());
    let client = reqwest::Client::new();
    let place = {
        let (client, base) = (client.clone(), base.clone());
        move |i: usize| {
            let (client, url) = (client.clone(), format!("{base}/api/place_order"));
            async move {
                let res = client
                    .post(url)
                    .json(&order_body(&key(i), 2, 1))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                res.json::<Value>().await.unwrap()["order_code"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        }
    };
    let mut before = Vec::new();
    for i in 0..30 {
        before.push(place(i).await);
    }
    // more orders keep coming while the backup runs
    let during = tokio::spawn({
        let place = place.clone();
        async move {
            let mut codes = Vec::new();
            for i in 1000..1080 {
                codes.push(place(i).await);
            }
            codes
        }
    });
    let dest = dir.path().join("backup.db");
    let out = tokio::task::spawn_blocking({
        let (data, dest) = (dir.path().to_owned(), dest.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_server"))
                .args(["backup", dest.to_str().unwrap()])
                .env("HOLDFAST_DATA_DIR", data)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let during = during.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("integrity ok"), "{said}");

    let copy = SqlitePool::connect(&format!("sqlite://{}?mode=ro", dest.display()))
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&copy)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let codes: HashSet<String> = sqlx::query_scalar("SELECT code FROM orders")
        .fetch_all(&copy)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert!(
        before.iter().all(|c| codes.contains(c)),
        "every order acknowledged before the backup is in it"
    );
    assert!(codes.len() <= before.len() + during.len());
    // one snapshot: the copy's stock and orders agree with each other
    let stock = common::stock_of(&copy, 2).await;
    let sold = common::units_sold(&copy, 2).await;
    let seeded: i64 = 120;
    assert_eq!(stock + sold, seeded, "stock {stock} + sold {sold}");
    assert_eq!(sold as usize, codes.len());

    // the shop kept serving, and a second backup to the same name is refused
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    let again = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["backup", dest.to_str().unwrap()])
        .env("HOLDFAST_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    drop(server);
}
