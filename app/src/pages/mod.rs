//! One module per shopper page.

pub mod cart;
pub mod catalogue;
pub mod checkout;
pub mod not_found;
pub mod order;
pub mod product;
pub mod queue;
pub mod status;
