//! The Postgres side of the order desk: one transaction per batch (`synchronous_commit` on: one
//! WAL flush for the whole batch) in which `store::writes::apply` runs on this connection's port
//! (`tx`: set-based statements and row locks), one commit, then the answers. A failed statement
//! aborts the whole transaction on Postgres, so the procedures refuse before they write: only a
//! storage failure fails a batch.

use super::classify;
use super::tx::PgTx;
use crate::desk::BatchWriter;
use crate::store::clock::Clock;
use crate::store::jobs::{WriteJob, WriteOutcome};
use crate::store::writes;
use app::store::StoreError;
use async_trait::async_trait;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};
use std::time::Duration;

/// How long the writer waits to (re)connect before telling the batch to retry.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The desk's writer holds a connection of its own — never queued behind page reads for one —
/// and makes a new one after any failure. When Postgres is down, connecting fails at once, so
/// shoppers are told to retry at once rather than after a pool's patient retries.
pub(super) struct PgBatchWriter {
    options: PgConnectOptions,
    conn: Option<PgConnection>,
    clock: Clock,
}

impl PgBatchWriter {
    pub(super) fn new(options: PgConnectOptions, clock: Clock) -> PgBatchWriter {
        PgBatchWriter {
            options,
            conn: None,
            clock,
        }
    }

    async fn connection(&mut self) -> Result<&mut PgConnection, StoreError> {
        if self.conn.is_none() {
            let connecting = async {
                let mut conn = PgConnection::connect_with(&self.options).await?;
                conn.execute(super::SESSION).await?;
                // the batch statements look many rows up by array (`key = ANY($1)`); for 256 keys
                // the per-call plan picks a sequential scan of the whole table (8 ms at 50,000
                // keys and growing) where the generic plan uses the index (under 1 ms)
                conn.execute("SET plan_cache_mode = force_generic_plan")
                    .await?;
                Ok::<_, sqlx::Error>(conn)
            };
            let conn = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
                .await
                .map_err(|_| StoreError::busy("cannot reach the database in time"))?
                // whatever stops a connection being made (refused, cut mid-handshake) passes
                .map_err(|e| StoreError::busy(format!("cannot connect to the database: {e}")))?;
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::unexpected("writer connection vanished"))
    }
}

#[async_trait]
impl BatchWriter for PgBatchWriter {
    type Job = WriteJob;
    type Outcome = WriteOutcome;

    #[tracing::instrument(skip_all, fields(batch.size = jobs.len()))]
    async fn write_batch(&mut self, jobs: Vec<WriteJob>) -> Result<Vec<WriteOutcome>, StoreError> {
        let written = self.write(jobs).await;
        if written.is_err() {
            // whatever went wrong, the next batch starts on a fresh connection
            self.conn = None;
        }
        written
    }
}

impl PgBatchWriter {
    async fn write(&mut self, jobs: Vec<WriteJob>) -> Result<Vec<WriteOutcome>, StoreError> {
        let now = self.clock.now();
        let mut tx = self.connection().await?.begin().await.map_err(classify)?;
        let outcomes = writes::apply(&mut PgTx(&mut tx), &jobs, &now).await?;
        tx.commit().await.map_err(classify)?;
        Ok(outcomes)
    }
}
