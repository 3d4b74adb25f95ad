//! The surge control room, `/admin/live`: what is happening now, updated every second over
//! server-sent events (`/admin/live/events`), and the brake. One task per server reads the
//! shop's figures once a second (a handful of small queries) and keeps each sale's burn-down;
//! every open control room gets the same snapshot. Without JavaScript the page reloads itself.

use super::db::AdminDb;
use super::error::AdminError;
use super::live_db::SaleFigures;
use super::pages::{self, t};
use super::session::Owner;
use super::AdminState;
use crate::store::clock::Now;
use app::domain::At;
use app::pulse::{Answer, Pulse};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Burn-down points kept per sale: ten minutes at one a second.
const BURN_POINTS: usize = 600;
/// After a pause, a held shopper has at least this long to check out.
const RESUME_GRACE_SECS: i64 = 120;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    /// When it was read (RFC 3339, UTC, on the wire).
    pub at: Option<At>,
    /// The same in the shop's time zone, as the owner reads it (`2026-12-06 14:47:34`).
    pub shown_at: String,
    pub orders_last_minute: i64,
    /// Orders per minute, the last 15 minutes, oldest first.
    pub orders_per_minute: Vec<i64>,
    pub checkout_paused: bool,
    pub sales: Vec<SaleView>,
    pub holds_outstanding: i64,
    pub units_held: i64,
    pub queue_waiting: i64,
    /// This server's own: answers by kind since it started, and p95 order latency (last minute).
    pub answers: Vec<(String, u64)>,
    pub p95_ms: Option<f64>,
    /// This server's data directory: MiB free, and below the warning threshold.
    pub disk_free_mib: Option<u64>,
    pub disk_low: bool,
    /// The order desk's last batch failed to commit.
    pub writes_failing: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SaleView {
    #[serde(flatten)]
    pub figures: SaleFigures,
    pub paused: bool,
    /// Seconds until the last in line is served at the last minute's pace (None: no pace yet).
    pub eta_secs: Option<i64>,
    /// Units left, one point a second, oldest first (at most ten minutes).
    pub burn: Vec<i64>,
}

pub struct LiveFeed {
    latest: watch::Receiver<Arc<Snapshot>>,
}

impl LiveFeed {
    /// Starts the once-a-second reader.
    pub fn start(
        db: AdminDb,
        pulse: Arc<Pulse>,
        server: ServerHealth,
        clock: app::rules::Clock,
    ) -> (LiveFeed, tokio::task::JoinHandle<()>) {
        let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
        let task = tokio::spawn(async move {
            let mut feed = FeedState::default();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let mut snapshot = read(&db, &pulse, &mut feed, &clock).await;
                snapshot.disk_free_mib = server.disk.free().map(|b| b / (1024 * 1024));
                snapshot.disk_low = server.disk.low();
                snapshot.writes_failing = server.desk.writes_failing();
                if tx.send(Arc::new(snapshot)).is_err() {
                    break;
                }
            }
        });
        (LiveFeed { latest: rx }, task)
    }
}

/// This server's own condition, shown beside the shop's figures.
pub struct ServerHealth {
    pub disk: Arc<crate::ops::disk_space::DiskSpace>,
    pub desk: Arc<app::admission::Pace>,
}

/// What the feed keeps from one tick to the next.
#[derive(Debug, Default)]
struct FeedState {
    minutes: OrderMinutes,
    /// Each sale's burn-down points.
    burns: HashMap<i64, VecDeque<i64>>,
}

async fn read(
    db: &AdminDb,
    pulse: &Pulse,
    feed: &mut FeedState,
    clock: &app::rules::Clock,
) -> Snapshot {
    let mut snapshot = Snapshot {
        answers: pulse
            .answers()
            .into_iter()
            .map(|(k, n)| (k.to_owned(), n))
            .collect(),
        p95_ms: pulse.p95_ms(),
        ..Snapshot::default()
    };
    let now = clock.now();
    snapshot.at = Some(now.instant());
    snapshot.shown_at =
        app::shop_time::ShopZone::of_setting(&crate::edge::shop_look::current().time_zone)
            .show_seconds(now.instant());
    if let Err(e) = fill(db, &now, feed, &mut snapshot).await {
        // the detail only: each page says it in its owner's language
        snapshot.error = Some(e.to_string());
    }
    snapshot
}

/// Orders per minute, kept across the feed's ticks so that each tick reads only the orders of
/// the last one to two minutes, however long the surge has run (reading all fifteen minutes
/// every second scanned millions of rows a second into a long surge). A minute is final once it
/// ended a minute ago: an order is committed within seconds of its timestamp (statement and lock
/// timeouts), so nothing arrives for it later.
#[derive(Debug, Default)]
struct OrderMinutes {
    /// Minute (see [`minute_of`]) → orders placed in it, for the last 15 minutes.
    counts: BTreeMap<i64, i64>,
    /// Minutes before this one were final at the last successful read.
    final_before: Option<i64>,
}

const WINDOW_MINUTES: i64 = 15;

/// The minute an instant falls in, counted from the epoch in UTC (the counts are shown as a row
/// of bars, not labelled with times, so the shop's zone does not enter).
fn minute_of(at: At) -> i64 {
    at.millis().div_euclid(60_000)
}

/// When a minute starts.
fn minute_start(minute: i64) -> At {
    At::from_millis(minute.saturating_mul(60_000))
}

impl OrderMinutes {
    /// Where this tick's read starts: the first minute that may have changed since the last
    /// successful read (the whole window the first time, or after a long outage).
    fn since(&self, now: &Now) -> i64 {
        let window = minute_of(now.instant()) - (WINDOW_MINUTES - 1);
        match self.final_before {
            Some(f) if f > window => f,
            _ => window,
        }
    }

    /// Takes the counts read from minute `since` on as they now are.
    fn update(&mut self, since: i64, rows: Vec<(i64, i64)>, now: &Now) {
        self.counts.retain(|minute, _| *minute < since);
        self.counts.extend(rows);
        let oldest = minute_of(now.instant()) - (WINDOW_MINUTES - 1);
        self.counts.retain(|minute, _| *minute >= oldest);
        self.final_before = Some(minute_of(now.instant()) - 1);
    }

    /// The last 15 minutes' counts, oldest first.
    fn last_15(&self, now: &Now) -> Vec<i64> {
        let this = minute_of(now.instant());
        (0..WINDOW_MINUTES)
            .rev()
            .map(|ago| self.counts.get(&(this - ago)).copied().unwrap_or(0))
            .collect()
    }
}

async fn fill(
    db: &AdminDb,
    now: &Now,
    state: &mut FeedState,
    s: &mut Snapshot,
) -> Result<(), app::store::StoreError> {
    let minute_ago = now.plus_secs(-60);
    // the read reaches back at least to the minute a minute ago, for the rolling last-minute
    // count
    let since = state.minutes.since(now).min(minute_of(minute_ago));
    let minutes = (since..=minute_of(now.instant()))
        .map(|m| (m, minute_start(m), minute_start(m + 1)))
        .collect::<Vec<_>>();
    let (rows, last_minute) = db.order_counts(&minutes, minute_ago).await?;
    state.minutes.update(since, rows, now);
    s.orders_per_minute = state.minutes.last_15(now);
    s.orders_last_minute = last_minute;
    let burns = &mut state.burns;
    let paused = db.paused().await?;
    s.checkout_paused = paused.contains(&0);
    let (holds, units) = db.holds_outstanding().await?;
    s.holds_outstanding = holds;
    s.units_held = units;
    let figures = db
        .sale_figures(now.instant(), now.instant().plus_secs(-60))
        .await?;
    burns.retain(|id, _| figures.iter().any(|f| f.id == *id));
    s.sales = figures
        .into_iter()
        .map(|figures| {
            let burn = burns.entry(figures.id).or_default();
            if burn.len() == BURN_POINTS {
                burn.pop_front();
            }
            burn.push_back(figures.left + figures.held);
            let eta_secs = (figures.admitted_last_minute > 0)
                .then(|| figures.waiting.saturating_mul(60) / figures.admitted_last_minute);
            SaleView {
                paused: s.checkout_paused || paused.contains(&figures.id),
                eta_secs,
                burn: burn.iter().copied().collect(),
                figures,
            }
        })
        .collect();
    s.queue_waiting = s.sales.iter().map(|v| v.figures.waiting).sum();
    Ok(())
}

pub async fn page(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
) -> Result<Response, AdminError> {
    let snapshot = state.live.latest.borrow().clone();
    Ok(render(&snapshot, &owner.csrf_token).into_response())
}

/// How often an open event stream checks that its session is still live.
const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// The snapshot as JSON, once a second, for as long as the page is open and the session lives:
/// logging out, ending all sessions or the session's end closes the stream within
/// [`SESSION_CHECK`] (an open control room counts as use, so it keeps an idle session alive).
pub async fn events(owner: Owner, State(state): State<Arc<AdminState>>) -> Response {
    let rx = state.live.latest.clone();
    let watch = Watch {
        rx,
        first: true,
        checked: std::time::Instant::now(),
        token_hash: owner.token_hash,
        state: state.clone(),
    };
    // the latest snapshot at once, then each new one
    let stream = futures::stream::unfold(watch, |mut w| async move {
        if !w.first {
            if w.rx.changed().await.is_err() {
                return None;
            }
            if w.checked.elapsed() >= SESSION_CHECK {
                w.checked = std::time::Instant::now();
                if !super::session::still_live(&w.state, &w.token_hash).await {
                    tracing::info!("control room stream closed: its session ended");
                    return None;
                }
                let _ = w
                    .state
                    .db
                    .touch_session(&w.token_hash, w.state.clock.now().instant())
                    .await;
            }
        }
        w.first = false;
        let snapshot = w.rx.borrow_and_update().clone();
        let event = Event::default()
            .event("snapshot")
            .json_data(snapshot.as_ref())
            .unwrap_or_else(|_| Event::default().comment("unserialisable"));
        Some((Ok::<Event, std::convert::Infallible>(event), w))
    });
    Sse::new(futures::StreamExt::fuse(stream))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What an open event stream keeps between snapshots.
struct Watch {
    rx: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    first: bool,
    checked: std::time::Instant,
    token_hash: String,
    state: Arc<AdminState>,
}

#[derive(Deserialize)]
pub struct BrakeForm {
    /// "all", or a product id.
    #[serde(default)]
    scope: String,
    /// "pause" or "resume".
    #[serde(default)]
    action: String,
    /// "product": back to the product's page afterwards (else the control room).
    #[serde(default)]
    back: String,
}

pub async fn brake(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Form(form): Form<BrakeForm>,
) -> Result<Response, AdminError> {
    let product_id = match form.scope.as_str() {
        "all" => 0,
        id => {
            let id = id
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| AdminError::BadInput(t!(admin_err_brake_scope)))?;
            if !state.db.product_exists(id).await? {
                return Err(AdminError::BadInput(t!(admin_err_no_product)));
            }
            id
        }
    };
    let now = state.clock.now();
    match form.action.as_str() {
        "pause" => {
            state
                .db
                .pause(product_id, &owner.actor(), now.instant())
                .await?;
            tracing::warn!(product_id, owner = owner.id, "checkout paused by the owner");
        }
        "resume" => {
            state
                .db
                .resume(product_id, now.instant().plus_secs(RESUME_GRACE_SECS))
                .await?;
            tracing::warn!(
                product_id,
                owner = owner.id,
                "checkout resumed by the owner"
            );
        }
        _ => return Err(AdminError::BadInput(t!(admin_err_brake_action))),
    }
    if form.back == "product" && product_id > 0 {
        return Ok(Redirect::to(&format!("/admin/products/{product_id}")).into_response());
    }
    Ok(Redirect::to("/admin/live").into_response())
}

/// The burn-down as an SVG polyline: units left (and held) against time, full height = the
/// sale's total; `label` says what it shows to a screen reader.
pub fn burn_svg(burn: &[i64], total: i64, label: &str) -> String {
    let (w, h) = (300.0_f64, 80.0_f64);
    let total = total.max(1) as f64;
    let n = burn.len().max(2) as f64 - 1.0;
    let points: Vec<String> = burn
        .iter()
        .enumerate()
        .map(|(i, left)| {
            let x = (i as f64) / n * w;
            let y = h - (*left as f64 / total).clamp(0.0, 1.0) * h;
            format!("{x:.1},{y:.1}")
        })
        .collect();
    format!(
        r#"<svg class="burn" viewBox="0 0 300 80" preserveAspectRatio="none" role="img" aria-label="{}"><polyline fill="none" stroke="currentColor" stroke-width="2" points="{}"/></svg>"#,
        label,
        points.join(" ")
    )
}

/// An order answer's kind as the owner reads it; `name` picks which of its names is given (the
/// snapshot names it by `Answer::label`, `/metrics` by `Answer::metric`).
pub fn answer_word(given: &str, name: fn(Answer) -> &'static str) -> String {
    match Answer::ALL.into_iter().find(|a| name(*a) == given) {
        Some(Answer::Ordered) => t!(admin_answer_ordered),
        Some(Answer::SoldOut) => t!(admin_answer_sold_out),
        Some(Answer::RateLimited) => t!(admin_answer_rate_limited),
        Some(Answer::Shed) => t!(admin_answer_shed),
        Some(Answer::Paused) => t!(admin_answer_paused),
        Some(Answer::Refused) => t!(admin_answer_refused),
        Some(Answer::Error) => t!(admin_answer_errors),
        None => given.to_owned(),
    }
}

fn render(s: &Snapshot, csrf: &str) -> axum::response::Html<String> {
    let csrf = csrf.to_owned();
    let brake_form = |scope: String, action: &'static str, label: String| {
        let csrf = csrf.clone();
        view! {
            <form method="post" action="/admin/brake" class="admin-brake">
                <input type="hidden" name="csrf" value=csrf />
                <input type="hidden" name="scope" value=scope />
                <input type="hidden" name="action" value=action />
                <button type="submit" class=format!("brake-{action}")>{label}</button>
            </form>
        }
    };
    let shop_brake = if s.checkout_paused {
        brake_form("all".into(), "resume", t!(admin_live_resume_all))
    } else {
        brake_form("all".into(), "pause", t!(admin_live_pause_all))
    };
    let sales = s
        .sales
        .iter()
        .map(|v| {
            let f = &v.figures;
            let total = f.left + f.sold + f.held;
            let svg = burn_svg(&v.burn, total, &t!(admin_live_burn_label));
            let eta = v
                .eta_secs
                .map_or_else(|| "—".to_owned(), |e| t!(admin_live_eta, secs = e));
            let brake = if v.paused {
                brake_form(f.id.to_string(), "resume", t!(admin_live_resume, name = &f.name))
            } else {
                brake_form(f.id.to_string(), "pause", t!(admin_live_pause, name = &f.name))
            };
            view! {
                <section class="admin-card live-sale" data-product=f.id>
                    <h2>{f.name.clone()} {v.paused.then(|| view! { <span class="badge-paused">" " {t!(admin_live_paused)}</span> })}</h2>
                    <div inner_html=svg></div>
                    <dl class="live-figures">
                        <div><dt>{t!(admin_live_sold)}</dt><dd data-k="sold">{f.sold}</dd></div>
                        <div><dt>{t!(admin_live_left)}</dt><dd data-k="left">{f.left}</dd></div>
                        <div><dt>{t!(admin_live_held)}</dt><dd data-k="held">{f.held}</dd></div>
                        <div><dt>{t!(admin_live_in_line)}</dt><dd data-k="waiting">{f.waiting}</dd></div>
                        <div><dt>{t!(admin_live_wait)}</dt><dd data-k="eta">{eta}</dd></div>
                    </dl>
                    {brake}
                </section>
            }
        })
        .collect_view();
    let answers = s
        .answers
        .iter()
        .map(|(k, n)| view! { <tr><td>{answer_word(k, Answer::label)}</td><td class="num" data-answer=k.clone()>{*n}</td></tr> })
        .collect_view();
    let p95 = s
        .p95_ms
        .map_or_else(|| "—".to_owned(), |p| format!("{p:.0} ms"));
    let disk_free = s
        .disk_free_mib
        .map_or_else(|| "—".to_owned(), |m| format!("{m} MiB"));
    let alert = if s.writes_failing {
        "failing"
    } else if s.disk_low {
        "low"
    } else {
        "none"
    };
    let per_minute = s
        .orders_per_minute
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" · ");
    // the script writes the waits as the page does
    let eta_pattern = t!(admin_live_eta, secs = "#");
    pages::document(
        &t!(admin_live_title),
        view! {
            <noscript><meta http-equiv="refresh" content="5" /></noscript>
            <h1>{t!(admin_live_title)}</h1>
            {s.error.clone().map(|e| view! { <p class="admin-error" role="alert">{t!(admin_live_db_error, error = e)}</p> })}
            <section class="admin-card">
                <p class="live-big">
                    {t!(admin_live_orders_last_minute_before)}
                    <strong id="orders-last-minute">{s.orders_last_minute}</strong>
                    {t!(admin_live_orders_last_minute_after)}
                </p>
                <p><small>{t!(admin_live_per_minute)} " " <span id="orders-per-minute">{per_minute}</span></small></p>
                <p>
                    {t!(admin_live_in_line)} " " <strong id="queue-waiting">{s.queue_waiting}</strong>
                    " · " {t!(admin_live_holds)} " " <strong id="holds">{s.holds_outstanding}</strong>
                    " (" {t!(admin_live_units_before)} <span id="units-held">{s.units_held}</span>
                    {t!(admin_live_units_after)} ")"
                </p>
                <p id="checkout-state" data-paused=s.checkout_paused.to_string()>
                    {if s.checkout_paused { t!(admin_live_paused_all) } else { t!(admin_live_open) }}
                </p>
                {shop_brake}
            </section>
            <div id="sales" data-eta=eta_pattern>{sales}</div>
            <section class="admin-card">
                <h2>{t!(admin_live_this_server)}</h2>
                <p>{t!(admin_live_p95)} " " <strong id="p95">{p95}</strong></p>
                <p>{t!(admin_live_disk_free)} " " <strong id="disk-free">{disk_free}</strong></p>
                <div id="disk-alert" data-alert=alert.to_string()>
                    {(alert != "none").then(|| view! {
                        <p class="admin-error" role="alert">
                            {if s.writes_failing { t!(admin_live_writes_failing) } else { t!(admin_live_disk_low) }}
                        </p>
                    })}
                </div>
                <table><tbody id="answers">{answers}</tbody></table>
            </section>
            <p><small>{t!(admin_live_updated)} " " <span id="updated-at">{s.shown_at.clone()}</span></small></p>
            <script src="/admin-live.js" defer></script>
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(h: u32, m: u32, s: u32) -> Now {
        Now::at(
            Utc.with_ymd_and_hms(2026, 12, 2, h, m, s)
                .single()
                .unwrap_or_default(),
        )
    }

    fn minute(h: u32, m: u32) -> i64 {
        minute_of(at(h, m, 0).instant())
    }

    #[test]
    fn the_first_read_covers_the_window_and_later_ones_only_the_last_minutes() {
        let mut minutes = OrderMinutes::default();
        let first = at(12, 30, 20);
        assert_eq!(minutes.since(&first), minute(12, 16));
        assert_eq!(
            minute_start(minute(12, 16)).to_string(),
            "2026-12-02T12:16:00.000Z"
        );
        minutes.update(
            minutes.since(&first),
            vec![
                (minute(12, 10), 99), // outside the window
                (minute(12, 20), 7),
                (minute(12, 29), 40),
                (minute(12, 30), 5),
            ],
            &first,
        );
        // a second later only the minute a minute ago onwards is read again
        let next = at(12, 30, 21);
        assert_eq!(minutes.since(&next), minute(12, 29));
        minutes.update(
            minute(12, 29),
            vec![(minute(12, 29), 40), (minute(12, 30), 9)],
            &next,
        );
        let counts = minutes.last_15(&next);
        assert_eq!(counts.len(), 15);
        assert_eq!(counts[14], 9, "this minute, read afresh");
        assert_eq!(counts[13], 40);
        assert_eq!(counts[4], 7, "12:20 is kept without being read again");
        assert_eq!(counts.iter().sum::<i64>(), 56, "12:10 left the window");
    }

    #[test]
    fn after_an_outage_the_read_reaches_back_to_the_last_good_one() {
        let mut minutes = OrderMinutes::default();
        let before = at(12, 0, 30);
        minutes.update(minutes.since(&before), Vec::new(), &before);
        assert_eq!(minutes.since(&at(12, 6, 0)), minute(11, 59));
        // past the window, the whole window again
        assert_eq!(minutes.since(&at(13, 0, 0)), minute(12, 46));
    }
}
