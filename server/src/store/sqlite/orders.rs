//! One order inside a desk batch's transaction: load what the rules need (`app::rules`), let them
//! decide, apply: the idempotency check, a conditional stock decrement per line (or turning a
//! waiting-room hold into the order), the order and its lines at the database's prices, and the
//! idempotency key.
//!
//! Runs on the writer's own rusqlite connection with cached prepared statements: this is the hot
//! path of a surge.

use super::{db_error, fingerprint_hash, Now};
use crate::store::rows::{self, FactsRow, HoldRow};
use app::domain::{
    Customer, IdempotencyKey, NewOrder, OrderCode, OrderLineView, OrderStatus, OrderView, Quantity,
};
use app::rules::{self, HoldFacts, HoldState, Line, ProductFacts, SaleFacts, TicketState};
use app::store::{CheckoutError, StoreError};
use rusqlite::{params, Connection, OptionalExtension};

pub(super) fn place_in_tx(
    c: &Connection,
    order: &NewOrder,
    now: &Now,
) -> Result<OrderView, CheckoutError> {
    let fingerprint = fingerprint_hash(&order.fingerprint());
    if let Some(existing) = replay(c, &order.idempotency_key, &fingerprint)? {
        return Ok(existing);
    }

    let phone_key = order.customer.phone.key();
    // Every refusal happens before the first write, so a one-line order needs no savepoint.
    let (lines, hold) = match order.hold {
        Some(hold_id) => {
            let hold = hold_facts(c, hold_id)?;
            let line = rules::check_hold(hold.as_ref(), &order.lines, &phone_key, now)?;
            (vec![line.view()?], hold)
        }
        None => {
            let mut lines = Vec::with_capacity(order.lines.len());
            for (product_id, quantity) in &order.lines {
                lines.push(take_stock(c, *product_id, *quantity, &phone_key, now)?.view()?);
            }
            (lines, None)
        }
    };
    let total = rules::order_total(&lines)?;

    let (order_id, code) = insert_order(c, &order.customer, total, &now.text)?;
    {
        let mut insert_line = c
            .prepare_cached(
                "INSERT INTO order_lines (order_id, product_id, product_name, unit_price_cents, quantity) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .map_err(db_error)?;
        for line in &lines {
            insert_line
                .execute(params![
                    order_id,
                    line.product_id,
                    line.product_name,
                    line.unit_price_cents,
                    i64::from(line.quantity)
                ])
                .map_err(db_error)?;
        }
    }
    if let Some(hold) = hold {
        use_hold(c, &hold, order_id, now)?;
    }
    c.prepare_cached(
        "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?)",
    )
    .and_then(|mut s| {
        s.execute(params![
            order.idempotency_key.as_str(),
            fingerprint,
            order_id,
            now.text
        ])
    })
    .map_err(db_error)?;

    let customer = &order.customer;
    Ok(OrderView {
        order_code: code,
        status: OrderStatus::AwaitingPayment,
        total_cents: total,
        lines,
        customer_name: customer.name.as_str().to_owned(),
        phone: customer.phone.as_str().to_owned(),
        address: customer.address.as_str().to_owned(),
        note: customer.note.as_str().to_owned(),
        created_at: now.text.clone(),
        pay_by: None,
        tracking_number: String::new(),
        live_token: String::new(),
    })
}

/// If this key was used before: the first order (same request) or `KeyReused` (different one).
fn replay(
    c: &Connection,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<OrderView>, CheckoutError> {
    let row: Option<(String, i64)> = c
        .prepare_cached("SELECT request_hash, order_id FROM idempotency_keys WHERE key = ?")
        .and_then(|mut s| {
            s.query_row([key.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(db_error)?;
    let Some((hash, order_id)) = row else {
        return Ok(None);
    };
    rules::replay_allowed(&hash, fingerprint)?;
    Ok(Some(load_order(c, order_id)?))
}

/// The order with this id, read inside the writer's transaction.
fn load_order(c: &Connection, order_id: i64) -> Result<OrderView, StoreError> {
    type Row = (String, String, String, String, String, String, i64, String);
    let row: Row = c
        .prepare_cached(
            "SELECT code, status, customer_name, phone, address, note, total_cents, created_at \
             FROM orders WHERE id = ?",
        )
        .and_then(|mut s| {
            s.query_row([order_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
        })
        .map_err(db_error)?;
    let (code, status, customer_name, phone, address, note, total_cents, created_at) = row;
    let mut stmt = c
        .prepare_cached(
            "SELECT product_id, product_name, unit_price_cents, quantity FROM order_lines \
             WHERE order_id = ? ORDER BY product_id",
        )
        .map_err(db_error)?;
    let lines = stmt
        .query_map([order_id], |r| {
            let quantity: i64 = r.get(3)?;
            let unit_price_cents: i64 = r.get(2)?;
            Ok(OrderLineView {
                product_id: r.get(0)?,
                product_name: r.get(1)?,
                unit_price_cents,
                quantity: u32::try_from(quantity).unwrap_or(0),
                line_total_cents: unit_price_cents.saturating_mul(quantity),
            })
        })
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(db_error)?;
    Ok(OrderView {
        order_code: OrderCode::parse(&code).map_err(StoreError::unexpected)?,
        status: OrderStatus::parse(&status)
            .ok_or_else(|| StoreError::unexpected(format!("unknown order status {status}")))?,
        total_cents,
        lines,
        customer_name,
        phone,
        address,
        note,
        created_at,
        pay_by: None,
        tracking_number: String::new(),
        live_token: String::new(),
    })
}

/// A product and its sale (announced or running) as the rules need them, read inside the
/// write transaction.
pub(super) fn product_facts(
    c: &Connection,
    product_id: i64,
    now: &Now,
) -> Result<Option<(ProductFacts, Option<SaleFacts>)>, StoreError> {
    let row: Option<FactsRow> = c
        .prepare_cached(
            "SELECT p.name, p.price_cents, p.stock, p.archived, p.max_per_order, s.starts_at, \
             s.ends_at, s.sale_price_cents, s.per_customer_limit, s.waiting_room FROM products p \
             LEFT JOIN sales s ON s.product_id = p.id AND s.ends_at > ?2 WHERE p.id = ?1",
        )
        .and_then(|mut s| {
            s.query_row(params![product_id, now.text], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })
            .optional()
        })
        .map_err(db_error)?;
    Ok(row.map(|row| rows::product_facts(product_id, row)))
}

/// One line without a hold: load the product and its sale, let the rules decide, then take the
/// units with a conditional decrement (and count them against the phone's allowance).
fn take_stock(
    c: &Connection,
    product_id: i64,
    quantity: Quantity,
    phone_key: &str,
    now: &Now,
) -> Result<Line, CheckoutError> {
    let facts = product_facts(c, product_id, now)?;
    let (product, sale) = match &facts {
        Some((p, s)) => (Some(p), s.as_ref()),
        None => (None, None),
    };
    let already = match rules::limit_in_force(sale, now) {
        Some(_) => units_bought(c, product_id, phone_key)?,
        None => 0,
    };
    let line = rules::decide_line(product_id, quantity, product, sale, already, now)?;
    // the batch's transaction holds the write lock, so the rules' stock check still stands; the
    // decrement stays conditional all the same
    let done = c
        .prepare_cached("UPDATE products SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1")
        .and_then(|mut s| s.execute(params![line.units(), product_id]))
        .map_err(db_error)?;
    if done != 1 {
        return Err(StoreError::unexpected("stock changed inside the write lock").into());
    }
    if line.counts_against_limit {
        add_units(c, product_id, phone_key, line.units())?;
    }
    Ok(line)
}

/// Units this phone number bought (or holds) of a product during its limited sale.
pub(super) fn units_bought(
    c: &Connection,
    product_id: i64,
    phone_key: &str,
) -> Result<i64, StoreError> {
    let units: Option<i64> = c
        .prepare_cached("SELECT units FROM customer_units WHERE product_id = ? AND phone_key = ?")
        .and_then(|mut s| {
            s.query_row(params![product_id, phone_key], |r| r.get(0))
                .optional()
        })
        .map_err(db_error)?;
    Ok(units.unwrap_or(0))
}

/// Counts `taken` more units against a phone number's allowance for a product.
pub(super) fn add_units(
    c: &Connection,
    product_id: i64,
    phone_key: &str,
    taken: i64,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO customer_units (product_id, phone_key, units) VALUES (?1, ?2, ?3) \
         ON CONFLICT (product_id, phone_key) DO UPDATE SET units = units + ?3",
    )
    .and_then(|mut s| s.execute(params![product_id, phone_key, taken]))
    .map(|_| ())
    .map_err(db_error)
}

/// Gives `returned` units back to a phone number's allowance, as the rules say.
pub(super) fn return_units(
    c: &Connection,
    product_id: i64,
    phone_key: &str,
    returned: i64,
) -> Result<(), StoreError> {
    let units = rules::allowance_after_return(units_bought(c, product_id, phone_key)?, returned);
    c.prepare_cached(
        "UPDATE customer_units SET units = ?3 WHERE product_id = ?1 AND phone_key = ?2",
    )
    .and_then(|mut s| s.execute(params![product_id, phone_key, units]))
    .map(|_| ())
    .map_err(db_error)
}

/// The hold an order names, as the rules need it.
fn hold_facts(c: &Connection, hold_id: i64) -> Result<Option<HoldFacts>, StoreError> {
    let row: Option<HoldRow> = c
        .prepare_cached(
            "SELECT h.ticket_id, h.product_id, h.phone_key, h.quantity, h.unit_price_cents, \
             h.state, h.expires_at, p.name, p.archived FROM holds h \
             JOIN products p ON p.id = h.product_id WHERE h.id = ?",
        )
        .and_then(|mut s| {
            s.query_row([hold_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .optional()
        })
        .map_err(db_error)?;
    row.map(|row| rows::hold_facts(hold_id, row)).transpose()
}

/// The hold becomes the order: its units were taken out of stock when it was granted, so there is
/// no second decrement. The state guard makes a second use impossible.
fn use_hold(c: &Connection, hold: &HoldFacts, order_id: i64, now: &Now) -> Result<(), StoreError> {
    let used = c
        .prepare_cached("UPDATE holds SET state = ?, order_id = ? WHERE id = ? AND state = ?")
        .and_then(|mut s| {
            s.execute(params![
                HoldState::Used.as_str(),
                order_id,
                hold.id,
                HoldState::Live.as_str()
            ])
        })
        .map_err(db_error)?;
    if used != 1 {
        return Err(StoreError::Unexpected(
            "hold changed inside the write lock".into(),
        ));
    }
    c.prepare_cached("UPDATE queue_tickets SET state = ?, updated_at = ? WHERE id = ?")
        .and_then(|mut s| {
            s.execute(params![
                TicketState::Ordered.as_str(),
                now.text,
                hold.ticket_id
            ])
        })
        .map(|_| ())
        .map_err(db_error)
}

/// Inserts the order under a fresh random code (retrying on the rare collision).
fn insert_order(
    c: &Connection,
    customer: &Customer,
    total: i64,
    created_at: &str,
) -> Result<(i64, OrderCode), CheckoutError> {
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO NOTHING RETURNING id",
        )
        .map_err(db_error)?;
    for _ in 0..8 {
        let code = OrderCode::from_random_bytes(rand::random());
        let id: Option<i64> = stmt
            .query_row(
                params![
                    code.as_str(),
                    OrderStatus::AwaitingPayment.as_str(),
                    customer.name.as_str(),
                    customer.phone.as_str(),
                    customer.address.as_str(),
                    customer.note.as_str(),
                    total,
                    created_at
                ],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_error)?;
        if let Some(id) = id {
            return Ok((id, code));
        }
    }
    Err(StoreError::unexpected("could not find a free order code").into())
}
