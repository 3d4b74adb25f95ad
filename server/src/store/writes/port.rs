//! The writer side's port: what the order path and the waiting room (`writes::orders`,
//! `writes::queue`) ask of a database inside the desk's transaction. Each database answers with
//! its own statements (`store::sqlite::tx`: cached statements on the writer's rusqlite
//! connection, a row at a time; `store::postgres::tx`: arrays and `UNNEST`, a set at a time, with
//! row locks). The port decides nothing: every decision is the procedures' (and `app::rules`').
//!
//! The methods take and give many rows at once where a batch has many (the orders of a desk
//! batch, the heads of a line); one order is a batch of one.

use crate::store::clock::Now;
use app::domain::At;
use app::domain::{Customer, OrderCode, OrderLineView, OrderView};
use app::rules::{HoldFacts, HoldState, ProductFacts, SaleFacts, TicketState};
use app::store::StoreError;
use std::collections::HashMap;

/// A product and its sale (announced or running) as the rules need them.
pub(crate) type Facts = (ProductFacts, Option<SaleFacts>);

/// Whether reading products locks their rows until the transaction ends (Postgres: another
/// server's desk cannot change their stock meanwhile, so the rules' stock check stands; SQLite's
/// one writer holds the whole database already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    Rows,
    None,
}

/// An idempotency key already recorded: the request's fingerprint hash and its order's code.
#[derive(Debug, Clone)]
pub(crate) struct KeyRecord {
    pub hash: String,
    pub code: String,
}

/// An order to insert, under a code the procedure drew.
pub(crate) struct NewOrderRow<'a> {
    pub code: &'a OrderCode,
    pub customer: &'a Customer,
    pub total_cents: i64,
}

/// An idempotency key to record for an order.
pub(crate) struct KeyRow<'a> {
    pub key: &'a str,
    pub hash: &'a str,
    pub order_id: i64,
}

/// Where a new place in line is ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rank {
    /// After everyone who joined before (the sale is running): the database's arrival counter.
    Arrival,
    /// A draw among those who joined before the start.
    Drawn(i64),
}

impl Rank {
    /// As the insert binds it: whether it is by arrival, and the draw (0 by arrival).
    pub(crate) fn columns(self) -> (bool, i64) {
        match self {
            Rank::Arrival => (true, 0),
            Rank::Drawn(draw) => (false, draw),
        }
    }
}

/// A place in line as leaving reads it (locked, on Postgres).
pub(crate) struct TicketRow {
    pub product_id: i64,
    pub state: TicketState,
    pub hold_id: Option<i64>,
}

/// A live hold that has just ended: what goes back.
pub(crate) struct EndedHold {
    pub product_id: i64,
    pub phone_key: String,
    pub quantity: i64,
}

/// A line's sale, while it admits (running, with a waiting room, not paused).
pub(crate) struct Serving {
    pub hold_seconds: i64,
    pub price_cents: i64,
    pub limit: Option<i64>,
}

/// A shopper at the head of a line: ticket, phone key, quantity.
pub(crate) type Head = (i64, String, i64);

/// A place in line further back: ticket, rank, quantity.
pub(crate) type Waiting = (i64, i64, i64);

/// One database's statements inside the desk's transaction. A method that finds the database
/// in a state the procedures' reads rule out (a conditional write that did not apply) answers
/// `StoreError::Unexpected`, which sinks the batch.
#[allow(async_fn_in_trait)]
pub(crate) trait WriteTx {
    /// Whether another server can commit an idempotency key while this transaction runs (then
    /// recording one may answer fewer than asked, and the run of orders is undone and replayed).
    const KEYS_MAY_RACE: bool;

    // ---- the order path ----

    /// The keys of `keys` already recorded.
    async fn key_records(
        &mut self,
        keys: &[&str],
    ) -> Result<HashMap<String, KeyRecord>, StoreError>;
    /// A committed order (the one a recorded key names), as its shopper is shown it.
    async fn order(&mut self, code: &str) -> Result<OrderView, StoreError>;
    /// Products `ids` (sorted, distinct) with their sale; an unknown product is absent. With
    /// `Lock::Rows` they are locked in id order.
    async fn products(
        &mut self,
        ids: &[i64],
        now: &Now,
        lock: Lock,
    ) -> Result<HashMap<i64, Facts>, StoreError>;
    /// Holds `ids` (sorted, distinct), locked; an unknown hold is absent.
    async fn holds(&mut self, ids: &[i64]) -> Result<HashMap<i64, HoldFacts>, StoreError>;
    /// Units each of `phone_keys` bought (or holds) of a product during its limited sale; a
    /// phone with none is absent.
    async fn units_bought(
        &mut self,
        product_id: i64,
        phone_keys: &[&str],
    ) -> Result<HashMap<String, i64>, StoreError>;
    /// Takes units out of stock: (product, units) each, conditional on the stock being there.
    async fn take_stock(&mut self, taken: &[(i64, i64)]) -> Result<(), StoreError>;
    /// Puts units back in stock.
    async fn return_stock(&mut self, product_id: i64, units: i64) -> Result<(), StoreError>;
    /// Counts units against phone numbers' allowances for a product: (phone key, units) each.
    async fn add_units(&mut self, product_id: i64, added: &[(&str, i64)])
        -> Result<(), StoreError>;
    /// Sets what a phone number has counted against its allowance for a product.
    async fn set_units(
        &mut self,
        product_id: i64,
        phone_key: &str,
        units: i64,
    ) -> Result<(), StoreError>;
    /// Inserts orders as awaiting payment: each one's id, or `None` where its code was taken.
    async fn insert_orders(
        &mut self,
        rows: &[NewOrderRow<'_>],
        now: &Now,
    ) -> Result<Vec<Option<i64>>, StoreError>;
    /// Inserts order lines: (order id, line) each.
    async fn insert_lines(&mut self, lines: &[(i64, &OrderLineView)]) -> Result<(), StoreError>;
    /// Turns live holds into orders: (hold, order) each.
    async fn use_holds(&mut self, used: &[(i64, i64)]) -> Result<(), StoreError>;
    /// Records idempotency keys; how many were recorded (fewer when another server recorded
    /// one first, see `KEYS_MAY_RACE`).
    async fn record_keys(&mut self, keys: &[KeyRow<'_>], now: &Now) -> Result<u64, StoreError>;
    /// Marks a point the run of orders can be undone to (Postgres, when a key raced).
    async fn savepoint(&mut self) -> Result<(), StoreError>;
    /// Undoes everything since the savepoint, and forgets it.
    async fn undo_to_savepoint(&mut self) -> Result<(), StoreError>;
    /// Keeps everything since the savepoint, and forgets it.
    async fn release_savepoint(&mut self) -> Result<(), StoreError>;

    // ---- the waiting room ----

    /// This phone number's place in this product's line, if it is in it.
    async fn ticket_in_line(
        &mut self,
        product_id: i64,
        phone_key: &str,
    ) -> Result<Option<i64>, StoreError>;
    /// A new waiting place in line; `None` when the phone number got one meanwhile (through
    /// another server).
    async fn insert_ticket(
        &mut self,
        product_id: i64,
        phone_key: &str,
        quantity: i64,
        rank: Rank,
        now: &Now,
    ) -> Result<Option<i64>, StoreError>;
    /// A place in line (locked, on Postgres).
    async fn ticket(&mut self, ticket_id: i64) -> Result<Option<TicketRow>, StoreError>;
    /// Moves places in line to `state`.
    async fn set_tickets(
        &mut self,
        ticket_ids: &[i64],
        state: TicketState,
        now: &Now,
    ) -> Result<(), StoreError>;
    /// Moves a place still in line (waiting or admitted) to `state`.
    async fn end_ticket(
        &mut self,
        ticket_id: i64,
        state: TicketState,
        now: &Now,
    ) -> Result<(), StoreError>;
    /// Ends a hold if it is live (`expired` or `released`): what it held.
    async fn end_hold(
        &mut self,
        hold_id: i64,
        state: HoldState,
    ) -> Result<Option<EndedHold>, StoreError>;
    /// Live holds past their time, on products not paused: (hold, ticket) each.
    async fn overdue_holds(&mut self, now: &Now) -> Result<Vec<(i64, i64)>, StoreError>;
    /// Tells everyone still waiting for a sale that has ended that it is sold out; how many.
    async fn close_ended_lines(&mut self, now: &Now) -> Result<u64, StoreError>;
    /// Products whose line admits now and has someone waiting.
    async fn lines_to_serve(&mut self, now: &Now) -> Result<Vec<i64>, StoreError>;
    /// The product's sale while its line admits.
    async fn serving(&mut self, product_id: i64, now: &Now) -> Result<Option<Serving>, StoreError>;
    /// The product's free stock, locked while its line is served (Postgres).
    async fn stock_to_serve(&mut self, product_id: i64) -> Result<i64, StoreError>;
    /// The first `limit` waiting in the product's line, in order.
    async fn heads(&mut self, product_id: i64, limit: i64) -> Result<Vec<Head>, StoreError>;
    /// Grants holds to heads of the line (their units already taken from stock) and marks their
    /// places admitted.
    async fn grant_holds(
        &mut self,
        product_id: i64,
        serving: &Serving,
        expires_at: At,
        admitted: &[Head],
        now: &Now,
    ) -> Result<(), StoreError>;
    /// Units in the product's live holds.
    async fn held_units(&mut self, product_id: i64) -> Result<i64, StoreError>;
    /// The next `limit` waiting behind rank `after`, in order.
    async fn waiting_after(
        &mut self,
        product_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Waiting>, StoreError>;
    /// Tells everyone waiting behind rank `after` that it is sold out; how many.
    async fn sell_out_after(
        &mut self,
        product_id: i64,
        after: i64,
        now: &Now,
    ) -> Result<u64, StoreError>;
}
