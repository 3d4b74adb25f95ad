//! Storage and checkout failures turned into what the shopper is told. Internal details are
//! logged here, once, and never sent to the client.

use crate::domain::ApiError;
use crate::store::{CheckoutError, StoreError};

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Busy(detail) => {
                tracing::warn!(%detail, "storage busy; shedding");
                ApiError::overloaded(2)
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
            CheckoutError::KeyReused => ApiError::invalid_field(
                "idempotency_key",
                "This idempotency key was already used for a different order.",
            ),
            CheckoutError::Store(e) => e.into(),
        }
    }
}
