//! The rehearsals table on the live database: whether one may start (no sale near, none other
//! running), the one running (claimed, its heartbeat and progress, a cancel asked for), and the
//! reports kept. This is all a rehearsal writes to the live shop.

use super::plan::Plan;
use super::Refusal;
use crate::store::sql::{sql, Db};
use app::domain::At;
use app::rules::Now;
use app::store::StoreError;
use std::time::Duration;

/// A rehearsal silent this long has died (its process was killed): it no longer blocks another.
pub const SILENT_FOR: Duration = Duration::from_secs(30);

/// Why a rehearsal that went silent is over.
pub const DIED: &str = "it stopped answering (its process ended)";

/// A sale this close to the rehearsal's end still counts as "near": the owner's shop must be
/// quiet before a sale, not loaded.
const MARGIN: Duration = Duration::from_secs(60);

/// One rehearsal as kept.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Rehearsal {
    pub id: i64,
    pub product_id: i64,
    pub state: String,
    pub plan: String,
    pub progress: Option<String>,
    pub report: Option<String>,
    pub error: Option<String>,
    pub started_at: At,
    pub beat_at: At,
    pub finished_at: Option<At>,
}

impl Rehearsal {
    /// Its state as the owner reads it now: a running one silent for [`SILENT_FOR`] has died
    /// (the next claim writes that down).
    pub fn state_now(&self, now: &Now) -> &str {
        if self.state == "running" && now.secs_until(self.beat_at) < -secs(SILENT_FOR) {
            "failed"
        } else {
            &self.state
        }
    }
}

/// Refuses while any sale runs, or starts before the rehearsal (at its longest) and a margin are
/// over.
pub async fn check_no_sale_near(db: &Db, now: &Now, longest: Duration) -> Result<(), Refusal> {
    let until = now.instant().plus_secs(secs(longest + MARGIN));
    let near: Option<(String, At)> = db
        .optional(
            sql(
                "SELECT p.name, s.starts_at FROM sales s JOIN products p ON p.id = s.product_id \
                 WHERE s.starts_at < $1 AND s.ends_at > $2 ORDER BY s.starts_at LIMIT 1",
            )
            .bind(until)
            .bind(now.instant()),
        )
        .await?;
    match near {
        None => Ok(()),
        Some((product, starts_at)) if starts_at <= now.instant() => {
            Err(Refusal::SaleRunning { product })
        }
        Some((product, starts_at)) => Err(Refusal::SaleSoon {
            product,
            minutes: (now.secs_until(starts_at).max(0) + 59) / 60,
            longest_minutes: (secs(longest + MARGIN) + 59) / 60,
        }),
    }
}

/// Claims the one running place for this plan: its id, or `AnotherRunning`. A running one that
/// stopped beating is marked failed first.
pub async fn claim(db: &Db, plan: &Plan, now: &Now) -> Result<i64, Refusal> {
    let silent_since = now.instant().plus_secs(-secs(SILENT_FOR));
    db.execute(
        sql("UPDATE rehearsals SET state = 'failed', finished_at = $1, \
             error = $2 WHERE state = 'running' AND beat_at < $3")
        .bind(now.instant())
        .bind(DIED)
        .bind(silent_since),
    )
    .await?;
    let plan_json = serde_json::to_string(plan).map_err(|e| Refusal::Failed(e.to_string()))?;
    let claimed: Result<Option<(i64,)>, StoreError> = db
        .optional(
            sql(
                "INSERT INTO rehearsals (product_id, state, plan, started_at, beat_at) \
                 SELECT $1, 'running', $2, $3, $3 \
                 WHERE NOT EXISTS (SELECT 1 FROM rehearsals WHERE state = 'running') \
                 RETURNING id",
            )
            .bind(plan.product_id)
            .bind(plan_json.as_str())
            .bind(now.instant()),
        )
        .await;
    match claimed {
        Ok(Some((id,))) => Ok(id),
        Ok(None) => Err(Refusal::AnotherRunning),
        // two claims in the same instant: the unique index lets one through, the other fails
        Err(e) => {
            let (running,): (i64,) = db
                .one(sql(
                    "SELECT COUNT(*) FROM rehearsals WHERE state = 'running'",
                ))
                .await?;
            if running > 0 {
                Err(Refusal::AnotherRunning)
            } else {
                Err(e.into())
            }
        }
    }
}

/// The running rehearsal is alive and this far along; answers whether the owner asked to cancel.
pub async fn beat(db: &Db, id: i64, now: &Now, progress: &str) -> Result<bool, StoreError> {
    let asked: Option<(bool,)> = db
        .optional(
            sql("UPDATE rehearsals SET beat_at = $1, progress = $2 \
                 WHERE id = $3 AND state = 'running' RETURNING cancel_requested")
            .bind(now.instant())
            .bind(progress)
            .bind(id),
        )
        .await?;
    // gone from "running" (marked dead by another claim): stop as if cancelled
    Ok(asked.is_none_or(|(asked,)| asked))
}

/// How it ended: `finished` or `cancelled` with its report, or `failed` with why.
pub async fn end(
    db: &Db,
    id: i64,
    state: &str,
    report: Option<&str>,
    error: Option<&str>,
    now: &Now,
) -> Result<(), StoreError> {
    db.execute(
        sql(
            "UPDATE rehearsals SET state = $1, report = $2, error = $3, finished_at = $4, \
             progress = NULL WHERE id = $5",
        )
        .bind(state)
        .bind(report)
        .bind(error)
        .bind(now.instant())
        .bind(id),
    )
    .await?;
    Ok(())
}

/// Asks the running rehearsal `id` to stop; false if it is not running.
pub async fn request_cancel(db: &Db, id: i64) -> Result<bool, StoreError> {
    let n = db
        .execute(
            sql("UPDATE rehearsals SET cancel_requested = $1 WHERE id = $2 AND state = 'running'")
                .bind(true)
                .bind(id),
        )
        .await?;
    Ok(n == 1)
}

const COLUMNS: &str =
    "id, product_id, state, plan, progress, report, error, started_at, beat_at, finished_at";

pub async fn get(db: &Db, id: i64) -> Result<Option<Rehearsal>, StoreError> {
    let text = format!("SELECT {COLUMNS} FROM rehearsals WHERE id = $1");
    db.optional(sql(&text).bind(id)).await
}

/// A product's rehearsals, newest first.
pub async fn of_product(
    db: &Db,
    product_id: i64,
    limit: i64,
) -> Result<Vec<Rehearsal>, StoreError> {
    let text =
        format!("SELECT {COLUMNS} FROM rehearsals WHERE product_id = $1 ORDER BY id DESC LIMIT $2");
    db.all(sql(&text).bind(product_id).bind(limit)).await
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
