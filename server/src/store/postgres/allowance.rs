//! Per-client rate limits shared by every server on one Postgres database, so a client cannot
//! get N times its allowance by spreading its requests over N servers. A client has a window
//! (starting at its first request) in which it may make `allowance` limited requests.
//!
//! The checks are batched like orders: one writer task takes every check waiting, counts them per
//! client and settles the whole batch with ONE upsert into an unlogged table (no WAL flush: a
//! lost counter only means a fresh allowance). The first requests of a batch, in arrival order,
//! get what is left of the client's allowance.

use super::classify;
use crate::desk::{BatchWriter, Desk};
use crate::store::SharedAllowance;
use app::store::StoreError;
use async_trait::async_trait;
use sqlx::PgPool;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const QUEUE: usize = 8192;
const BATCH: usize = 1024;
/// How often windows long over are swept away.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// `Ok` to go on, or the whole seconds until the client's window ends.
type Verdict = Result<(), u32>;

pub struct PgAllowance {
    desk: Desk<String, Verdict>,
}

impl PgAllowance {
    pub(super) fn start(pool: PgPool, allowance: u32, window: Duration) -> PgAllowance {
        let writer = AllowanceWriter {
            pool,
            allowance: i64::from(allowance),
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            swept: Instant::now(),
        };
        let (desk, _task) = Desk::start(writer, QUEUE, BATCH);
        PgAllowance { desk }
    }
}

#[async_trait]
impl SharedAllowance for PgAllowance {
    async fn check(&self, client: String) -> Result<Verdict, StoreError> {
        self.desk.submit(client).await
    }
}

struct AllowanceWriter {
    pool: PgPool,
    allowance: i64,
    window_ms: i64,
    swept: Instant,
}

#[async_trait]
impl BatchWriter for AllowanceWriter {
    type Job = String;
    type Outcome = Verdict;

    async fn write_batch(&mut self, clients: Vec<String>) -> Result<Vec<Verdict>, StoreError> {
        let mut counts: HashMap<&str, i64> = HashMap::new();
        for client in &clients {
            *counts.entry(client.as_str()).or_default() += 1;
        }
        let (names, hits): (Vec<&str>, Vec<i64>) = counts.iter().map(|(c, n)| (*c, *n)).unzip();
        // a window over starts afresh; the clock is the database's, the same for every server
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT AS ms) \
             INSERT INTO client_windows AS w (client, window_start_ms, hits) \
             SELECT c.client, now.ms, c.hits FROM unnest($1::TEXT[], $2::BIGINT[]) AS c(client, hits), now \
             ON CONFLICT (client) DO UPDATE SET \
               hits = CASE WHEN w.window_start_ms + $3 <= EXCLUDED.window_start_ms \
                           THEN EXCLUDED.hits ELSE w.hits + EXCLUDED.hits END, \
               window_start_ms = CASE WHEN w.window_start_ms + $3 <= EXCLUDED.window_start_ms \
                           THEN EXCLUDED.window_start_ms ELSE w.window_start_ms END \
             RETURNING w.client, w.hits, w.window_start_ms, (SELECT ms FROM now)",
        )
        .bind(&names)
        .bind(&hits)
        .bind(self.window_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        // per client: how many of this batch's requests still fit, and the wait for the rest
        let mut left: HashMap<&str, (i64, u32)> = HashMap::new();
        for (client, total, start_ms, now_ms) in &rows {
            let Some((name, batch_hits)) = counts.get_key_value(client.as_str()) else {
                continue;
            };
            let before = total - batch_hits;
            let fits = (self.allowance - before).clamp(0, *batch_hits);
            let wait_ms = (start_ms + self.window_ms - now_ms).max(0);
            let wait_secs = u32::try_from(wait_ms / 1000 + 1).unwrap_or(u32::MAX);
            left.insert(*name, (fits, wait_secs));
        }
        let verdicts = clients
            .iter()
            .map(|client| match left.get_mut(client.as_str()) {
                Some((fits, _)) if *fits > 0 => {
                    *fits -= 1;
                    Ok(())
                }
                Some((_, wait)) => Err(*wait),
                None => Ok(()),
            })
            .collect();
        if self.swept.elapsed() >= SWEEP_EVERY {
            self.swept = Instant::now();
            let swept = sqlx::query(
                "DELETE FROM client_windows WHERE window_start_ms + $1 \
                 < (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT",
            )
            .bind(self.window_ms)
            .execute(&self.pool)
            .await;
            if let Err(e) = swept {
                tracing::warn!(error = %e, "could not sweep old rate-limit windows");
            }
        }
        Ok(verdicts)
    }
}
