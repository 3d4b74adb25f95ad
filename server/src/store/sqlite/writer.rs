//! The SQLite side of the order desk: the one writer connection (rusqlite, on a blocking thread,
//! with cached prepared statements), one `BEGIN IMMEDIATE` transaction per batch of jobs (orders,
//! queue joins and leaves, admission rounds), one commit, then the answers.

use super::orders::place_in_tx;
use super::queue::{admission_round, join_in_tx, leave_in_tx};
use super::{db_error, Now};
use crate::desk::BatchWriter;
use crate::store::clock::Clock;
use crate::store::jobs::{WriteJob, WriteOutcome};
use app::domain::{NewOrder, OrderView};
use app::store::{CheckoutError, JoinError, StoreError};
use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The writer connection, shared with the store only to report its settings.
pub(crate) type WriterConnection = Arc<Mutex<Connection>>;

/// Opens the writer connection: WAL, `synchronous=FULL` (an acknowledged order survives power
/// loss), foreign keys, a busy timeout, and room for every hot statement in the cache.
pub(crate) fn open_writer(path: &str, busy_timeout: Duration) -> anyhow::Result<WriterConnection> {
    use anyhow::Context;
    let conn = Connection::open(path).with_context(|| format!("cannot open {path}"))?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(Arc::new(Mutex::new(conn)))
}

pub(crate) struct SqliteBatchWriter {
    pub(crate) conn: WriterConnection,
    pub(crate) clock: Clock,
    /// Whether the last batch committed changed the database.
    pub(crate) wrote: bool,
}

#[async_trait]
impl BatchWriter for SqliteBatchWriter {
    type Job = WriteJob;
    type Outcome = WriteOutcome;

    #[tracing::instrument(skip_all, fields(batch.size = jobs.len()))]
    async fn write_batch(&mut self, jobs: Vec<WriteJob>) -> Result<Vec<WriteOutcome>, StoreError> {
        let conn = self.conn.clone();
        // one clock reading per batch: every job in it happens at the same instant
        let now = self.clock.now();
        // SQLite blocks (and fsyncs): off the async workers
        let (outcomes, wrote) = tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| StoreError::unexpected("the writer connection is poisoned"))?;
            let before = conn.total_changes();
            let outcomes = apply(&mut conn, &jobs, &now)?;
            Ok::<_, StoreError>((outcomes, conn.total_changes() != before))
        })
        .await
        .map_err(|e| StoreError::unexpected(format!("the writer thread failed: {e}")))??;
        self.wrote = wrote;
        Ok(outcomes)
    }

    fn last_batch_wrote(&self) -> bool {
        self.wrote
    }
}

fn apply(
    conn: &mut Connection,
    jobs: &[WriteJob],
    now: &Now,
) -> Result<Vec<WriteOutcome>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(match job {
            WriteJob::Order(order) => WriteOutcome::Order(Box::new(order_job(&tx, order, now)?)),
            WriteJob::Join(request) => {
                savepoint(&tx, "SAVEPOINT one_job")?;
                let joined = join_in_tx(&tx, request, now);
                finish_savepoint(&tx, joined.is_err())?;
                if let Err(JoinError::Store(e)) = joined {
                    return Err(e);
                }
                WriteOutcome::Join(joined)
            }
            WriteJob::Leave(ticket_id) => {
                leave_in_tx(&tx, *ticket_id, now)?;
                WriteOutcome::Leave
            }
            WriteJob::Admit => WriteOutcome::Admit(admission_round(&tx, now)?),
        });
    }
    // one fsync for the whole batch (synchronous=FULL); nobody is answered before it. On any
    // error above, dropping `tx` rolls the whole batch back.
    tx.commit().map_err(db_error)?;
    Ok(outcomes)
}

/// One order: refused alone, or in. Returns `Err` only for a storage failure, which sinks the batch.
fn order_job(
    c: &Connection,
    order: &NewOrder,
    now: &Now,
) -> Result<Result<OrderView, CheckoutError>, StoreError> {
    let outcome = if order.lines.len() == 1 {
        // A one-line order is refused (replayed key, sold out, unknown product, sale rules, hold
        // problems) before it writes anything, so it needs no savepoint: two statements fewer
        // per order on the hot path. A storage error after a write sinks the whole batch.
        place_in_tx(c, order, now)
    } else {
        savepoint(c, "SAVEPOINT one_job")?;
        let outcome = place_in_tx(c, order, now);
        finish_savepoint(c, outcome.is_err())?;
        outcome
    };
    match outcome {
        Err(CheckoutError::Store(e)) => Err(e),
        other => Ok(other),
    }
}

fn finish_savepoint(c: &Connection, undo: bool) -> Result<(), StoreError> {
    if undo {
        savepoint(c, "ROLLBACK TO one_job")?;
    }
    savepoint(c, "RELEASE one_job")
}

fn savepoint(c: &Connection, sql: &'static str) -> Result<(), StoreError> {
    c.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(db_error)
}
