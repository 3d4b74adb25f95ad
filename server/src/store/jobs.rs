//! What every backend's order desk takes: the jobs that write to the shop, and their outcomes.

use crate::desk::Desk;
use app::domain::{JoinRequest, NewOrder, OrderView};
use app::store::{AdmissionRound, CheckoutError, JoinError, StoreError};

/// A backend's order desk.
pub(crate) type WriteDesk = Desk<WriteJob, WriteOutcome>;

/// Everything that writes to the shop goes through the desk as one of these.
pub(crate) enum WriteJob {
    Order(NewOrder),
    Join(JoinRequest),
    Leave(i64),
    Admit,
}

pub(crate) enum WriteOutcome {
    /// Boxed: an order's answer is much larger than the others'.
    Order(Box<Result<OrderView, CheckoutError>>),
    /// The ticket id.
    Join(Result<i64, JoinError>),
    /// The ticket has left the line (if it was still in it).
    Leave,
    Admit(AdmissionRound),
}

fn wrong_outcome() -> StoreError {
    StoreError::unexpected("the desk answered a different kind of job")
}

/// Places an order through the desk. The desk's writer task owns the transaction: if the
/// shopper's connection drops mid-way, the order still commits or rolls back whole (a retry finds
/// it by its key).
pub(crate) async fn place(desk: &WriteDesk, order: NewOrder) -> Result<OrderView, CheckoutError> {
    match desk.submit(WriteJob::Order(order)).await? {
        WriteOutcome::Order(outcome) => *outcome,
        _ => Err(wrong_outcome().into()),
    }
}

/// Joins a waiting line through the desk; the ticket id.
pub(crate) async fn join(desk: &WriteDesk, request: JoinRequest) -> Result<i64, JoinError> {
    match desk.submit(WriteJob::Join(request)).await? {
        WriteOutcome::Join(joined) => joined,
        _ => Err(wrong_outcome().into()),
    }
}

pub(crate) async fn leave(desk: &WriteDesk, ticket_id: i64) -> Result<(), StoreError> {
    match desk.submit(WriteJob::Leave(ticket_id)).await? {
        WriteOutcome::Leave => Ok(()),
        _ => Err(wrong_outcome()),
    }
}

pub(crate) async fn admit(desk: &WriteDesk) -> Result<AdmissionRound, StoreError> {
    match desk.submit(WriteJob::Admit).await? {
        WriteOutcome::Admit(round) => Ok(round),
        _ => Err(wrong_outcome()),
    }
}
