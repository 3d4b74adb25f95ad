//! The SQLite side of the order desk: the one writer connection (rusqlite, on a blocking thread,
//! with cached prepared statements), one `BEGIN IMMEDIATE` transaction per batch of jobs (orders,
//! queue joins and leaves, admission rounds: `store::writes::apply` on this connection's port,
//! `tx`), one commit, then the answers.

use super::tx::SqliteTx;
use super::{db_error, Now};
use crate::desk::BatchWriter;
use crate::store::clock::Clock;
use crate::store::jobs::{WriteJob, WriteOutcome};
use crate::store::writes;
use app::store::StoreError;
use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior};
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
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
    let outcomes = run_ready(writes::apply(&mut SqliteTx(&tx), jobs, now))??;
    // one fsync for the whole batch (synchronous=FULL); nobody is answered before it. On any
    // error above, dropping `tx` rolls the whole batch back.
    tx.commit().map_err(db_error)?;
    Ok(outcomes)
}

/// Runs a future that never waits — the procedures on SQLite's port, whose every statement
/// runs on this thread — to its end, with one poll.
fn run_ready<F: Future>(work: F) -> Result<F::Output, StoreError> {
    let mut work = pin!(work);
    match work.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(done) => Ok(done),
        Poll::Pending => Err(StoreError::unexpected(
            "a SQLite write waited on something: the batch is undone",
        )),
    }
}
