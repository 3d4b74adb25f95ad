//! One order inside a desk batch's transaction on Postgres: the same steps as the SQLite order
//! path (idempotency check, conditional decrement or hold, sale rules, order, lines, key).

use super::classify;
use crate::store::clock::{fingerprint_hash, Now};
use app::domain::{
    Customer, IdempotencyKey, NewOrder, OrderCode, OrderLineView, OrderStatus, OrderView, Quantity,
};
use app::store::{CheckoutError, HoldProblem, StoreError};
use sqlx::PgConnection;

/// The sign that another server committed the same idempotency key first.
pub(super) const KEY_RACED: &str = "idempotency key committed by another server meanwhile";

pub(super) async fn place_in_tx(
    c: &mut PgConnection,
    order: &NewOrder,
    now: &Now,
) -> Result<OrderView, CheckoutError> {
    let fingerprint = fingerprint_hash(&order.fingerprint());
    if let Some(existing) = replay(c, &order.idempotency_key, &fingerprint).await? {
        return Ok(existing);
    }
    let phone_key = order.customer.phone.key();
    let (lines, hold) = match order.hold {
        Some(hold_id) => {
            let hold = check_hold(c, hold_id, order, &phone_key, now).await?;
            (vec![hold.line.clone()], Some(hold))
        }
        None => {
            let mut lines = Vec::with_capacity(order.lines.len());
            for (product_id, quantity) in &order.lines {
                lines.push(take_stock(c, *product_id, *quantity, &phone_key, now).await?);
            }
            (lines, None)
        }
    };
    let total = lines.iter().try_fold(0_i64, |sum, l| {
        sum.checked_add(l.line_total_cents)
            .ok_or_else(|| StoreError::Unexpected("order total overflows".into()))
    })?;
    let (order_id, code) = insert_order(c, &order.customer, total, &now.text).await?;
    for line in &lines {
        sqlx::query(
            "INSERT INTO order_lines (order_id, product_id, product_name, unit_price_cents, quantity) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(order_id)
        .bind(line.product_id)
        .bind(&line.product_name)
        .bind(line.unit_price_cents)
        .bind(i64::from(line.quantity))
        .execute(&mut *c)
        .await
        .map_err(classify)?;
    }
    if let Some(hold) = hold {
        use_hold(c, &hold, order_id, now).await?;
    }
    // Another server may have taken this key since the replay check: its insert made ours wait
    // for its commit. Then this attempt is undone and the order replayed (see the writer).
    let recorded: Option<(String,)> = sqlx::query_as(
        "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING RETURNING key",
    )
    .bind(order.idempotency_key.as_str())
    .bind(&fingerprint)
    .bind(order_id)
    .bind(&now.text)
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
    if recorded.is_none() {
        return Err(StoreError::Busy(KEY_RACED.to_owned()).into());
    }
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

async fn replay(
    c: &mut PgConnection,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<OrderView>, CheckoutError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT k.request_hash, o.code FROM idempotency_keys k JOIN orders o ON o.id = k.order_id \
         WHERE k.key = $1",
    )
    .bind(key.as_str())
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
    let Some((hash, code)) = row else {
        return Ok(None);
    };
    if hash != fingerprint {
        return Err(CheckoutError::KeyReused);
    }
    let code = OrderCode::parse(&code).map_err(StoreError::Unexpected)?;
    let order = super::reads::load_order(c, &code)
        .await?
        .ok_or_else(|| StoreError::Unexpected("idempotency key without its order".into()))?;
    Ok(Some(order))
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

async fn take_stock(
    c: &mut PgConnection,
    product_id: i64,
    quantity: Quantity,
    phone_key: &str,
    now: &Now,
) -> Result<OrderLineView, CheckoutError> {
    let q = i64::from(quantity.get());
    let taken: Option<(String, i64)> = sqlx::query_as(
        "UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1 \
         AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.product_id = $2 AND s.ends_at > $3) \
         RETURNING name, price_cents",
    )
    .bind(q)
    .bind(product_id)
    .bind(&now.text)
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
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
    let found: Option<Row> = sqlx::query_as(
        "SELECT p.name, p.stock, s.starts_at, s.sale_price_cents, s.per_customer_limit, s.waiting_room \
         FROM products p LEFT JOIN sales s ON s.product_id = p.id AND s.ends_at > $2 WHERE p.id = $1",
    )
    .bind(product_id)
    .bind(&now.text)
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
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
        let already = units_bought(c, product_id, phone_key).await?;
        if already + q > limit {
            return Err(CheckoutError::LimitReached {
                product_id,
                product_name,
                limit,
                already,
            });
        }
    }
    let done = sqlx::query("UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1")
        .bind(q)
        .bind(product_id)
        .execute(&mut *c)
        .await
        .map_err(classify)?;
    if done.rows_affected() != 1 {
        return Err(CheckoutError::SoldOut {
            product_id,
            product_name,
            available,
        });
    }
    if limit.is_some() {
        add_units(c, product_id, phone_key, q).await?;
    }
    Ok(line_view(product_id, product_name, sale_price, quantity)?)
}

pub(super) async fn units_bought(
    c: &mut PgConnection,
    product_id: i64,
    phone_key: &str,
) -> Result<i64, StoreError> {
    let units: Option<(i64,)> =
        sqlx::query_as("SELECT units FROM customer_units WHERE product_id = $1 AND phone_key = $2")
            .bind(product_id)
            .bind(phone_key)
            .fetch_optional(&mut *c)
            .await
            .map_err(classify)?;
    Ok(units.map_or(0, |(u,)| u))
}

pub(super) async fn add_units(
    c: &mut PgConnection,
    product_id: i64,
    phone_key: &str,
    delta: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO customer_units (product_id, phone_key, units) VALUES ($1, $2, GREATEST($3, 0)) \
         ON CONFLICT (product_id, phone_key) \
         DO UPDATE SET units = GREATEST(customer_units.units + $3, 0)",
    )
    .bind(product_id)
    .bind(phone_key)
    .bind(delta)
    .execute(&mut *c)
    .await
    .map(|_| ())
    .map_err(classify)
}

struct UsableHold {
    id: i64,
    ticket_id: i64,
    line: OrderLineView,
}

async fn check_hold(
    c: &mut PgConnection,
    hold_id: i64,
    order: &NewOrder,
    phone_key: &str,
    now: &Now,
) -> Result<UsableHold, CheckoutError> {
    type Row = (i64, i64, String, i64, i64, String, String, String);
    // the row lock: another server's desk cannot use or expire this hold meanwhile
    let row: Option<Row> = sqlx::query_as(
        "SELECT h.ticket_id, h.product_id, h.phone_key, h.quantity, h.unit_price_cents, h.state, \
         h.expires_at, p.name FROM holds h JOIN products p ON p.id = h.product_id WHERE h.id = $1 \
         FOR NO KEY UPDATE OF h",
    )
    .bind(hold_id)
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
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

async fn use_hold(
    c: &mut PgConnection,
    hold: &UsableHold,
    order_id: i64,
    now: &Now,
) -> Result<(), StoreError> {
    let used = sqlx::query(
        "UPDATE holds SET state = 'used', order_id = $1 WHERE id = $2 AND state = 'live'",
    )
    .bind(order_id)
    .bind(hold.id)
    .execute(&mut *c)
    .await
    .map_err(classify)?;
    if used.rows_affected() != 1 {
        return Err(StoreError::Unexpected(
            "hold changed under its row lock".into(),
        ));
    }
    sqlx::query("UPDATE queue_tickets SET state = 'ordered', updated_at = $1 WHERE id = $2")
        .bind(&now.text)
        .bind(hold.ticket_id)
        .execute(&mut *c)
        .await
        .map(|_| ())
        .map_err(classify)
}

async fn insert_order(
    c: &mut PgConnection,
    customer: &Customer,
    total: i64,
    created_at: &str,
) -> Result<(i64, OrderCode), CheckoutError> {
    for _ in 0..8 {
        let code = OrderCode::from_random_bytes(rand::random());
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code) DO NOTHING RETURNING id",
        )
        .bind(code.as_str())
        .bind(OrderStatus::AwaitingPayment.as_str())
        .bind(customer.name.as_str())
        .bind(customer.phone.as_str())
        .bind(customer.address.as_str())
        .bind(customer.note.as_str())
        .bind(total)
        .bind(created_at)
        .fetch_optional(&mut *c)
        .await
        .map_err(classify)?;
        if let Some((id,)) = id {
            return Ok((id, code));
        }
    }
    Err(StoreError::Unexpected("could not find a free order code".into()).into())
}
