//! One rehearsal shopper's journey on the second shop, as a phone makes it: look at the product
//! page; join the waiting room if the sale has one, ask again at the interval the page would,
//! and when her turn comes check out with the hold (or walk away); otherwise order at once. Told
//! "busy, try again in N s" she tries again after N s, as the checkout page does. Each shopper
//! comes from her own address, so the shop's per-client limits treat her as one phone.

use super::plan::Plan;
use crate::load::{order_body, pause_until, send, Sample};
use app::domain::QueueStatus;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How many times one request is tried again after "busy" before the shopper leaves.
const RETRIES: u32 = 8;

/// What every shopper shares: where the shop is, what is on sale, and the rehearsal's bounds.
pub struct Shared {
    pub base: String,
    pub http: reqwest::Client,
    pub plan: Plan,
    pub slug: String,
    pub waiting_room: bool,
    /// Requests in flight at once, at most (the plan's bound on connections).
    pub permits: Arc<Semaphore>,
    /// Set to stop: shoppers end their journey at their next step.
    pub stop: Arc<AtomicBool>,
    /// No shopper's journey goes past this.
    pub ends: Instant,
    /// Units ordered so far, shoppers told "sold out", shoppers who left "busy" (for the
    /// progress bar).
    pub sold: AtomicUsize,
    pub told_sold_out: AtomicUsize,
    pub left_busy: AtomicUsize,
    /// The longest line a shopper was told about.
    pub longest_line: AtomicU64,
}

impl Shared {
    fn over(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || Instant::now() >= self.ends
    }

    /// Sends one request within the bound on connections.
    async fn send(&self, what: &'static str, req: reqwest::RequestBuilder) -> (Sample, Value) {
        let _permit = self.permits.acquire().await;
        send(what, req).await
    }

    /// Sends, and sends again after "busy" (or "too many requests", or "paused") when the plan
    /// says shoppers retry, up to a bound.
    async fn ask(
        &self,
        what: &'static str,
        req: impl Fn() -> reqwest::RequestBuilder,
        samples: &mut Vec<Sample>,
    ) -> (String, Value) {
        let mut tries = 0;
        loop {
            let (sample, body) = self.send(what, req()).await;
            let kind = sample.kind.clone();
            let wait = Duration::from_secs(sample.retry_after.unwrap_or(2).clamp(1, 30));
            samples.push(sample);
            let busy = matches!(kind.as_str(), "overloaded" | "rate_limited" | "paused");
            if !busy
                || !self.plan.retry_busy
                || tries >= RETRIES
                || self.over()
                || Instant::now() + wait >= self.ends
            {
                return (kind, body);
            }
            tries += 1;
            if !pause_until(Instant::now() + wait, &self.stop).await {
                return (kind, body);
            }
        }
    }

    /// Shopper `i`'s journey: every answer she got, and last a sample `outcome` whose kind is
    /// how it ended for her (ordered, sold_out, gave_up, busy, …).
    pub async fn journey(&self, i: usize) -> Vec<Sample> {
        let began = Instant::now();
        let mut samples = Vec::new();
        let phone = format!("+4477{i:08}");
        let address = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        if self.plan.browse {
            let (s, _) = self
                .send(
                    "page",
                    self.http
                        .get(format!("{}/p/{}", self.base, self.slug))
                        .header("x-forwarded-for", &address),
                )
                .await;
            samples.push(s);
        }
        let outcome = if self.waiting_room {
            self.through_the_line(i, &phone, &address, &mut samples)
                .await
        } else {
            self.order(i, &phone, &address, None, &mut samples).await
        };
        match outcome.as_str() {
            "sold_out" => self.told_sold_out.fetch_add(1, Ordering::Relaxed),
            "busy" | "rate_limited" => self.left_busy.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        samples.push(Sample::new("outcome", &outcome, began));
        samples
    }

    async fn order(
        &self,
        i: usize,
        phone: &str,
        address: &str,
        hold: Option<&str>,
        samples: &mut Vec<Sample>,
    ) -> String {
        let body = order_body(
            format!("rehearsal-{i:08}"),
            self.plan.product_id,
            phone,
            hold,
        );
        let url = format!("{}/api/place_order", self.base);
        let (kind, _) = self
            .ask(
                "order",
                || {
                    self.http
                        .post(&url)
                        .header("x-forwarded-for", address)
                        .json(&body)
                },
                samples,
            )
            .await;
        match kind.as_str() {
            "acknowledged" => {
                self.sold.fetch_add(1, Ordering::Relaxed);
                "ordered".to_owned()
            }
            "overloaded" => "busy".to_owned(),
            _ => kind,
        }
    }

    async fn through_the_line(
        &self,
        i: usize,
        phone: &str,
        address: &str,
        samples: &mut Vec<Sample>,
    ) -> String {
        let joined = Instant::now();
        let join = json!({"product_id": self.plan.product_id, "quantity": 1, "phone": phone});
        let url = format!("{}/api/queue/join", self.base);
        let (mut kind, mut body) = self
            .ask(
                "join",
                || {
                    self.http
                        .post(&url)
                        .header("x-forwarded-for", address)
                        .json(&join)
                },
                samples,
            )
            .await;
        let ticket = body["ticket"].as_str().unwrap_or_default().to_owned();
        let status_url = format!("{}/api/queue/status", self.base);
        loop {
            if let Some(place) = body["position"].as_u64() {
                self.longest_line.fetch_max(place, Ordering::Relaxed);
            }
            match kind.as_str() {
                "waiting" => {
                    if self.over() {
                        samples.push(Sample::new("wait", "still_waiting", joined));
                        return "still_waiting".to_owned();
                    }
                    let again = serde_json::from_value::<QueueStatus>(body.clone())
                        .map_or(3, |s| s.ask_again_secs());
                    let until = Instant::now() + Duration::from_secs(u64::from(again));
                    if !pause_until(until, &self.stop).await {
                        samples.push(Sample::new("wait", "still_waiting", joined));
                        return "still_waiting".to_owned();
                    }
                    (kind, body) = self
                        .ask(
                            "status",
                            || {
                                self.http
                                    .get(&status_url)
                                    .header("x-forwarded-for", address)
                                    .query(&[("ticket", &ticket)])
                            },
                            samples,
                        )
                        .await;
                }
                "admitted" => {
                    samples.push(Sample::new("wait", "admitted", joined));
                    if self.plan.gives_up(i) {
                        let (s, _) = self
                            .send(
                                "leave",
                                self.http
                                    .post(format!("{}/api/queue/leave", self.base))
                                    .header("x-forwarded-for", address)
                                    .form(&[("ticket", &ticket)]),
                            )
                            .await;
                        samples.push(s);
                        return "gave_up".to_owned();
                    }
                    let hold = body["hold_token"].as_str().unwrap_or_default().to_owned();
                    return self.order(i, phone, address, Some(&hold), samples).await;
                }
                "sold_out" => {
                    samples.push(Sample::new("wait", "sold_out", joined));
                    return "sold_out".to_owned();
                }
                "overloaded" => return "busy".to_owned(),
                "expired" => return "hold_expired".to_owned(),
                _ => return kind,
            }
        }
    }
}
