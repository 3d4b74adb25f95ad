//! The shop's writes, written once: the order path (`orders`) and the waiting room (`queue`),
//! against a small writer-side port (`port::WriteTx`) that each database implements with its own
//! statements (`store::sqlite::tx`, `store::postgres::tx`); and `apply`, what a desk writer does
//! with a batch inside its one transaction.

mod orders;
pub(crate) mod port;
mod queue;

use crate::store::clock::Now;
use crate::store::jobs::{WriteJob, WriteOutcome};
use app::domain::NewOrder;
use app::store::{JoinError, StoreError};
pub(crate) use port::WriteTx;

/// Times a run of orders is replayed after another server recorded one of its keys meanwhile
/// (each replay answers the raced orders with that server's; a third race in a row is a
/// storage failure worth a retry).
const RACES: usize = 3;

/// Applies a desk batch, in arrival order, inside the transaction `tx` writes in: each run of
/// orders together (`orders::place`), joins, leaves and admission rounds one by one. A job that
/// is refused leaves no trace; `Err` (a storage failure) means the caller rolls the whole batch
/// back.
pub(crate) async fn apply<T: WriteTx>(
    tx: &mut T,
    jobs: &[WriteJob],
    now: &Now,
) -> Result<Vec<WriteOutcome>, StoreError> {
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut rest = jobs;
    while let Some(job) = rest.first() {
        let taken = match job {
            WriteJob::Order(_) => {
                let run: Vec<&NewOrder> = rest
                    .iter()
                    .map_while(|job| match job {
                        WriteJob::Order(order) => Some(order),
                        _ => None,
                    })
                    .collect();
                let answers = place_run(tx, &run, now).await?;
                outcomes.extend(
                    answers
                        .into_iter()
                        .map(|answer| WriteOutcome::Order(Box::new(answer))),
                );
                run.len()
            }
            WriteJob::Join(request) => {
                outcomes.push(match queue::join(tx, request, now).await {
                    Err(JoinError::Store(e)) => return Err(e),
                    joined => WriteOutcome::Join(joined),
                });
                1
            }
            WriteJob::Leave(ticket_id) => {
                queue::leave(tx, *ticket_id, now).await?;
                outcomes.push(WriteOutcome::Leave);
                1
            }
            WriteJob::Admit => {
                outcomes.push(WriteOutcome::Admit(queue::admission_round(tx, now).await?));
                1
            }
        };
        rest = &rest[taken..];
    }
    Ok(outcomes)
}

/// A run of orders; where another server may record a key meanwhile, inside a savepoint, undone
/// and replayed when one did (the replay answers with that server's order).
async fn place_run<T: WriteTx>(
    tx: &mut T,
    run: &[&NewOrder],
    now: &Now,
) -> Result<Vec<orders::Answer>, StoreError> {
    if !T::KEYS_MAY_RACE {
        return orders::place(tx, run, now).await;
    }
    for _ in 0..RACES {
        tx.savepoint().await?;
        match orders::place(tx, run, now).await {
            Err(StoreError::KeyRaced) => tx.undo_to_savepoint().await?,
            Err(e) => return Err(e),
            Ok(answers) => {
                tx.release_savepoint().await?;
                return Ok(answers);
            }
        }
    }
    Err(StoreError::busy(
        "idempotency keys kept being recorded by another server meanwhile",
    ))
}
