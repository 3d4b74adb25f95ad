//! `GET /metrics` in Prometheus' text format, for the operator's monitoring (Prometheus,
//! Grafana, or anything that reads that format): answers to orders by kind and how long placing
//! one took, the order desk's batches and commit times, the line and the units held, live pages
//! and open connections, refusals (rate limits, a full server), HTTP requests by route and
//! status, and the build. The control room counts the same events at the same places
//! ([`app::pulse::Pulse`]).
//!
//! Not public: it is served on its own address (`HOLDFAST_METRICS_ADDR`, loopback by default),
//! never on the shop's port, and with `HOLDFAST_METRICS_TOKEN` only to a request bearing that
//! token. A shop whose metrics address is taken still serves its shoppers (one warning says so).

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Buckets of the `…_seconds` histograms: from a millisecond to ten seconds.
const SECONDS: [f64; 14] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0,
];
/// Buckets of the desk's batch sizes (jobs in one commit).
const JOBS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's metrics recorder, installed on first use. One shop per process in production;
/// a test process that builds several shops shares one set of figures between them.
fn recorder() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("holdfast_desk_batch_jobs".into()),
                        &JOBS,
                    )
                })
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(handle) => {
                    // histograms keep their samples until this folds them into the buckets
                    let upkeep = handle.clone();
                    std::thread::spawn(move || loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    });
                    describe();
                    zero_counters();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are not recorded");
                    None
                }
            }
        })
        .clone()
}

/// Counters shown from the start at 0 (a series that appears only at its first event makes
/// `rate()` miss that event, and a dashboard show "no data" for "none").
fn zero_counters() {
    for answer in app::pulse::Answer::ALL {
        metrics::counter!("holdfast_checkout_answers_total", "answer" => answer.metric())
            .increment(0);
    }
    for name in [
        "holdfast_desk_failed_batches_total",
        "holdfast_rate_limited_total",
        "holdfast_connections_refused_total",
    ] {
        metrics::counter!(name).increment(0);
    }
}

/// What each metric means, for whoever reads `/metrics`.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "holdfast_checkout_answers_total",
        "Answers to order attempts, by kind (ordered, sold_out, shed, rate_limited, paused, refused, error)."
    );
    describe_histogram!(
        "holdfast_checkout_seconds",
        Unit::Seconds,
        "Time to place an order that was placed, from the request to the durable commit."
    );
    describe_histogram!(
        "holdfast_desk_batch_jobs",
        Unit::Count,
        "Jobs (orders, joins, admission rounds) committed together by the desk."
    );
    describe_histogram!(
        "holdfast_desk_commit_seconds",
        Unit::Seconds,
        "Time the desk took to write and commit one batch."
    );
    describe_counter!(
        "holdfast_desk_failed_batches_total",
        "Batches that could not be committed (their callers were told to retry)."
    );
    describe_counter!(
        "holdfast_rate_limited_total",
        "Requests refused because their client was over its allowance (429)."
    );
    describe_counter!(
        "holdfast_connections_refused_total",
        "Connections refused because the server had its maximum open (503)."
    );
    describe_counter!(
        "holdfast_http_requests_total",
        "HTTP requests answered, by route and status."
    );
    describe_gauge!(
        "holdfast_waiting_shoppers",
        "Shoppers waiting in line, all products (the whole shop's, from the database)."
    );
    describe_gauge!(
        "holdfast_held_units",
        "Units held for shoppers whose turn came, all products (from the database)."
    );
    describe_gauge!(
        "holdfast_orders_in_flight",
        "Orders this server is placing now."
    );
    describe_gauge!(
        "holdfast_live_listeners",
        "Shoppers' pages listening live to this server."
    );
    describe_gauge!(
        "holdfast_open_connections",
        "Connections open to this server."
    );
    describe_gauge!(
        "holdfast_max_connections",
        "Connections this server may have open at once."
    );
    describe_gauge!("holdfast_build_info", "The running build (always 1).");
    describe_gauge!(
        "holdfast_desk_writes_failing",
        "1 while the order desk's batches fail to commit (a full disk, a database away), else 0."
    );
    describe_gauge!(
        "holdfast_data_disk_free_bytes",
        Unit::Bytes,
        "Free space on the data directory's disk."
    );
    describe_gauge!(
        "holdfast_data_disk_low",
        "1 while the data directory's disk has less free space than the warning threshold."
    );
    describe_gauge!(
        "holdfast_data_disk_warn_below_bytes",
        Unit::Bytes,
        "The warning threshold (HOLDFAST_DISK_WARN_MB)."
    );
}

/// How many pages listen to the live news now (given by `startup`: ops reads no layer above it).
pub type Listening = Arc<dyn Fn() -> usize + Send + Sync>;

/// What `/metrics` reads when it is asked, besides the counters recorded as things happen.
#[derive(Clone)]
pub struct Monitoring {
    handle: PrometheusHandle,
    /// SHA-256 of the bearer token a scrape must carry, when one is set.
    token: Option<[u8; 32]>,
    db: crate::store::sql::Db,
    /// How many open pages listen to the live news (`live::feed`, read when scraped).
    listening: Listening,
    connections: Arc<app::strain::Strain>,
    admission: Arc<app::admission::Admission>,
    /// `sqlite` or `postgres`.
    database: &'static str,
    disk: Arc<crate::ops::disk_space::DiskSpace>,
}

impl Monitoring {
    /// `None` when the recorder could not be installed (logged).
    pub fn new(
        token: Option<&str>,
        db: crate::store::sql::Db,
        listening: Listening,
        connections: Arc<app::strain::Strain>,
        admission: Arc<app::admission::Admission>,
        database: &'static str,
        disk: Arc<crate::ops::disk_space::DiskSpace>,
    ) -> Option<Monitoring> {
        Some(Monitoring {
            handle: recorder()?,
            token: token.map(digest),
            db,
            listening,
            connections,
            admission,
            database,
            disk,
        })
    }

    /// The figures read at the scrape: the line and the holds (from the database), the live
    /// pages, connections and orders in flight (from memory), the build.
    async fn refresh(&self) {
        match self.db.line_totals().await {
            Ok((waiting, held)) => {
                metrics::gauge!("holdfast_waiting_shoppers").set(waiting as f64);
                metrics::gauge!("holdfast_held_units").set(held as f64);
            }
            // the last figures stay; the scrape still answers with the rest
            Err(e) => tracing::debug!(error = %e, "metrics: the line's totals not read"),
        }
        metrics::gauge!("holdfast_orders_in_flight").set(self.admission.in_flight() as f64);
        metrics::gauge!("holdfast_desk_writes_failing")
            .set(f64::from(u8::from(self.admission.pace().writes_failing())));
        if let Some(free) = self.disk.read_now() {
            metrics::gauge!("holdfast_data_disk_free_bytes").set(free as f64);
        }
        metrics::gauge!("holdfast_data_disk_low").set(f64::from(u8::from(self.disk.low())));
        metrics::gauge!("holdfast_data_disk_warn_below_bytes").set(self.disk.warn_below() as f64);
        metrics::gauge!("holdfast_live_listeners").set((self.listening)() as f64);
        metrics::gauge!("holdfast_open_connections").set(self.connections.open() as f64);
        metrics::gauge!("holdfast_max_connections").set(self.connections.capacity() as f64);
        metrics::gauge!(
            "holdfast_build_info",
            "version" => env!("CARGO_PKG_VERSION"),
            "database" => self.database,
        )
        .set(1.0);
    }

    fn allowed(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            // compared as digests: the time taken says nothing about the token
            .is_some_and(|given| digest(given.trim()) == *expected)
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The metrics address's routes: `/metrics`, nothing else.
pub fn router(monitoring: Monitoring) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(monitoring)
}

async fn scrape(State(m): State<Monitoring>, headers: HeaderMap) -> Response {
    if !m.allowed(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(WWW_AUTHENTICATE, "Bearer realm=\"holdfast metrics\"")],
            "a bearer token is needed (HOLDFAST_METRICS_TOKEN)\n",
        )
            .into_response();
    }
    m.refresh().await;
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        m.handle.render(),
    )
        .into_response()
}

/// Counts each answered request by its route (the route's pattern, never the raw path: a
/// stranger's made-up paths all count as `other`) and status.
pub async fn count_request(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    metrics::counter!(
        "holdfast_http_requests_total",
        "route" => route,
        "status" => res.status().as_str().to_owned(),
    )
    .increment(1);
    res
}
