//! One order inside a desk batch's transaction: the idempotency check, a conditional stock
//! decrement per line (or turning a waiting-room hold into the order), the sale rules, the order
//! and its lines at the database's prices, and the idempotency key.
//!
//! Runs on the writer's own rusqlite connection with cached prepared statements: this is the hot
//! path of a surge.

use super::{db_error, fingerprint_hash, Now};
use app::domain::{
    Customer, IdempotencyKey, NewOrder, OrderCode, OrderLineView, OrderStatus, OrderView, Quantity,
};
use app::store::{CheckoutError, HoldProblem, StoreError};
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
            let hold = check_hold(c, hold_id, order, &phone_key, now)?;
            (vec![hold.line.clone()], Some(hold))
        }
        None => {
            let mut lines = Vec::with_capacity(order.lines.len());
            for (product_id, quantity) in &order.lines {
                lines.push(take_stock(c, *product_id, *quantity, &phone_key, now)?);
            }
            (lines, None)
        }
    };
    let total = lines.iter().try_fold(0_i64, |sum, l| {
        sum.checked_add(l.line_total_cents)
            .ok_or_else(|| StoreError::Unexpected("order total overflows".into()))
    })?;

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
    if hash != fingerprint {
        return Err(CheckoutError::KeyReused);
    }
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
        order_code: OrderCode::parse(&code).map_err(StoreError::Unexpected)?,
        status: OrderStatus::parse(&status)
            .ok_or_else(|| StoreError::Unexpected(format!("unknown order status {status}")))?,
        total_cents,
        lines,
        customer_name,
        phone,
        address,
        note,
        created_at,
    })
}

fn line_view(
    product_id: i64,
    product_name: String,
    unit_price_cents: i64,
    quantity: Quantity,
) -> Result<OrderLineView, StoreError> {
    Ok(OrderLineView {
        product_id,
        product_name,
        unit_price_cents,
        quantity: quantity.get(),
        line_total_cents: unit_price_cents
            .checked_mul(i64::from(quantity.get()))
            .ok_or_else(|| StoreError::Unexpected("line total overflows".into()))?,
    })
}

/// The conditional decrement: succeeds only if enough stock is there at this instant. The fast
/// path is for products with no sale announced or running; the rest take the sale path.
fn take_stock(
    c: &Connection,
    product_id: i64,
    quantity: Quantity,
    phone_key: &str,
    now: &Now,
) -> Result<OrderLineView, CheckoutError> {
    let q = i64::from(quantity.get());
    let taken: Option<(String, i64)> = c
        .prepare_cached(
            "UPDATE products SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1 \
             AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.product_id = ?2 AND s.ends_at > ?3) \
             RETURNING name, price_cents",
        )
        .and_then(|mut s| {
            s.query_row(params![q, product_id, now.text], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
        .map_err(db_error)?;
    if let Some((name, price)) = taken {
        return Ok(line_view(product_id, name, price, quantity)?);
    }

    type Row = (
        String,
        i64,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<bool>,
    );
    let found: Option<Row> = c
        .prepare_cached(
            "SELECT p.name, p.stock, s.starts_at, s.sale_price_cents, s.per_customer_limit, \
             s.waiting_room FROM products p \
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
                ))
            })
            .optional()
        })
        .map_err(db_error)?;
    let Some((product_name, available, starts_at, sale_price, limit, waiting_room)) = found else {
        return Err(CheckoutError::UnknownProduct { product_id });
    };
    let (Some(starts_at), Some(sale_price)) = (starts_at, sale_price) else {
        return Err(CheckoutError::SoldOut {
            product_id,
            product_name,
            available,
        });
    };
    if now.text < starts_at {
        return Err(CheckoutError::SaleNotStarted {
            product_id,
            product_name,
            starts_in_secs: now.secs_until(&starts_at),
        });
    }
    if waiting_room == Some(true) {
        return Err(CheckoutError::QueueRequired {
            product_id,
            product_name,
        });
    }
    if let Some(limit) = limit {
        let already = units_bought(c, product_id, phone_key)?;
        if already + q > limit {
            return Err(CheckoutError::LimitReached {
                product_id,
                product_name,
                limit,
                already,
            });
        }
    }
    if available < q {
        return Err(CheckoutError::SoldOut {
            product_id,
            product_name,
            available,
        });
    }
    // the batch's transaction holds the write lock, so the check above still stands; the
    // decrement stays conditional all the same
    let done = c
        .prepare_cached("UPDATE products SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1")
        .and_then(|mut s| s.execute(params![q, product_id]))
        .map_err(db_error)?;
    if done != 1 {
        return Err(StoreError::Unexpected("stock changed inside the write lock".into()).into());
    }
    if limit.is_some() {
        add_units(c, product_id, phone_key, q)?;
    }
    Ok(line_view(product_id, product_name, sale_price, quantity)?)
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

/// Adds (or, negative, takes back) units to a phone number's count for a product.
pub(super) fn add_units(
    c: &Connection,
    product_id: i64,
    phone_key: &str,
    delta: i64,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO customer_units (product_id, phone_key, units) VALUES (?1, ?2, MAX(?3, 0)) \
         ON CONFLICT (product_id, phone_key) DO UPDATE SET units = MAX(units + ?3, 0)",
    )
    .and_then(|mut s| s.execute(params![product_id, phone_key, delta]))
    .map(|_| ())
    .map_err(db_error)
}

/// A live hold that matches the order, ready to be used.
struct UsableHold {
    id: i64,
    ticket_id: i64,
    line: OrderLineView,
}

/// Checks that the hold exists, is live and unexpired, and is for exactly what the order asks.
fn check_hold(
    c: &Connection,
    hold_id: i64,
    order: &NewOrder,
    phone_key: &str,
    now: &Now,
) -> Result<UsableHold, CheckoutError> {
    type Row = (i64, i64, String, i64, i64, String, String, String);
    let row: Option<Row> = c
        .prepare_cached(
            "SELECT h.ticket_id, h.product_id, h.phone_key, h.quantity, h.unit_price_cents, \
             h.state, h.expires_at, p.name FROM holds h JOIN products p ON p.id = h.product_id \
             WHERE h.id = ?",
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
                ))
            })
            .optional()
        })
        .map_err(db_error)?;
    let Some((ticket_id, product_id, held_phone, held, unit_price, state, expires_at, name)) = row
    else {
        return Err(CheckoutError::Hold(HoldProblem::Unknown));
    };
    match state.as_str() {
        "used" => return Err(CheckoutError::Hold(HoldProblem::Used)),
        "expired" | "released" => return Err(CheckoutError::Hold(HoldProblem::Expired)),
        _ if expires_at <= now.text => return Err(CheckoutError::Hold(HoldProblem::Expired)),
        _ => {}
    }
    let asks_for_it = matches!(order.lines.as_slice(),
        [(p, q)] if *p == product_id && i64::from(q.get()) == held);
    if !asks_for_it {
        return Err(CheckoutError::Hold(HoldProblem::Mismatch(format!(
            "This hold is for {held} × {name}; the order must be exactly that."
        ))));
    }
    if held_phone != phone_key {
        return Err(CheckoutError::Hold(HoldProblem::Mismatch(
            "Use the phone number you joined the line with.".to_owned(),
        )));
    }
    let quantity = order.lines[0].1;
    Ok(UsableHold {
        id: hold_id,
        ticket_id,
        line: line_view(product_id, name, unit_price, quantity)?,
    })
}

/// The hold becomes the order: its units were taken out of stock when it was granted, so there is
/// no second decrement. The state guard makes a second use impossible.
fn use_hold(c: &Connection, hold: &UsableHold, order_id: i64, now: &Now) -> Result<(), StoreError> {
    let used = c
        .prepare_cached(
            "UPDATE holds SET state = 'used', order_id = ? WHERE id = ? AND state = 'live'",
        )
        .and_then(|mut s| s.execute(params![order_id, hold.id]))
        .map_err(db_error)?;
    if used != 1 {
        return Err(StoreError::Unexpected(
            "hold changed inside the write lock".into(),
        ));
    }
    c.prepare_cached("UPDATE queue_tickets SET state = 'ordered', updated_at = ? WHERE id = ?")
        .and_then(|mut s| s.execute(params![now.text, hold.ticket_id]))
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
    Err(StoreError::Unexpected("could not find a free order code".into()).into())
}
