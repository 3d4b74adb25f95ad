//! The shop's rules, in one place and in plain Rust (no database, no web types): whether a line
//! may be sold and at what price, whether a hold may become an order, what a repeated key means,
//! who may join a waiting line, who is admitted next, who can no longer be served, and the
//! states a place in line and a hold go through.
//!
//! Each store (SQLite, Postgres, and Postgres' set-based batch path) loads the facts inside its
//! transaction, asks these functions, and applies the answer: load → decide → apply. The SQL keeps
//! only what truly differs between databases (locks, `ON CONFLICT`, set-based batches).

pub mod allowance;
pub mod checkout;
pub mod clock;
pub mod line;
pub mod sale_settings;
pub mod states;

pub use allowance::allowance_after_return;
pub use checkout::{
    check_hold, decide_line, hold_ran_out, limit_in_force, order_total, replay_allowed,
    sale_in_force, HoldFacts, Line, ProductFacts, SaleFacts,
};
pub use clock::{Clock, Now};
pub use line::{
    decide_join, earliest_turn_secs, holds_by_expiry, stock_covers, turn_within, Placing,
    SoldOutWalk, Turn, ARRIVAL_RANKS,
};
pub use sale_settings::{next_sale, SaleInput, SaleRefusal, SaleSettings};
pub use states::{HoldState, TicketState};
