//! The storage port the server functions talk to: plain Rust, no web or database types.
//!
//! Each backend (SQLite, Postgres) implements [`Store`] in the server crate, deciding with the
//! shop's rules (`crate::rules`); the server functions only
//! ever see `Arc<dyn Store>`.

use crate::domain::{JoinRequest, NewOrder, OrderCode, OrderView, ProductView};
use async_trait::async_trait;

/// Which product: by numeric id or by its URL slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductKey {
    Id(i64),
    Slug(String),
}

/// The owner's settings an order is checked against at the edge, before it reaches the desk
/// (read through the catalogue cache, so a change takes effect within its quarter second).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckoutRules {
    /// Paused product ids; 0 pauses the whole shop's checkout.
    pub paused: Vec<i64>,
    /// Products the owner has archived: no longer sold.
    pub archived: Vec<i64>,
    /// The most units of a product one order may hold, for products that have a limit.
    pub per_order: Vec<(i64, u32)>,
}

impl CheckoutRules {
    /// Whether the whole shop's checkout is paused.
    pub fn all_paused(&self) -> bool {
        self.paused.contains(&0)
    }

    /// Whether checkout is paused for this product (by itself or with the whole shop).
    pub fn is_paused(&self, product_id: i64) -> bool {
        self.all_paused() || self.paused.contains(&product_id)
    }

    pub fn is_archived(&self, product_id: i64) -> bool {
        self.archived.contains(&product_id)
    }

    pub fn per_order_limit(&self, product_id: i64) -> Option<u32> {
        self.per_order
            .iter()
            .find(|(id, _)| *id == product_id)
            .map(|(_, limit)| *limit)
    }
}

/// Storage failed for a reason that is not the caller's fault. The driver's error is kept whole
/// as the source, for the log; shoppers are only told "busy" or "our fault".
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Temporarily unable to serve (pool exhausted, database busy or unreachable): worth a retry.
    #[error("storage is busy: {0}")]
    Busy(#[source] Cause),
    #[error("storage failed: {0}")]
    Unexpected(#[source] Cause),
    /// Another server committed this idempotency key first (Postgres, several servers): the desk
    /// undoes this attempt and answers with that server's order.
    #[error("the idempotency key was committed by another server meanwhile")]
    KeyRaced,
}

impl StoreError {
    pub fn busy(cause: impl Into<Cause>) -> StoreError {
        StoreError::Busy(cause.into())
    }

    pub fn unexpected(cause: impl Into<Cause>) -> StoreError {
        StoreError::Unexpected(cause.into())
    }
}

/// What went wrong underneath a [`StoreError`]: the driver's error (with its own sources), or a
/// sentence when the store itself found something wrong.
#[derive(Debug, Clone)]
pub struct Cause(std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Cause {
    pub fn of(error: impl std::error::Error + Send + Sync + 'static) -> Cause {
        Cause(std::sync::Arc::new(error))
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// A sentence the store wrote itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Said(String);

impl From<String> for Cause {
    fn from(text: String) -> Cause {
        Cause::of(Said(text))
    }
}

/// A stored value that does not parse (its English, for the log).
impl From<crate::domain::Problem> for Cause {
    fn from(problem: crate::domain::Problem) -> Cause {
        Cause::of(problem)
    }
}

impl From<&str> for Cause {
    fn from(text: &str) -> Cause {
        Cause::of(Said(text.to_owned()))
    }
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
    /// The owner allows at most `limit` units of this product in one order.
    #[error("at most {limit} of product {product_id} in one order")]
    TooManyInOneOrder { product_id: i64, limit: i64 },
    /// The idempotency key was used before for a different request.
    #[error("idempotency key reused for a different order")]
    KeyReused,
    #[error("the sale of {product_name} starts in {starts_in_secs} s")]
    SaleNotStarted {
        product_id: i64,
        product_name: String,
        starts_in_secs: i64,
    },
    /// The product sells through its waiting room: an order needs a hold.
    #[error("{product_name} sells through the waiting room")]
    QueueRequired {
        product_id: i64,
        product_name: String,
    },
    /// This phone number already has `already` of the `limit` units allowed.
    #[error("limit of {limit} {product_name} per customer reached")]
    LimitReached {
        product_id: i64,
        product_name: String,
        limit: i64,
        already: i64,
    },
    #[error("hold cannot be used: {0}")]
    Hold(HoldProblem),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a hold token did not turn into an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldProblem {
    #[error("no such hold")]
    Unknown,
    #[error("the hold has expired")]
    Expired,
    #[error("the hold was already used")]
    Used,
    /// The order asks for another product or quantity than what is held.
    #[error("the hold is for {quantity} × {product_name}")]
    Mismatch { quantity: i64, product_name: String },
    /// The order's phone number is not the one that joined the line.
    #[error("the hold is for another phone number")]
    OtherPhone,
}

/// Why a shopper could not join the waiting room.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("no product with id {product_id}")]
    UnknownProduct { product_id: i64 },
    /// The owner archived the product: it is no longer sold.
    #[error("product {product_id} is no longer sold")]
    NotSold { product_id: i64 },
    /// The owner allows at most `limit` units of this product in one order.
    #[error("at most {limit} of product {product_id} in one order")]
    TooManyInOneOrder { product_id: i64, limit: i64 },
    /// No sale with a waiting room is announced or running for it.
    #[error("{product_name} has no waiting room")]
    NoWaitingRoom { product_name: String },
    #[error("limit of {limit} {product_name} per customer reached")]
    LimitReached {
        product_id: i64,
        product_name: String,
        limit: i64,
        already: i64,
    },
    /// This phone number already has a place in this line (ticket `ticket_id`). The store does
    /// not hand that place over: only a client that holds the ticket may act on it.
    #[error("this phone number is already in line for product {product_id}")]
    AlreadyInLine { product_id: i64, ticket_id: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A waiting-room ticket as the store knows it (the edge signs ids into tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketInfo {
    pub ticket_id: i64,
    pub product_id: i64,
    pub product_name: String,
    pub product_slug: String,
    pub quantity: u32,
    /// Its place in the line's order (lower is served first); the live channel follows it.
    pub rank: i64,
    pub standing: Standing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// `position` is `None` before the sale starts (the draw has not happened).
    Waiting {
        position: Option<u64>,
        eta_seconds: u64,
        starts_in_secs: Option<u64>,
    },
    Admitted {
        hold_id: i64,
        expires_at: crate::domain::At,
        seconds_left: u64,
    },
    SoldOut,
    Expired,
    Left,
    Ordered {
        order_code: String,
    },
}

/// What one admission round did (the usher logs it; the control room will show it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdmissionRound {
    pub holds_expired: u64,
    pub admitted: u64,
    pub told_sold_out: u64,
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

    /// Whether the store can serve right now: the database answers and the order desk runs.
    async fn ping(&self) -> Result<(), StoreError>;

    /// What the owner has set that every order is checked against before it is placed: the
    /// brakes, archived products and per-order limits.
    async fn checkout_rules(&self) -> Result<CheckoutRules, StoreError>;

    /// The shop's own settings (name, currency, time zone, how to pay, …).
    async fn shop_settings(&self) -> Result<crate::shop::ShopSettings, StoreError>;

    /// For an order awaiting payment placed during a sale: the shortest payment window (seconds)
    /// of those sales.
    async fn sale_pay_window(&self, code: &OrderCode) -> Result<Option<i64>, StoreError>;
}

/// The waiting room of every sale that has one. Its writes go through the same order desk as
/// orders (one writer, one transaction per batch).
#[async_trait]
pub trait WaitingRoom: Send + Sync + 'static {
    /// Puts a shopper in a sale's waiting room; a phone number already in this line gets
    /// [`JoinError::AlreadyInLine`]. A shopper who can be served at once is admitted before
    /// this returns.
    async fn join_queue(&self, request: JoinRequest) -> Result<TicketInfo, JoinError>;

    async fn ticket(&self, ticket_id: i64) -> Result<Option<TicketInfo>, StoreError>;

    /// What a hold is for: (product id, quantity).
    async fn hold_line(&self, hold_id: i64) -> Result<Option<(i64, i64)>, StoreError>;

    /// Leaves the line; an admitted shopper's hold goes back to stock at once.
    async fn leave_queue(&self, ticket_id: i64) -> Result<Option<TicketInfo>, StoreError>;

    /// One round of the waiting room: expire overdue holds (their units return, once), admit
    /// whoever is at the head of each line while stock lasts, and tell those who can no longer
    /// be served that it is sold out.
    async fn run_admission(&self) -> Result<AdmissionRound, StoreError>;
}
