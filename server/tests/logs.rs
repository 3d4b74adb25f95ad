//! Logs an operator can use: a request id on every answer (the proxy's, only behind a trusted
//! proxy), and `HOLDFAST_LOG_FORMAT=json` — one JSON object a line from the real server
//! process, with the request's id and route on what it logs, and no shopper's phone number or
//! address.

// in test code a panic is how a test reports failure
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{order_body, spawn_app_with};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn id_of(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_answer_has_an_id_and_a_strangers_id_is_not_taken() {
    let open = spawn_app_with(&[]).await;
    let res = open.get("/healthz").await;
    let id = id_of(&res);
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(id_of(&open.get("/healthz").await), id, "one id a request");
    let res = open
        .client
        .get(open.url("/no/such/page"))
        .header("x-request-id", "mine-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_ne!(id_of(&res), "mine-123", "not from a stranger");

    let proxied = spawn_app_with(&[("HOLDFAST_TRUST_PROXY", "true")]).await;
    let ask = |id: &'static str| {
        proxied
            .client
            .get(proxied.url("/healthz"))
            .header("x-request-id", id)
            .header("x-forwarded-for", "203.0.113.9")
            .send()
    };
    assert_eq!(id_of(&ask("edge-7f3a.1").await.unwrap()), "edge-7f3a.1");
    let odd = id_of(&ask("two words").await.unwrap());
    assert_ne!(odd, "two words");
    assert_eq!(odd.len(), 32);
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_request_id_and_no_shopper_details() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = common::Server(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .env("HOLDFAST_ADDR", "127.0.0.1:0")
            .env("HOLDFAST_DATA_DIR", dir.path())
            .env("HOLDFAST_RATE_LIMIT_PER_SEC", "0")
            .env("HOLDFAST_METRICS_ADDR", "off")
            .env("HOLDFAST_TRUST_PROXY", "true")
            .env("HOLDFAST_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn({
        let lines = lines.clone();
        move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let message = v["message"].as_str().unwrap_or_default();
                    if let Some(at) = message.find("serving on ") {
                        let _ = tx.send(message[at + "serving on ".len()..].trim().to_owned());
                    }
                }
                lines.lock().unwrap().push(line);
            }
        }
    });
    let base = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // a shopper's order (her phone and address must not reach the log)
    let res = client
        .post(format!("{base}/api/place_order"))
        .header("x-request-id", "order-req-42")
        .header("x-forwarded-for", "203.0.113.9")
        .json(&order_body("json-logs-key-000001", 3, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(id_of(&res), "order-req-42");
    // something logged inside a request: a wrong owner login
    let res = client
        .post(format!("{base}/admin/login"))
        .header("x-request-id", "login-req-7")
        .header("x-forwarded-for", "203.0.113.9")
        .form(&[
            ("email", "someone@harbour.example"),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&res), "login-req-7");

    let mut found = None;
    for _ in 0..50 {
        found = lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["message"] == "failed owner login");
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login = found.expect("the failed login is logged");
    assert_eq!(login["level"], "WARN");
    assert_eq!(login["span"]["request_id"], "login-req-7", "{login}");
    assert_eq!(login["span"]["route"], "/admin/login", "{login}");
    assert!(login["timestamp"].is_string());

    drop(child);
    let lines = lines.lock().unwrap();
    assert!(lines.len() >= 3, "{lines:#?}");
    for line in lines.iter() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
        for private in [
            "555 010 2030",
            "5550102030",
            "Harbour Row",
            "Ada Lovelace",
            "someone@harbour",
        ] {
            assert!(!line.contains(private), "{private} in the log: {line}");
        }
    }
}
