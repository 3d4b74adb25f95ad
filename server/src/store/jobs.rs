//! What every backend's order desk takes: the jobs that write to the shop, and their outcomes.

use app::domain::{JoinRequest, NewOrder, OrderView};
use app::store::{AdmissionRound, CheckoutError, JoinError};

/// Everything that writes to the shop goes through the desk as one of these.
#[derive(Clone)]
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
