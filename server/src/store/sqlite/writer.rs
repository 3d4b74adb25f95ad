//! The SQLite side of the order desk: one `BEGIN IMMEDIATE` transaction per batch of jobs (orders,
//! queue joins and leaves, admission rounds), one commit, then the answers.

use super::orders::place_in_tx;
use super::queue::{admission_round, join_in_tx, leave_in_tx};
use super::{classify, Now, Tx};
use crate::desk::BatchWriter;
use app::domain::{JoinRequest, NewOrder, OrderView};
use app::store::{AdmissionRound, CheckoutError, JoinError, StoreError};
use async_trait::async_trait;
use sqlx::SqlitePool;

/// Everything that writes to the shop goes through the desk as one of these.
pub(crate) enum WriteJob {
    Order(NewOrder),
    Join(JoinRequest),
    Leave(i64),
    Admit,
}

pub(crate) enum WriteOutcome {
    Order(Result<OrderView, CheckoutError>),
    /// The ticket id.
    Join(Result<i64, JoinError>),
    /// The ticket has left the line (if it was still in it).
    Leave,
    Admit(AdmissionRound),
}

pub(crate) struct SqliteBatchWriter {
    pub(crate) write: SqlitePool,
}

#[async_trait]
impl BatchWriter for SqliteBatchWriter {
    type Job = WriteJob;
    type Outcome = WriteOutcome;

    #[tracing::instrument(skip_all, fields(batch.size = jobs.len()))]
    async fn write_batch(&mut self, jobs: &[WriteJob]) -> Result<Vec<WriteOutcome>, StoreError> {
        let mut tx = self
            .write
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(classify)?;
        // one clock reading per batch: every job in it happens at the same instant
        let now = Now::current();
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            outcomes.push(match job {
                WriteJob::Order(order) => {
                    WriteOutcome::Order(order_job(&mut tx, order, &now).await?)
                }
                WriteJob::Join(request) => {
                    savepoint(&mut tx, "SAVEPOINT one_job").await?;
                    let joined = join_in_tx(&mut tx, request, &now).await;
                    finish_savepoint(&mut tx, joined.is_err()).await?;
                    if let Err(JoinError::Store(e)) = joined {
                        return Err(e);
                    }
                    WriteOutcome::Join(joined)
                }
                WriteJob::Leave(ticket_id) => {
                    leave_in_tx(&mut tx, *ticket_id, &now).await?;
                    WriteOutcome::Leave
                }
                WriteJob::Admit => WriteOutcome::Admit(admission_round(&mut tx, &now).await?),
            });
        }
        // one fsync for the whole batch (synchronous=FULL); nobody is answered before it
        tx.commit().await.map_err(classify)?;
        Ok(outcomes)
    }
}

/// One order: refused alone, or in. Returns `Err` only for a storage failure, which sinks the batch.
async fn order_job(
    tx: &mut Tx,
    order: &NewOrder,
    now: &Now,
) -> Result<Result<OrderView, CheckoutError>, StoreError> {
    let outcome = if order.lines.len() == 1 {
        // A one-line order is refused (replayed key, sold out, unknown product, sale rules, hold
        // problems) before it writes anything, so it needs no savepoint: two statements fewer
        // per order on the hot path. A storage error after a write sinks the whole batch.
        place_in_tx(tx, order, now).await
    } else {
        savepoint(tx, "SAVEPOINT one_job").await?;
        let outcome = place_in_tx(tx, order, now).await;
        finish_savepoint(tx, outcome.is_err()).await?;
        outcome
    };
    match outcome {
        Err(CheckoutError::Store(e)) => Err(e),
        other => Ok(other),
    }
}

async fn finish_savepoint(tx: &mut Tx, undo: bool) -> Result<(), StoreError> {
    if undo {
        savepoint(tx, "ROLLBACK TO one_job").await?;
    }
    savepoint(tx, "RELEASE one_job").await
}

async fn savepoint(tx: &mut Tx, sql: &'static str) -> Result<(), StoreError> {
    sqlx::query(sql)
        .execute(&mut **tx)
        .await
        .map(|_| ())
        .map_err(classify)
}
