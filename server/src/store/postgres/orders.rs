//! One order inside a desk batch's transaction on Postgres: the same steps as the SQLite order
//! path, deciding with the same rules (`app::rules`); what differs is the row locks and the key
//! another server may commit first.

use super::classify;
use crate::store::clock::{fingerprint_hash, Now};
use crate::store::rows::{self, FactsRow, HoldRow};
use crate::store::sql::Conn;
use app::domain::{
    Customer, IdempotencyKey, NewOrder, OrderCode, OrderStatus, OrderView, Quantity,
};
use app::rules::{self, HoldFacts, HoldState, Line, ProductFacts, SaleFacts, TicketState};
use app::store::{CheckoutError, StoreError};
use sqlx::PgConnection;

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
            let hold = hold_facts(c, hold_id).await?;
            let line = rules::check_hold(hold.as_ref(), &order.lines, &phone_key, now)?;
            (vec![line.view()?], hold)
        }
        None => {
            let mut lines = Vec::with_capacity(order.lines.len());
            for (product_id, quantity) in &order.lines {
                lines.push(
                    take_stock(c, *product_id, *quantity, &phone_key, now)
                        .await?
                        .view()?,
                );
            }
            (lines, None)
        }
    };
    let total = rules::order_total(&lines)?;
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
        return Err(StoreError::KeyRaced.into());
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
        pay_by: None,
        tracking_number: String::new(),
        live_token: String::new(),
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
    rules::replay_allowed(&hash, fingerprint)?;
    let code = OrderCode::parse(&code).map_err(StoreError::unexpected)?;
    let order = crate::store::sql_reads::load_order(&mut Conn::Postgres(c), &code)
        .await?
        .ok_or_else(|| StoreError::unexpected("idempotency key without its order"))?;
    Ok(Some(order))
}

macro_rules! product_facts_sql {
    () => {
        "SELECT p.name, p.price_cents, p.stock, p.archived, p.max_per_order, s.starts_at, \
         s.ends_at, s.sale_price_cents, s.per_customer_limit, s.waiting_room FROM products p \
         LEFT JOIN sales s ON s.product_id = p.id AND s.ends_at > $2 WHERE p.id = $1"
    };
}

/// Whether reading a product locks its row until the transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lock {
    Row,
    None,
}

/// A product and its sale (announced or running) as the rules need them. With `Lock::Row` the
/// product row is locked: another server's desk cannot change its stock until this transaction
/// ends, so the rules' stock check stands.
pub(super) async fn product_facts(
    c: &mut PgConnection,
    product_id: i64,
    now: &Now,
    lock: Lock,
) -> Result<Option<(ProductFacts, Option<SaleFacts>)>, StoreError> {
    let row: Option<FactsRow> = sqlx::query_as(match lock {
        Lock::Row => concat!(product_facts_sql!(), " FOR NO KEY UPDATE OF p"),
        Lock::None => product_facts_sql!(),
    })
    .bind(product_id)
    .bind(&now.text)
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
    Ok(row.map(|row| rows::product_facts(product_id, row)))
}

/// One line without a hold: load (and lock) the product and its sale, let the rules decide, then
/// take the units with a conditional decrement (and count them against the phone's allowance).
async fn take_stock(
    c: &mut PgConnection,
    product_id: i64,
    quantity: Quantity,
    phone_key: &str,
    now: &Now,
) -> Result<Line, CheckoutError> {
    let facts = product_facts(c, product_id, now, Lock::Row).await?;
    let (product, sale) = match &facts {
        Some((p, s)) => (Some(p), s.as_ref()),
        None => (None, None),
    };
    let already = match rules::limit_in_force(sale, now) {
        Some(_) => units_bought(c, product_id, phone_key).await?,
        None => 0,
    };
    let line = rules::decide_line(product_id, quantity, product, sale, already, now)?;
    let done = sqlx::query("UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1")
        .bind(line.units())
        .bind(product_id)
        .execute(&mut *c)
        .await
        .map_err(classify)?;
    if done.rows_affected() != 1 {
        return Err(StoreError::unexpected("stock changed under its row lock").into());
    }
    if line.counts_against_limit {
        add_units(c, product_id, phone_key, line.units()).await?;
    }
    Ok(line)
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
    taken: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO customer_units (product_id, phone_key, units) VALUES ($1, $2, $3) \
         ON CONFLICT (product_id, phone_key) DO UPDATE SET units = customer_units.units + $3",
    )
    .bind(product_id)
    .bind(phone_key)
    .bind(taken)
    .execute(&mut *c)
    .await
    .map(|_| ())
    .map_err(classify)
}

/// Gives `returned` units back to a phone number's allowance, as the rules say.
pub(super) async fn return_units(
    c: &mut PgConnection,
    product_id: i64,
    phone_key: &str,
    returned: i64,
) -> Result<(), StoreError> {
    let had = units_bought(c, product_id, phone_key).await?;
    sqlx::query("UPDATE customer_units SET units = $3 WHERE product_id = $1 AND phone_key = $2")
        .bind(product_id)
        .bind(phone_key)
        .bind(rules::allowance_after_return(had, returned))
        .execute(&mut *c)
        .await
        .map(|_| ())
        .map_err(classify)
}

/// The hold an order names, as the rules need it, locked: another server's desk cannot use or
/// expire it meanwhile.
async fn hold_facts(c: &mut PgConnection, hold_id: i64) -> Result<Option<HoldFacts>, StoreError> {
    let row: Option<HoldRow> = sqlx::query_as(
        "SELECT h.ticket_id, h.product_id, h.phone_key, h.quantity, h.unit_price_cents, h.state, \
         h.expires_at, p.name, p.archived FROM holds h JOIN products p ON p.id = h.product_id \
         WHERE h.id = $1 FOR NO KEY UPDATE OF h",
    )
    .bind(hold_id)
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
    row.map(|row| rows::hold_facts(hold_id, row)).transpose()
}

async fn use_hold(
    c: &mut PgConnection,
    hold: &HoldFacts,
    order_id: i64,
    now: &Now,
) -> Result<(), StoreError> {
    let used =
        sqlx::query("UPDATE holds SET state = $1, order_id = $2 WHERE id = $3 AND state = $4")
            .bind(HoldState::Used.as_str())
            .bind(order_id)
            .bind(hold.id)
            .bind(HoldState::Live.as_str())
            .execute(&mut *c)
            .await
            .map_err(classify)?;
    if used.rows_affected() != 1 {
        return Err(StoreError::Unexpected(
            "hold changed under its row lock".into(),
        ));
    }
    sqlx::query("UPDATE queue_tickets SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(TicketState::Ordered.as_str())
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
    Err(StoreError::unexpected("could not find a free order code").into())
}
