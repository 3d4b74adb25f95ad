//! `/metrics` on its own address, read as Prometheus reads it: the real server, real orders
//! and a real line, the answer parsed by a Prometheus text-format parser. One test in this
//! binary: the process's figures are this shop's alone.

#[path = "suite/common/mod.rs"]
mod common;

use common::{order_body, spawn_app_with, Sale};
use prometheus_parse::{Sample, Scrape, Value as PromValue};
use serde_json::json;

const TOKEN: &str = "metrics-token-for-the-test-0123";

/// The value of `name` whose labels include all of `labels`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching = |s: &&Sample| {
        s.metric == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(k).is_some_and(|have| have == *v))
    };
    scrape
        .samples
        .iter()
        .find(matching)
        .and_then(|s| match &s.value {
            PromValue::Counter(v) | PromValue::Gauge(v) | PromValue::Untyped(v) => Some(*v),
            _ => None,
        })
}

/// A histogram's count of observations.
fn observations(scrape: &Scrape, name: &str) -> Option<u64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name)
        .and_then(|s| match &s.value {
            PromValue::Histogram(buckets) => buckets.last().map(|b| b.count as u64),
            _ => None,
        })
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_to_the_token_and_tell_what_happened() {
    let app = spawn_app_with(&[
        ("HOLDFAST_METRICS_ADDR", "127.0.0.1:0"),
        ("HOLDFAST_METRICS_TOKEN", TOKEN),
    ])
    .await;
    let metrics = format!(
        "{}/metrics",
        app.metrics_base.as_deref().expect("metrics are served")
    );

    // the shop's own port does not serve them
    assert_eq!(app.get("/metrics").await.status(), 404);
    // without the token, or with another, nothing is told
    let bare = app.client.get(&metrics).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    assert!(bare.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let wrong = app
        .client
        .get(&metrics)
        .bearer_auth("metrics-token-for-the-test-9999")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.text().await.unwrap().contains("holdfast_"));

    // what happens: an order, one sold out, a bad one, a line with holds
    assert_eq!(
        app.place_order(&order_body("metrics-key-000001", 3, 1))
            .await
            .status(),
        200
    );
    app.set_stock(2, 0).await;
    assert_eq!(
        app.place_order(&order_body("metrics-key-000002", 2, 1))
            .await
            .status(),
        409
    );
    let bad = app
        .client
        .post(app.url("/api/place_order"))
        .json(&json!({"idempotency_key": "x", "lines": [], "customer": {}}))
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error(), "{}", bad.status());
    app.set_sale(
        4,
        Sale {
            waiting_room: true,
            ..Sale::default()
        },
    )
    .await;
    app.set_stock(4, 2).await;
    for (i, quantity) in [2, 1].into_iter().enumerate() {
        let res = app
            .client
            .post(app.url("/api/queue/join"))
            .json(&json!({"product_id": 4, "quantity": quantity, "phone": format!("+44 7700 900{:03}", 100 + i)}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    let res = app
        .client
        .get(&metrics)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text");

    let answers = |kind| {
        value(
            &scrape,
            "holdfast_checkout_answers_total",
            &[("answer", kind)],
        )
    };
    assert_eq!(answers("ordered"), Some(1.0), "{text}");
    assert_eq!(answers("sold_out"), Some(1.0), "{text}");
    assert_eq!(observations(&scrape, "holdfast_checkout_seconds"), Some(1));
    // the order and the joins went through the desk
    assert!(observations(&scrape, "holdfast_desk_commit_seconds").is_some_and(|n| n >= 3));
    assert!(observations(&scrape, "holdfast_desk_batch_jobs").is_some_and(|n| n >= 3));
    // by route (the route's pattern) and status
    let requests = |route, status| {
        value(
            &scrape,
            "holdfast_http_requests_total",
            &[("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("/api/place_order", "200"), Some(1.0), "{text}");
    assert_eq!(requests("/api/place_order", "409"), Some(1.0), "{text}");
    assert_eq!(requests("/api/queue/join", "200"), Some(2.0), "{text}");
    // the line: the first takes both units, the second waits
    assert_eq!(
        value(&scrape, "holdfast_waiting_shoppers", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&scrape, "holdfast_held_units", &[]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(value(&scrape, "holdfast_orders_in_flight", &[]), Some(0.0));
    assert_eq!(value(&scrape, "holdfast_live_listeners", &[]), Some(0.0));
    assert_eq!(
        value(&scrape, "holdfast_max_connections", &[]),
        Some(20_000.0)
    );
    assert!(value(&scrape, "holdfast_open_connections", &[]).is_some());
    assert_eq!(
        value(&scrape, "holdfast_build_info", &[("database", "sqlite")]),
        Some(1.0)
    );
    // each metric says what it is
    assert!(scrape.docs.contains_key("holdfast_checkout_answers_total"));
    assert_eq!(answers("shed"), Some(0.0), "every kind from the start");
    assert_eq!(
        value(&scrape, "holdfast_rate_limited_total", &[]),
        Some(0.0)
    );
    // no shopper's details in them
    assert!(!text.contains("7700"), "no phone numbers in metrics");

    // the Grafana dashboard in docs/ asks only for metrics the shop serves
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/grafana-holdfast.json"
    ))
    .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let mut asked = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (at, _) in expr.match_indices("holdfast_") {
                let name: String = expr[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                asked.push(name);
            }
        }
    }
    assert!(asked.len() > 20, "{asked:?}");
    for name in asked {
        assert!(
            text.lines().any(|l| l.starts_with(&name)),
            "the dashboard asks for {name}, which /metrics does not serve"
        );
    }
}
