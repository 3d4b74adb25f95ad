//! "Rehearse this sale": the shop runs its own flash sale against itself before the real one, so
//! its owner learns what her server takes before the surge does.
//!
//! A rehearsal copies the live database (SQLite's online backup, or on Postgres a database of
//! its own filled from one snapshot: the live data never written), moves the rehearsed sale to
//! start now on the copy, starts a second shop (the same server binary, a child process) on the
//! copy on a loopback port, and sends it a crowd of simulated phones over real HTTP with the
//! load generator the surge benchmark uses ([`crate::load`]). Then it audits the copy (nothing oversold, nothing lost, every unit
//! accounted for), writes a report (kept in the live database's `rehearsals` table, the only
//! thing it writes there) and deletes the copy.
//!
//! Safe by construction: refused while a sale runs or starts within the rehearsal's longest run;
//! one at a time (a unique index); bounded in shoppers, arrival time, connections and length;
//! run at a lower CPU priority than the live shop, which keeps serving; cancellable.

pub mod cli;
pub mod copy;
pub mod counted;
pub mod ledger;
pub mod pg_copy;
pub mod plan;
pub mod report;
pub mod shoppers;
pub mod stage;

pub use plan::{Plan, PlanError};
pub use report::Report;

use crate::config::Config;
use crate::load::{client, run_load};
use crate::store::sql::Db;
use app::store::StoreError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a rehearsal did not run, or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("a sale is running now ({product}): rehearse when it is over")]
    SaleRunning { product: String },
    #[error(
        "the sale of {product} starts in {minutes} min, within this rehearsal's {longest_minutes} \
         min: rehearse earlier, or with a shorter arrival"
    )]
    SaleSoon {
        product: String,
        minutes: i64,
        longest_minutes: i64,
    },
    #[error("another rehearsal is running: one at a time")]
    AnotherRunning,
    #[error("there is no product {0:?}")]
    NoProduct(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the rehearsal failed: {0}")]
    Failed(String),
}

/// How far a running rehearsal is (kept in its row while it runs, shown as a progress bar).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub shoppers_done: usize,
    pub shoppers: usize,
    pub units_sold: usize,
    /// Shoppers told "sold out" so far.
    pub sold_out: usize,
    /// Shoppers who left with "busy" (or "too many requests") so far.
    pub busy: usize,
    pub seconds: f64,
    /// Units put up when the doors opened.
    #[serde(default)]
    pub units: i64,
    /// Units left each second since the doors opened: the control room's burn-down.
    #[serde(default)]
    pub left: Vec<i64>,
    /// The second shop's resident memory now.
    #[serde(default)]
    pub memory_mib: f64,
}

/// What runs a rehearsal besides its plan.
pub struct Options {
    /// The server binary the second shop runs (this one, normally).
    pub server: PathBuf,
    /// Set to cancel (Ctrl-C on the command line); the owner's cancel arrives through the row.
    pub stop: Arc<AtomicBool>,
    /// Told every second how far it is.
    pub on_progress: Box<dyn Fn(&Progress) + Send + Sync>,
}

/// The product a command-line argument names: its id, or its slug.
pub async fn product_id(db: &Db, named: &str) -> Result<i64, Refusal> {
    use crate::store::sql::sql;
    let found: Option<(i64,)> = db
        .optional(
            sql("SELECT id FROM products WHERE slug = $1 OR CAST(id AS TEXT) = $1").bind(named),
        )
        .await?;
    found
        .map(|(id,)| id)
        .ok_or_else(|| Refusal::NoProduct(named.to_owned()))
}

/// Checks that a rehearsal may start now (the product there, no sale near, none other running)
/// and claims the one running place: its id. `now` is the shop's clock's reading.
pub async fn admit(db: &Db, plan: &Plan, now: &app::rules::Now) -> Result<i64, Refusal> {
    product_id(db, &plan.product_id.to_string()).await?;
    ledger::check_no_sale_near(db, now, plan.longest()).await?;
    ledger::claim(db, plan, now).await
}

/// The plan of rehearsal `id`, claimed and not yet started (the owner's page claims it, then
/// starts `server rehearse --claimed ID`).
pub async fn claimed_plan(db: &Db, id: i64) -> Result<Plan, Refusal> {
    let row = ledger::get(db, id)
        .await?
        .filter(|r| r.state == "running" && r.progress.is_none())
        .ok_or_else(|| Refusal::Failed(format!("rehearsal {id} is not waiting to start")))?;
    serde_json::from_str(&row.plan).map_err(|e| Refusal::Failed(format!("its plan: {e}")))
}

/// Runs the claimed rehearsal `id` to its end and keeps how it ended; the copy is deleted
/// whatever happens.
pub async fn run_claimed(
    config: &Config,
    db: &Db,
    id: i64,
    plan: &Plan,
    options: Options,
) -> Result<Report, Refusal> {
    let clock = &config.clock;
    let outcome = match copy::Place::of(config, id) {
        Ok(place) => {
            let outcome = run(db, id, &place, plan, &options, clock).await;
            place.discard().await;
            outcome
        }
        Err(e) => Err(e),
    };
    let ended = clock.now();
    match outcome {
        Ok(report) => {
            let state = if report.cancelled {
                "cancelled"
            } else {
                "finished"
            };
            let json =
                serde_json::to_string(&report).map_err(|e| Refusal::Failed(e.to_string()))?;
            ledger::end(db, id, state, Some(&json), None, &ended).await?;
            Ok(report)
        }
        Err(e) => {
            let why = format!("{e:#}");
            ledger::end(db, id, "failed", None, Some(&why), &ended).await?;
            Err(Refusal::Failed(why))
        }
    }
}

async fn run(
    db: &Db,
    id: i64,
    place: &copy::Place,
    plan: &Plan,
    options: &Options,
    clock: &app::rules::Clock,
) -> anyhow::Result<Report> {
    let now = clock.now();
    let started_at = now.instant();
    let lasting = i64::try_from(plan.longest().as_secs()).unwrap_or(i64::MAX / 2) + 60;
    let copy = place.take().await?;
    let stage = copy
        .stage(plan.product_id, plan.stock, &now, lasting)
        .await?;
    let shop = stage::SecondShop::start(&options.server, &copy.dir, copy.url.as_deref())?;
    let cpu_at_start = shop.cpu_secs();
    let shoppers = usize::try_from(plan.shoppers).unwrap_or(usize::MAX);
    let opened = Instant::now();
    let crowd = Arc::new(shoppers::Shared {
        base: shop.base.clone(),
        http: client(plan.connections())?,
        plan: plan.clone(),
        slug: stage.slug.clone(),
        waiting_room: stage.waiting_room,
        permits: Arc::new(tokio::sync::Semaphore::new(plan.connections())),
        stop: options.stop.clone(),
        ends: opened + plan.longest(),
        sold: AtomicUsize::new(0),
        told_sold_out: AtomicUsize::new(0),
        left_busy: AtomicUsize::new(0),
        longest_line: Default::default(),
    });
    // one task per shopper: a shopper waiting in line holds no connection
    let mut arrivals = crate::load::Crowd::new(
        shoppers,
        shoppers,
        Duration::from_secs(u64::from(plan.arrive_over_secs) + 5),
    );
    arrivals.arrival = Duration::from_secs(u64::from(plan.arrive_over_secs));
    arrivals.stop = options.stop.clone();
    let done = arrivals.done.clone();
    let load = tokio::spawn(run_load(arrivals, {
        let crowd = crowd.clone();
        move |i| {
            let crowd = crowd.clone();
            async move { (crowd.journey(i).await, None) }
        }
    }));
    let units = stage.before.stock + stage.before.held;
    let left_now =
        || (units - i64::try_from(crowd.sold.load(Ordering::Relaxed)).unwrap_or(units)).max(0);
    let mut left = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while !load.is_finished() {
        tick.tick().await;
        left.push(left_now());
        let progress = Progress {
            shoppers_done: done.load(Ordering::Relaxed),
            shoppers,
            units_sold: crowd.sold.load(Ordering::Relaxed),
            sold_out: crowd.told_sold_out.load(Ordering::Relaxed),
            busy: crowd.left_busy.load(Ordering::Relaxed),
            seconds: opened.elapsed().as_secs_f64(),
            units,
            left: left.clone(),
            memory_mib: shop.memory_mib().0,
        };
        (options.on_progress)(&progress);
        let json = serde_json::to_string(&progress)?;
        match ledger::beat(db, id, &clock.now(), &json).await {
            Ok(true) => options.stop.store(true, Ordering::Relaxed),
            Ok(false) => {}
            // the live database busy for a moment: the rehearsal goes on
            Err(e) => tracing::warn!(error = %e, "rehearsal heartbeat not written"),
        }
    }
    let (tally, elapsed) = load.await??;
    // the shop's own count, beside what the phones saw
    let counted = match counted::Counted::read(&crowd.http, &shop.metrics).await {
        Ok(counted) => Some(counted),
        Err(e) => {
            tracing::warn!(error = %e, "the rehearsal's shop's metrics not read");
            None
        }
    };
    left.push(left_now());
    let (_, peak_memory_mib) = shop.memory_mib();
    let cpu_secs = shop.cpu_secs() - cpu_at_start;
    drop(shop);
    let acknowledged = tally.acknowledged();
    let product = stage.product_id;
    let before = stage.before;
    // the copy itself is deleted by the caller, whatever happened
    let (after, sold, codes) = copy.after(product, before.last_order).await?;
    let audit = audit(&before, &after, sold, &acknowledged, &codes);
    let run = report::Run {
        samples: &tally.samples,
        opened,
        elapsed,
        cancelled: options.stop.load(Ordering::Relaxed),
        longest_line: crowd.longest_line.load(Ordering::Relaxed),
        peak_memory_mib,
        cpu_secs,
        hold_seconds: stage.hold_seconds,
        left,
        counted,
    };
    Ok(Report::new(
        plan,
        &stage.name,
        stage.waiting_room,
        started_at,
        &run,
        audit,
    ))
}

/// The copy's units after the run against before it, and the orders shoppers were told about
/// against those it holds.
fn audit(
    before: &copy::Counts,
    after: &copy::Counts,
    sold: i64,
    acknowledged: &[String],
    stored: &[String],
) -> report::Audit {
    let initial = before.stock + before.held;
    let restocked = (after.cancelled - before.cancelled).max(0);
    let stored: std::collections::HashSet<&str> = stored.iter().map(String::as_str).collect();
    let lost = acknowledged
        .iter()
        .filter(|c| !stored.contains(c.as_str()))
        .count();
    report::Audit {
        initial,
        stock: after.stock,
        sold,
        held: after.held,
        restocked,
        oversold: (sold - initial - restocked).max(0),
        lost: i64::try_from(lost).unwrap_or(i64::MAX),
        balanced: after.stock + sold + after.held == initial + restocked,
    }
}
