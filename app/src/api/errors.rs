//! Storage and checkout failures turned into what the shopper is told. Internal details are
//! logged here, once, and never sent to the client.

use crate::api::ApiError;
use crate::store::{CheckoutError, HoldProblem, JoinError, StoreError};

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Busy(detail) => {
                // per request at debug only: a full disk or a database away fails every
                // request, and the desk and the health check say so once
                tracing::debug!(%detail, "storage busy; shedding");
                ApiError::overloaded(2)
            }
            StoreError::KeyRaced => {
                tracing::warn!("an order's key raced another server's past the desk; shedding");
                ApiError::overloaded(1)
            }
            StoreError::Unexpected(detail) => {
                tracing::error!(%detail, "storage failed");
                ApiError::internal()
            }
        }
    }
}

impl From<CheckoutError> for ApiError {
    fn from(e: CheckoutError) -> ApiError {
        match e {
            CheckoutError::SoldOut {
                product_id,
                product_name,
                available,
            } => ApiError::SoldOut {
                message: if available == 0 {
                    format!("Sorry, {product_name} is sold out.")
                } else {
                    format!("Sorry, only {available} of {product_name} left.")
                },
                product_id,
                product_name,
                available,
            },
            CheckoutError::UnknownProduct { product_id } => ApiError::invalid_field(
                "lines",
                format!("There is no product with id {product_id}."),
            ),
            CheckoutError::TooManyInOneOrder { limit, .. } => too_many("lines", limit),
            CheckoutError::KeyReused => ApiError::invalid_field("idempotency_key", KEY_REUSED),
            CheckoutError::SaleNotStarted {
                product_id,
                product_name,
                starts_in_secs,
            } => ApiError::SaleNotStarted {
                message: format!(
                    "The {product_name} sale starts in {}.",
                    crate::domain::countdown_text(starts_in_secs, crate::language::Language::En)
                ),
                product_id,
                starts_in_secs,
            },
            CheckoutError::QueueRequired {
                product_id,
                product_name,
            } => ApiError::QueueRequired {
                message: format!(
                    "{product_name} sells through the waiting line: join it to get your units held."
                ),
                product_id,
            },
            CheckoutError::LimitReached {
                product_id,
                product_name,
                limit,
                already,
            } => limit_reached(product_id, &product_name, limit, already),
            CheckoutError::Hold(problem) => {
                let (reason, message) = match problem {
                    HoldProblem::Unknown => ("unknown", "That hold does not exist.".to_owned()),
                    HoldProblem::Expired => (
                        "expired",
                        "Your hold has expired and its units went to the next in line.".to_owned(),
                    ),
                    HoldProblem::Used => (
                        "used",
                        "This hold was already used for an order.".to_owned(),
                    ),
                    HoldProblem::Mismatch(m) => ("mismatch", m),
                };
                ApiError::HoldInvalid {
                    message,
                    reason: reason.to_owned(),
                }
            }
            CheckoutError::Store(e) => e.into(),
        }
    }
}

/// The owner's per-order limit, named on the form field that asked for more.
fn too_many(field: &str, limit: i64) -> ApiError {
    ApiError::invalid_field(
        field,
        format!("At most {limit} of this product fit in one order."),
    )
}

fn limit_reached(product_id: i64, product_name: &str, limit: i64, already: i64) -> ApiError {
    ApiError::LimitReached {
        message: if already == 0 {
            format!("At most {limit} {product_name} per customer in this sale.")
        } else {
            format!(
                "At most {limit} {product_name} per customer in this sale, and this phone number already has {already}."
            )
        },
        product_id,
        limit,
        already,
    }
}

impl From<JoinError> for ApiError {
    fn from(e: JoinError) -> ApiError {
        match e {
            JoinError::UnknownProduct { product_id } => ApiError::invalid_field(
                "product_id",
                format!("There is no product with id {product_id}."),
            ),
            JoinError::NotSold { .. } => {
                ApiError::invalid_field("product_id", "This product is no longer sold.")
            }
            JoinError::TooManyInOneOrder { limit, .. } => too_many("quantity", limit),
            JoinError::NoWaitingRoom { product_name } => ApiError::invalid_field(
                "product_id",
                format!(
                    "{product_name} has no waiting line right now: add it to your cart instead."
                ),
            ),
            JoinError::LimitReached {
                product_id,
                product_name,
                limit,
                already,
            } => limit_reached(product_id, &product_name, limit, already),
            JoinError::AlreadyInLine { product_id, .. } => ApiError::already_in_line(product_id),
            JoinError::Store(e) => e.into(),
        }
    }
}

/// What a reused idempotency key is told (the JSON API's words; the checkout form says more).
pub const KEY_REUSED: &str = "This idempotency key was already used for a different order.";
