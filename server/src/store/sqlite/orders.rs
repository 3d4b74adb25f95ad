//! One order inside a desk batch's transaction: the idempotency check, a conditional stock
//! decrement per line (or turning a waiting-room hold into the order), the sale rules, the order
//! and its lines at the database's prices, and the idempotency key.

use super::{classify, fingerprint_hash, Now, Tx};
use app::domain::{
    Customer, IdempotencyKey, NewOrder, OrderCode, OrderLineView, OrderStatus, OrderView, Quantity,
};
use app::store::{CheckoutError, HoldProblem, StoreError};
use sqlx::SqliteConnection;

pub(super) async fn place_in_tx(
    tx: &mut Tx,
    order: &NewOrder,
    now: &Now,
) -> Result<OrderView, CheckoutError> {
    let fingerprint = fingerprint_hash(&order.fingerprint());
    if let Some(existing) = replay(tx, &order.idempotency_key, &fingerprint).await? {
        return Ok(existing);
    }

    let phone_key = order.customer.phone.key();
    // Every refusal happens before the first write, so a one-line order needs no savepoint.
    let (lines, hold) = match order.hold {
        Some(hold_id) => {
            let hold = check_hold(tx, hold_id, order, &phone_key, now).await?;
            (vec![hold.line.clone()], Some(hold))
        }
        None => {
            let mut lines = Vec::with_capacity(order.lines.len());
            for (product_id, quantity) in &order.lines {
                lines.push(take_stock(tx, *product_id, *quantity, &phone_key, now).await?);
            }
            (lines, None)
        }
    };
    let total = lines.iter().try_fold(0_i64, |sum, l| {
        sum.checked_add(l.line_total_cents)
            .ok_or_else(|| StoreError::Unexpected("order total overflows".into()))
    })?;

    let (order_id, code) = insert_order(tx, &order.customer, total, &now.text).await?;
    for line in &lines {
        sqlx::query(
            "INSERT INTO order_lines (order_id, product_id, product_name, unit_price_cents, quantity) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(order_id)
        .bind(line.product_id)
        .bind(&line.product_name)
        .bind(line.unit_price_cents)
        .bind(i64::from(line.quantity))
        .execute(&mut **tx)
        .await
        .map_err(classify)?;
    }
    if let Some(hold) = hold {
        use_hold(tx, &hold, order_id, now).await?;
    }
    sqlx::query(
        "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(order.idempotency_key.as_str())
    .bind(&fingerprint)
    .bind(order_id)
    .bind(&now.text)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;

    let c = &order.customer;
    Ok(OrderView {
        order_code: code,
        status: OrderStatus::AwaitingPayment,
        total_cents: total,
        lines,
        customer_name: c.name.as_str().to_owned(),
        phone: c.phone.as_str().to_owned(),
        address: c.address.as_str().to_owned(),
        note: c.note.as_str().to_owned(),
        created_at: now.text.clone(),
    })
}

/// If this key was used before: the first order (same request) or `KeyReused` (different one).
async fn replay(
    tx: &mut Tx,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<OrderView>, CheckoutError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT k.request_hash, o.code FROM idempotency_keys k JOIN orders o ON o.id = k.order_id \
         WHERE k.key = ?",
    )
    .bind(key.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(classify)?;
    let Some((hash, code)) = row else {
        return Ok(None);
    };
    if hash != fingerprint {
        return Err(CheckoutError::KeyReused);
    }
    let code = OrderCode::parse(&code).map_err(StoreError::Unexpected)?;
    let order = load_order(tx, &code)
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

/// The conditional decrement: succeeds only if enough stock is there at this instant. The fast
/// path is for products with no sale announced or running; the rest take the sale path.
async fn take_stock(
    tx: &mut Tx,
    product_id: i64,
    quantity: Quantity,
    phone_key: &str,
    now: &Now,
) -> Result<OrderLineView, CheckoutError> {
    let q = i64::from(quantity.get());
    let taken: Option<(String, i64)> = sqlx::query_as(
        "UPDATE products SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1 \
         AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.product_id = ?2 AND s.ends_at > ?3) \
         RETURNING name, price_cents",
    )
    .bind(q)
    .bind(product_id)
    .bind(&now.text)
    .fetch_optional(&mut **tx)
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
         FROM products p LEFT JOIN sales s ON s.product_id = p.id AND s.ends_at > ?2 \
         WHERE p.id = ?1",
    )
    .bind(product_id)
    .bind(&now.text)
    .fetch_optional(&mut **tx)
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
        let already = units_bought(tx, product_id, phone_key).await?;
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
    // the batch's transaction holds the write lock: the check above still stands, but the
    // decrement stays conditional so the CHECK (stock >= 0) can never be the thing that saves us
    let done = sqlx::query("UPDATE products SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1")
        .bind(q)
        .bind(product_id)
        .execute(&mut **tx)
        .await
        .map_err(classify)?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Unexpected("stock changed inside the write lock".into()).into());
    }
    if limit.is_some() {
        add_units(tx, product_id, phone_key, q).await?;
    }
    Ok(line_view(product_id, product_name, sale_price, quantity)?)
}

/// Units this phone number bought (or holds) of a product during its limited sale.
pub(super) async fn units_bought(
    tx: &mut Tx,
    product_id: i64,
    phone_key: &str,
) -> Result<i64, StoreError> {
    let units: Option<(i64,)> =
        sqlx::query_as("SELECT units FROM customer_units WHERE product_id = ? AND phone_key = ?")
            .bind(product_id)
            .bind(phone_key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(classify)?;
    Ok(units.map_or(0, |(u,)| u))
}

/// Adds (or, negative, takes back) units to a phone number's count for a product.
pub(super) async fn add_units(
    tx: &mut Tx,
    product_id: i64,
    phone_key: &str,
    delta: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO customer_units (product_id, phone_key, units) VALUES (?1, ?2, MAX(?3, 0)) \
         ON CONFLICT (product_id, phone_key) DO UPDATE SET units = MAX(units + ?3, 0)",
    )
    .bind(product_id)
    .bind(phone_key)
    .bind(delta)
    .execute(&mut **tx)
    .await
    .map(|_| ())
    .map_err(classify)
}

/// A live hold that matches the order, ready to be used.
struct UsableHold {
    id: i64,
    ticket_id: i64,
    line: OrderLineView,
}

/// Checks that the hold exists, is live and unexpired, and is for exactly what the order asks.
async fn check_hold(
    tx: &mut Tx,
    hold_id: i64,
    order: &NewOrder,
    phone_key: &str,
    now: &Now,
) -> Result<UsableHold, CheckoutError> {
    type Row = (i64, i64, String, i64, i64, String, String, String);
    let row: Option<Row> = sqlx::query_as(
        "SELECT h.ticket_id, h.product_id, h.phone_key, h.quantity, h.unit_price_cents, h.state, \
         h.expires_at, p.name FROM holds h JOIN products p ON p.id = h.product_id WHERE h.id = ?",
    )
    .bind(hold_id)
    .fetch_optional(&mut **tx)
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

/// The hold becomes the order: its units were taken out of stock when it was granted, so there is
/// no second decrement. The state guard makes a second use impossible.
async fn use_hold(
    tx: &mut Tx,
    hold: &UsableHold,
    order_id: i64,
    now: &Now,
) -> Result<(), StoreError> {
    let used = sqlx::query(
        "UPDATE holds SET state = 'used', order_id = ? WHERE id = ? AND state = 'live'",
    )
    .bind(order_id)
    .bind(hold.id)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    if used.rows_affected() != 1 {
        return Err(StoreError::Unexpected(
            "hold changed inside the write lock".into(),
        ));
    }
    sqlx::query("UPDATE queue_tickets SET state = 'ordered', updated_at = ? WHERE id = ?")
        .bind(&now.text)
        .bind(hold.ticket_id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
        .map_err(classify)
}

/// Inserts the order under a fresh random code (retrying on the rare collision).
async fn insert_order(
    tx: &mut Tx,
    customer: &Customer,
    total: i64,
    created_at: &str,
) -> Result<(i64, OrderCode), CheckoutError> {
    for _ in 0..8 {
        let code = OrderCode::from_random_bytes(rand::random());
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO NOTHING RETURNING id",
        )
        .bind(code.as_str())
        .bind(OrderStatus::AwaitingPayment.as_str())
        .bind(customer.name.as_str())
        .bind(customer.phone.as_str())
        .bind(customer.address.as_str())
        .bind(customer.note.as_str())
        .bind(total)
        .bind(created_at)
        .fetch_optional(&mut **tx)
        .await
        .map_err(classify)?;
        if let Some((id,)) = id {
            return Ok((id, code));
        }
    }
    Err(StoreError::Unexpected("could not find a free order code".into()).into())
}

pub(super) async fn load_order(
    conn: &mut SqliteConnection,
    code: &OrderCode,
) -> Result<Option<OrderView>, StoreError> {
    type OrderRow = (i64, String, String, String, String, String, i64, String);
    let row: Option<OrderRow> = sqlx::query_as(
        "SELECT id, status, customer_name, phone, address, note, total_cents, created_at \
         FROM orders WHERE code = ?",
    )
    .bind(code.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(classify)?;
    let Some((id, status, customer_name, phone, address, note, total_cents, created_at)) = row
    else {
        return Ok(None);
    };
    let lines: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT product_id, product_name, unit_price_cents, quantity FROM order_lines \
         WHERE order_id = ? ORDER BY product_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(classify)?;
    let status = OrderStatus::parse(&status)
        .ok_or_else(|| StoreError::Unexpected(format!("unknown order status {status}")))?;
    let lines = lines
        .into_iter()
        .map(|(product_id, product_name, unit_price_cents, quantity)| {
            Ok(OrderLineView {
                product_id,
                product_name,
                unit_price_cents,
                quantity: u32::try_from(quantity)
                    .map_err(|_| StoreError::Unexpected("bad stored quantity".into()))?,
                line_total_cents: unit_price_cents.saturating_mul(quantity),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(OrderView {
        order_code: code.clone(),
        status,
        total_cents,
        lines,
        customer_name,
        phone,
        address,
        note,
        created_at,
    }))
}
