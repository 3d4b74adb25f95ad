//! The storage port the server functions talk to: plain Rust, no web or database types.
//!
//! Each backend (SQLite today) implements [`Store`] in the server crate; the server functions only
//! ever see `Arc<dyn Store>`.

use crate::domain::{NewOrder, OrderCode, OrderView, ProductView};
use async_trait::async_trait;

/// Which product: by numeric id or by its URL slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductKey {
    Id(i64),
    Slug(String),
}

/// Storage failed for a reason that is not the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Temporarily unable to serve (pool exhausted, database busy): worth a retry.
    #[error("storage is busy: {0}")]
    Busy(String),
    #[error("storage failed: {0}")]
    Unexpected(String),
}

/// Why an order was not placed.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("only {available} of {product_name} left")]
    SoldOut {
        product_id: i64,
        product_name: String,
        available: i64,
    },
    #[error("no product with id {product_id}")]
    UnknownProduct { product_id: i64 },
    /// The idempotency key was used before for a different request.
    #[error("idempotency key reused for a different order")]
    KeyReused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Every product on sale, in catalogue order, with current stock.
    async fn products(&self) -> Result<Vec<ProductView>, StoreError>;

    async fn product(&self, key: &ProductKey) -> Result<Option<ProductView>, StoreError>;

    /// The products with these ids that exist (unknown ids are left out).
    async fn products_by_ids(&self, ids: &[i64]) -> Result<Vec<ProductView>, StoreError>;

    /// Places an order atomically and durably; a repeated idempotency key returns the first order.
    /// Returns only after the order is committed.
    async fn place_order(&self, order: NewOrder) -> Result<OrderView, CheckoutError>;

    async fn order(&self, code: &OrderCode) -> Result<Option<OrderView>, StoreError>;
}
