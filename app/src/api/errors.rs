//! Storage and checkout failures turned into what the shopper is refused. Internal details are
//! logged here, once, and never sent to the client.

use crate::api::Refusal;
use crate::domain::Problem;
use crate::store::{CheckoutError, HoldProblem, JoinError, StoreError};

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        match e {
            StoreError::Busy(detail) => {
                // per request at debug only: a full disk or a database away fails every
                // request, and the desk and the health check say so once
                tracing::debug!(%detail, "storage busy; shedding");
                Refusal::overloaded(2)
            }
            StoreError::KeyRaced => {
                tracing::warn!("an order's key raced another server's past the desk; shedding");
                Refusal::overloaded(1)
            }
            StoreError::Unexpected(detail) => {
                tracing::error!(%detail, "storage failed");
                Refusal::Internal
            }
        }
    }
}

impl From<CheckoutError> for Refusal {
    fn from(e: CheckoutError) -> Refusal {
        match e {
            CheckoutError::SoldOut {
                product_id,
                product_name,
                available,
            } => Refusal::SoldOut {
                product_id,
                product_name,
                available,
            },
            CheckoutError::UnknownProduct { product_id } => {
                Refusal::field("lines", Problem::NoProductWithId { id: product_id })
            }
            CheckoutError::TooManyInOneOrder { limit, .. } => {
                Refusal::field("lines", Problem::ProductAtMost { limit })
            }
            CheckoutError::KeyReused => Refusal::field("idempotency_key", Problem::KeyReused),
            CheckoutError::SaleNotStarted {
                product_id,
                product_name,
                starts_in_secs,
            } => Refusal::SaleNotStarted {
                product_id,
                product_name,
                starts_in_secs,
            },
            CheckoutError::QueueRequired {
                product_id,
                product_name,
            } => Refusal::QueueRequired {
                product_id,
                product_name,
            },
            CheckoutError::LimitReached {
                product_id,
                product_name,
                limit,
                already,
            } => Refusal::LimitReached {
                product_id,
                product_name,
                limit,
                already,
            },
            CheckoutError::Hold(problem) => Refusal::HoldInvalid(match problem {
                HoldProblem::Unknown => Problem::HoldUnknown,
                HoldProblem::Expired => Problem::HoldExpired,
                HoldProblem::Used => Problem::HoldUsed,
                HoldProblem::Mismatch {
                    quantity,
                    product_name,
                } => Problem::HoldMismatch {
                    quantity,
                    product_name,
                },
                HoldProblem::OtherPhone => Problem::HoldOtherPhone,
            }),
            CheckoutError::Store(e) => e.into(),
        }
    }
}

impl From<JoinError> for Refusal {
    fn from(e: JoinError) -> Refusal {
        match e {
            JoinError::UnknownProduct { product_id } => {
                Refusal::field("product_id", Problem::NoProductWithId { id: product_id })
            }
            JoinError::NotSold { .. } => Refusal::field("product_id", Problem::NotSold),
            JoinError::TooManyInOneOrder { limit, .. } => {
                Refusal::field("quantity", Problem::ProductAtMost { limit })
            }
            JoinError::NoWaitingRoom { product_name } => {
                Refusal::field("product_id", Problem::NoWaitingRoom { product_name })
            }
            JoinError::LimitReached {
                product_id,
                product_name,
                limit,
                already,
            } => Refusal::LimitReached {
                product_id,
                product_name,
                limit,
                already,
            },
            JoinError::AlreadyInLine { product_id, .. } => Refusal::AlreadyInLine { product_id },
            JoinError::Store(e) => e.into(),
        }
    }
}
