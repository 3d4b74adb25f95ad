//! Logs an operator can use: a request id on every answer (the proxy's, only behind a trusted
//! proxy), and `HOLDFAST_LOG_FORMAT=json` — one JSON object a line from the real server
//! process, with the request's id and route on what it logs, and no shopper's phone number or
//! address.

// in test code a panic is how a test reports failure
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{order_body, spawn_app_with};
use serde_json::Value;

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
    let (child, lines) = common::start_logged(
        dir.path(),
        &[
            ("HOLDFAST_TRUST_PROXY", "true"),
            ("HOLDFAST_LOG_FORMAT", "json"),
        ],
    );
    let base = common::line_from(&lines, |line| {
        let v: Value = serde_json::from_str(line).ok()?;
        let message = v["message"].as_str()?;
        let at = message.find("serving on ")?;
        Some(message[at + "serving on ".len()..].trim().to_owned())
    });
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

    let login: Value = serde_json::from_str(&common::line_from(&lines, |line| {
        let v: Value = serde_json::from_str(line).ok()?;
        (v["message"] == "failed owner login").then(|| line.to_owned())
    }))
    .unwrap();
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
