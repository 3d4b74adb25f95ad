//! One request a simulated shopper sent, and the answer it got, classified the way a shopper
//! would read it: an order, "sold out", "you're in line", "busy, try again", …

use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One answer the load generator got.
#[derive(Debug, Clone)]
pub struct Sample {
    /// "order", "join", "status", "page", "leave", "login", …
    pub what: &'static str,
    /// "acknowledged", "sold_out", "overloaded", "rate_limited", "waiting", "http_500", …
    pub kind: String,
    pub latency: Duration,
    /// When the answer arrived.
    pub at: Instant,
    pub order_code: Option<String>,
    /// The wait the server asked for before trying again (503, 429), in seconds.
    pub retry_after: Option<u64>,
}

impl Sample {
    /// A sample made by hand (an answer timed elsewhere).
    pub fn new(what: &'static str, kind: &str, started: Instant) -> Sample {
        Sample {
            what,
            kind: kind.to_owned(),
            latency: started.elapsed(),
            at: Instant::now(),
            order_code: None,
            retry_after: None,
        }
    }

    /// An answer that is the server failing, not the shop answering (5xx other than a
    /// deliberate "busy", timeouts, dropped connections).
    pub fn is_error(&self) -> bool {
        self.kind.starts_with("http_5")
            || self.kind == "internal"
            || self.kind.contains("error")
            || self.kind == "timeout"
    }
}

/// Every answer of a load run, and each waiting-room shopper's journey.
#[derive(Debug, Default)]
pub struct Tally {
    pub samples: Vec<Sample>,
    /// Per waiting-room shopper: time from joining to the final answer.
    pub journeys: Vec<Duration>,
}

impl Tally {
    /// The order codes shoppers were given.
    pub fn acknowledged(&self) -> Vec<String> {
        self.samples
            .iter()
            .filter_map(|s| s.order_code.clone())
            .collect()
    }
}

/// Sends one request and classifies its answer; the JSON body comes back too (`Null` for pages
/// and logins, whose bodies are read but not kept).
pub async fn send(what: &'static str, req: reqwest::RequestBuilder) -> (Sample, Value) {
    let t = Instant::now();
    let mut retry_after = None;
    let (kind, body) = match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            retry_after = r
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let body: Value = if what == "page" || what.starts_with("login") {
                match r.bytes().await {
                    Ok(_) => Value::Null,
                    Err(_) => return (Sample::new(what, "connection_error", t), Value::Null),
                }
            } else {
                r.json().await.unwrap_or(Value::Null)
            };
            let kind = match (status, body["kind"].as_str()) {
                (200, _) if what == "order" => "acknowledged".to_owned(),
                (200, _) if what == "page" => "page_viewed".to_owned(),
                (303, _) if what.starts_with("login") => "logged_in".to_owned(),
                (200, _) => body["state"].as_str().unwrap_or("ok").to_owned(),
                (_, Some(kind)) => kind.to_owned(),
                (s, None) => format!("http_{s}"),
            };
            if retry_after.is_none() {
                retry_after = body["retry_after_secs"].as_u64();
            }
            (kind, body)
        }
        Err(e) if e.is_timeout() => ("timeout".to_owned(), Value::Null),
        Err(_) => ("connection_error".to_owned(), Value::Null),
    };
    let mut s = Sample::new(what, &kind, t);
    s.retry_after = retry_after;
    if kind == "acknowledged" {
        s.order_code = body["order_code"].as_str().map(str::to_owned);
    }
    (s, body)
}

/// The JSON of one order of one unit of `product`, with a waiting-room hold if there is one.
pub fn order_body(key: String, product: i64, phone: &str, hold: Option<&str>) -> Value {
    let mut body = json!({
        "idempotency_key": key,
        "lines": [{"product_id": product, "quantity": 1}],
        "customer": {"name": "Surge Shopper", "phone": phone, "address": "1 Harbour Row, Porthaven"}
    });
    if let Some(hold) = hold {
        body["hold_token"] = json!(hold);
    }
    body
}
