//! The surge's common case on Postgres, set-based: the plain orders of a desk batch (no hold, only
//! products with no sale running, a key never seen) are placed with a fixed handful of statements
//! for the whole batch — one locking read of the products, one decrement per product, one
//! multi-row insert each for orders, lines and keys — instead of several round trips per order.
//! Stock is shared out in the batch's arrival order by the same rules (`app::rules`), so the
//! answers are the ones the one-by-one path would give. Everything else (holds, sales, replays, anything unusual) is left to
//! that path, which runs after this in the same transaction.

use super::classify;
use crate::store::clock::{fingerprint_hash, Now};
use crate::store::jobs::WriteJob;
use crate::store::rows;
use app::domain::{NewOrder, OrderCode, OrderLineView, OrderStatus, OrderView};
use app::rules::{self, ProductFacts};
use app::store::{CheckoutError, StoreError};
use sqlx::PgConnection;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Below this many plain orders the one-by-one path is as quick.
const MIN_BULK: usize = 4;

/// One answer per job: `Some` when this path answered it, `None` when the one-by-one path must.
pub(super) type BulkAnswers = Vec<Option<Result<OrderView, CheckoutError>>>;

/// Answers what it can of `jobs`. On any surprise (an order code or a key taken meanwhile by
/// another server) it undoes its writes and answers nothing, leaving every order to the
/// one-by-one path, which copes with those cases.
pub(super) async fn place_plain_orders(
    c: &mut PgConnection,
    jobs: &[WriteJob],
    now: &Now,
) -> Result<BulkAnswers, StoreError> {
    let mut answers: BulkAnswers = jobs.iter().map(|_| None).collect();
    let mut seen_keys = HashSet::new();
    let candidates: Vec<(usize, &NewOrder)> = jobs
        .iter()
        .enumerate()
        .filter_map(|(i, job)| match job {
            WriteJob::Order(order) if order.hold.is_none() => Some((i, order)),
            _ => None,
        })
        // a repeat of a key within the batch is a retry: the one-by-one path replays it after
        .filter(|(_, order)| seen_keys.insert(order.idempotency_key.as_str()))
        .collect();
    if candidates.len() < MIN_BULK {
        return Ok(answers);
    }
    let keys: Vec<&str> = candidates
        .iter()
        .map(|(_, o)| o.idempotency_key.as_str())
        .collect();
    let known: Vec<(String,)> =
        sqlx::query_as("SELECT key FROM idempotency_keys WHERE key = ANY($1)")
            .bind(&keys)
            .fetch_all(&mut *c)
            .await
            .map_err(classify)?;
    let known: HashSet<String> = known.into_iter().map(|(k,)| k).collect();
    let product_ids: Vec<i64> = candidates
        .iter()
        .flat_map(|(_, o)| o.lines.iter().map(|(id, _)| *id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // locked in id order, the same order every order's lines lock them in; a product with a sale
    // announced or running is left to the one-by-one path
    let rows: Vec<(i64, String, i64, i64, bool, Option<i64>)> = sqlx::query_as(
        "SELECT p.id, p.name, p.price_cents, p.stock, p.archived, p.max_per_order FROM products p \
         WHERE p.id = ANY($1) \
         AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.product_id = p.id AND s.ends_at > $2) \
         ORDER BY p.id FOR NO KEY UPDATE",
    )
    .bind(&product_ids)
    .bind(&now.text)
    .fetch_all(&mut *c)
    .await
    .map_err(classify)?;
    let mut products: HashMap<i64, ProductFacts> = rows
        .into_iter()
        .map(|(id, name, price_cents, stock, archived, max_per_order)| {
            let row = (name, price_cents, stock, archived, max_per_order);
            (id, rows::product_only(id, row))
        })
        .collect();

    let mut placed: Vec<(usize, &NewOrder, Vec<OrderLineView>, i64)> = Vec::new();
    let mut taken: HashMap<i64, i64> = HashMap::new();
    for (i, order) in candidates {
        let plain = !known.contains(order.idempotency_key.as_str())
            && order.lines.iter().all(|(id, _)| products.contains_key(id));
        if !plain {
            continue;
        }
        match share_out(&mut products, order, now) {
            Ok((lines, total)) => {
                for line in &lines {
                    *taken.entry(line.product_id).or_default() += i64::from(line.quantity);
                }
                placed.push((i, order, lines, total));
            }
            Err(refused) => answers[i] = Some(Err(refused)),
        }
    }
    if placed.is_empty() {
        return Ok(answers);
    }
    execute(c, "SAVEPOINT bulk").await?;
    match write(c, &placed, &taken, now).await? {
        Some(views) => {
            execute(c, "RELEASE SAVEPOINT bulk").await?;
            for ((i, ..), view) in placed.iter().zip(views) {
                answers[*i] = Some(Ok(view));
            }
            Ok(answers)
        }
        None => {
            execute(c, "ROLLBACK TO SAVEPOINT bulk").await?;
            execute(c, "RELEASE SAVEPOINT bulk").await?;
            Ok(jobs.iter().map(|_| None).collect())
        }
    }
}

/// One order, decided by the same rules as the one-by-one path against what the batch has left
/// of each product: all its lines or none. Its lines and total, or the first line's refusal.
fn share_out(
    products: &mut HashMap<i64, ProductFacts>,
    order: &NewOrder,
    now: &Now,
) -> Result<(Vec<OrderLineView>, i64), CheckoutError> {
    let mut lines = Vec::with_capacity(order.lines.len());
    for (id, quantity) in &order.lines {
        // no sale is in force for these products (they were read without one)
        let line = rules::decide_line(*id, *quantity, products.get(id), None, 0, now)?;
        lines.push(line.view()?);
    }
    for line in &lines {
        if let Some(product) = products.get_mut(&line.product_id) {
            product.stock -= i64::from(line.quantity);
        }
    }
    let total = rules::order_total(&lines)?;
    Ok((lines, total))
}

/// The writes, set-based. `None` when an order code or a key turned out to be taken already.
async fn write(
    c: &mut PgConnection,
    placed: &[(usize, &NewOrder, Vec<OrderLineView>, i64)],
    taken: &HashMap<i64, i64>,
    now: &Now,
) -> Result<Option<Vec<OrderView>>, StoreError> {
    let (ids, units): (Vec<i64>, Vec<i64>) = taken.iter().map(|(id, q)| (*id, *q)).unzip();
    let decremented = sqlx::query(
        "UPDATE products SET stock = products.stock - d.units \
         FROM unnest($1::BIGINT[], $2::BIGINT[]) AS d(id, units) WHERE products.id = d.id",
    )
    .bind(&ids)
    .bind(&units)
    .execute(&mut *c)
    .await
    .map_err(classify)?;
    if decremented.rows_affected() != ids.len() as u64 {
        return Err(StoreError::Unexpected(
            "a locked product changed under the batch".into(),
        ));
    }

    let mut codes = Vec::with_capacity(placed.len());
    let mut unique = HashSet::new();
    while codes.len() < placed.len() {
        let code = OrderCode::from_random_bytes(rand::random());
        if unique.insert(code.as_str().to_owned()) {
            codes.push(code);
        }
    }
    let code_texts: Vec<&str> = codes.iter().map(OrderCode::as_str).collect();
    let names: Vec<&str> = placed.iter().map(|p| p.1.customer.name.as_str()).collect();
    let phones: Vec<&str> = placed.iter().map(|p| p.1.customer.phone.as_str()).collect();
    let addresses: Vec<&str> = placed
        .iter()
        .map(|p| p.1.customer.address.as_str())
        .collect();
    let notes: Vec<&str> = placed.iter().map(|p| p.1.customer.note.as_str()).collect();
    let totals: Vec<i64> = placed.iter().map(|p| p.3).collect();
    let inserted: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents, created_at) \
         SELECT o.code, $1, o.name, o.phone, o.address, o.note, o.total, $2 \
         FROM unnest($3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::BIGINT[]) \
              AS o(code, name, phone, address, note, total) \
         ON CONFLICT (code) DO NOTHING RETURNING id, code",
    )
    .bind(OrderStatus::AwaitingPayment.as_str())
    .bind(&now.text)
    .bind(&code_texts)
    .bind(&names)
    .bind(&phones)
    .bind(&addresses)
    .bind(&notes)
    .bind(&totals)
    .fetch_all(&mut *c)
    .await
    .map_err(classify)?;
    if inserted.len() != placed.len() {
        return Ok(None);
    }
    let order_ids: HashMap<String, i64> =
        inserted.into_iter().map(|(id, code)| (code, id)).collect();
    let order_id = |code: &OrderCode| {
        order_ids
            .get(code.as_str())
            .copied()
            .ok_or_else(|| StoreError::unexpected("an inserted order has no id"))
    };

    let mut line_orders = Vec::new();
    let mut line_products = Vec::new();
    let mut line_names = Vec::new();
    let mut line_prices = Vec::new();
    let mut line_quantities = Vec::new();
    for ((_, _, lines, _), code) in placed.iter().zip(&codes) {
        let id = order_id(code)?;
        for line in lines {
            line_orders.push(id);
            line_products.push(line.product_id);
            line_names.push(line.product_name.as_str());
            line_prices.push(line.unit_price_cents);
            line_quantities.push(i64::from(line.quantity));
        }
    }
    sqlx::query(
        "INSERT INTO order_lines (order_id, product_id, product_name, unit_price_cents, quantity) \
         SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[])",
    )
    .bind(&line_orders)
    .bind(&line_products)
    .bind(&line_names)
    .bind(&line_prices)
    .bind(&line_quantities)
    .execute(&mut *c)
    .await
    .map_err(classify)?;

    let keys: Vec<&str> = placed
        .iter()
        .map(|p| p.1.idempotency_key.as_str())
        .collect();
    let hashes: Vec<String> = placed
        .iter()
        .map(|p| fingerprint_hash(&p.1.fingerprint()))
        .collect();
    let key_orders = codes.iter().map(order_id).collect::<Result<Vec<_>, _>>()?;
    // a key another server committed since the check above makes its insert wait, then skip
    let recorded = sqlx::query(
        "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) \
         SELECT k.key, k.hash, k.order_id, $4 FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[]) \
              AS k(key, hash, order_id) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(&keys)
    .bind(&hashes)
    .bind(&key_orders)
    .bind(&now.text)
    .execute(&mut *c)
    .await
    .map_err(classify)?;
    if recorded.rows_affected() != placed.len() as u64 {
        return Ok(None);
    }

    let views = placed
        .iter()
        .zip(codes)
        .map(|((_, order, lines, total), code)| OrderView {
            order_code: code,
            status: OrderStatus::AwaitingPayment,
            total_cents: *total,
            lines: lines.clone(),
            customer_name: order.customer.name.as_str().to_owned(),
            phone: order.customer.phone.as_str().to_owned(),
            address: order.customer.address.as_str().to_owned(),
            note: order.customer.note.as_str().to_owned(),
            created_at: now.text.clone(),
            pay_by: None,
            tracking_number: String::new(),
            live_token: String::new(),
        })
        .collect();
    Ok(Some(views))
}

async fn execute(c: &mut PgConnection, sql: &'static str) -> Result<(), StoreError> {
    sqlx::query(sql)
        .execute(&mut *c)
        .await
        .map(|_| ())
        .map_err(classify)
}
