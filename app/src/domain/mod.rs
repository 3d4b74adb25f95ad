//! Domain types shared by the server and the browser: parsed, validated values (never raw input).
//!
//! Everything here is wasm-safe (serde, thiserror and the compiled texts of `locales/`), so the
//! same rules run on both sides.

pub mod cart;
pub mod customer;
pub mod error;
pub mod money;
pub mod order;
pub mod phone;
pub mod problem;
pub mod product;
pub mod public_url;
pub mod quantity;
pub mod queue;
pub mod sale;
pub mod time;

pub use cart::Cart;
pub use customer::{Address, Customer, CustomerInput, CustomerName, Note};
pub use error::{FieldProblem, Invalid};
pub use money::{Currency, Money};
pub use order::{
    IdempotencyKey, LineRequest, NewOrder, OrderCode, OrderLineView, OrderStatus, OrderView,
    MAX_LINES_PER_ORDER,
};
pub use phone::{Phone, PhoneError};
pub use problem::{CustomerField, Problem};
pub use product::{
    picture_srcset, picture_srcset_for_phones, ProductImage, ProductText, ProductView, StockBadge,
};
pub use public_url::PublicUrl;
pub use quantity::Quantity;
pub use queue::{JoinInput, JoinRequest, QueueState, QueueStatus};
pub use sale::{countdown_text, CountdownUnits, SalePhase, SaleView};
pub use time::At;
