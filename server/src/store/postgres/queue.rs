//! The waiting room's writes on Postgres, inside desk batches: the same rules as the SQLite
//! waiting room (`store::sqlite::queue`). Arrival ranks come from one sequence, so the line is
//! one line however many servers take joins.

use super::classify;
use super::orders::{product_facts, return_units, units_bought, Lock};
use crate::store::clock::Now;
use app::domain::JoinRequest;
use app::rules::{self, HoldState, Placing, SoldOutWalk, TicketState, Turn, ARRIVAL_RANKS};
use app::store::{AdmissionRound, JoinError, StoreError};
use sqlx::PgConnection;
use std::collections::HashMap;

const PAGE: i64 = 512;

pub(super) async fn join_in_tx(
    c: &mut PgConnection,
    request: &JoinRequest,
    now: &Now,
) -> Result<i64, JoinError> {
    let product_id = request.product_id;
    let phone_key = request.phone.key();
    // not locked: joins before the start touch no stock, and serving the line locks the row
    let facts = product_facts(c, product_id, now, Lock::None).await?;
    let (product, sale) = match &facts {
        Some((p, s)) => (Some(p), s.as_ref()),
        None => (None, None),
    };
    let in_line: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM queue_tickets WHERE product_id = $1 AND phone_key = $2 \
         AND state IN ('waiting', 'admitted')",
    )
    .bind(product_id)
    .bind(&phone_key)
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
    let already = match rules::limit_in_force(sale, now) {
        Some(_) => units_bought(c, product_id, &phone_key).await?,
        None => 0,
    };
    let placing = rules::decide_join(
        product_id,
        request.quantity,
        product,
        sale,
        in_line.map(|(id,)| id),
        already,
        now,
    )?;
    let q = i64::from(request.quantity.get());
    let started = placing == Placing::Arrival;
    let draw: i64 = rand::random_range(0..ARRIVAL_RANKS);
    // the same phone joining through another server at the same instant: keep its ticket
    let inserted: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO queue_tickets (product_id, phone_key, quantity, rank, state, joined_at, updated_at) \
         VALUES ($1, $2, $3, CASE WHEN $4 THEN $5 + nextval('queue_arrival') ELSE $6 END, \
         'waiting', $7, $7) \
         ON CONFLICT (product_id, phone_key) WHERE state IN ('waiting', 'admitted') DO NOTHING \
         RETURNING id",
    )
    .bind(product_id)
    .bind(&phone_key)
    .bind(q)
    .bind(started)
    .bind(ARRIVAL_RANKS)
    .bind(draw)
    .bind(&now.text)
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
    let Some((id,)) = inserted else {
        let (id,): (i64,) = sqlx::query_as(
            "SELECT id FROM queue_tickets WHERE product_id = $1 AND phone_key = $2 \
             AND state IN ('waiting', 'admitted')",
        )
        .bind(product_id)
        .bind(&phone_key)
        .fetch_one(&mut *c)
        .await
        .map_err(classify)?;
        return Ok(id);
    };
    if started {
        serve_line(c, product_id, now).await?;
    }
    Ok(id)
}

pub(super) async fn leave_in_tx(
    c: &mut PgConnection,
    ticket_id: i64,
    now: &Now,
) -> Result<(), StoreError> {
    let row: Option<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT product_id, state, hold_id FROM queue_tickets WHERE id = $1 FOR NO KEY UPDATE",
    )
    .bind(ticket_id)
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
    let Some((product_id, state, hold_id)) = row else {
        return Ok(());
    };
    let state = TicketState::parse(&state)
        .ok_or_else(|| StoreError::unexpected(format!("unknown ticket state {state}")))?;
    match (state, hold_id) {
        (TicketState::Waiting, _) => {}
        (TicketState::Admitted, Some(hold_id)) => {
            return_hold(c, hold_id, HoldState::Released).await?;
        }
        _ => return Ok(()),
    }
    sqlx::query(
        "UPDATE queue_tickets SET state = 'left', updated_at = $1 WHERE id = $2 \
         AND state IN ('waiting', 'admitted')",
    )
    .bind(&now.text)
    .bind(ticket_id)
    .execute(&mut *c)
    .await
    .map_err(classify)?;
    serve_line(c, product_id, now).await?;
    Ok(())
}

async fn return_hold(
    c: &mut PgConnection,
    hold_id: i64,
    end_state: HoldState,
) -> Result<bool, StoreError> {
    let ended: Option<(i64, String, i64)> = sqlx::query_as(
        "UPDATE holds SET state = $1 WHERE id = $2 AND state = 'live' \
         RETURNING product_id, phone_key, quantity",
    )
    .bind(end_state.as_str())
    .bind(hold_id)
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
    let Some((product_id, phone_key, quantity)) = ended else {
        return Ok(false);
    };
    sqlx::query("UPDATE products SET stock = stock + $1 WHERE id = $2")
        .bind(quantity)
        .bind(product_id)
        .execute(&mut *c)
        .await
        .map_err(classify)?;
    return_units(c, product_id, &phone_key, quantity).await?;
    Ok(true)
}

pub(super) async fn admission_round(
    c: &mut PgConnection,
    now: &Now,
) -> Result<AdmissionRound, StoreError> {
    let mut round = AdmissionRound::default();
    let overdue: Vec<(i64, i64)> =
        // a paused product's holds do not run out: their shoppers cannot check out meanwhile
        sqlx::query_as(
            "SELECT h.id, h.ticket_id FROM holds h WHERE h.state = 'live' AND h.expires_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, h.product_id))",
        )
            .bind(&now.text)
            .fetch_all(&mut *c)
            .await
            .map_err(classify)?;
    for (hold_id, ticket_id) in overdue {
        if return_hold(c, hold_id, HoldState::Expired).await? {
            round.holds_expired += 1;
            sqlx::query(
                "UPDATE queue_tickets SET state = 'expired', updated_at = $1 \
                 WHERE id = $2 AND state = 'admitted'",
            )
            .bind(&now.text)
            .bind(ticket_id)
            .execute(&mut *c)
            .await
            .map_err(classify)?;
        }
    }
    let closed = sqlx::query(
        "UPDATE queue_tickets SET state = 'sold_out', updated_at = $1 WHERE state = 'waiting' \
         AND product_id IN (SELECT product_id FROM sales WHERE ends_at <= $1)",
    )
    .bind(&now.text)
    .execute(&mut *c)
    .await
    .map_err(classify)?;
    round.told_sold_out += closed.rows_affected();
    let lines: Vec<(i64,)> = sqlx::query_as(
        "SELECT s.product_id FROM sales s WHERE s.waiting_room AND s.starts_at <= $1 \
         AND s.ends_at > $1 AND EXISTS (SELECT 1 FROM queue_tickets t \
         WHERE t.product_id = s.product_id AND t.state = 'waiting') \
         AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, s.product_id))",
    )
    .bind(&now.text)
    .fetch_all(&mut *c)
    .await
    .map_err(classify)?;
    for (product_id,) in lines {
        let served = serve_line(c, product_id, now).await?;
        round.admitted += served.admitted;
        round.told_sold_out += served.told_sold_out;
    }
    Ok(round)
}

async fn serve_line(
    c: &mut PgConnection,
    product_id: i64,
    now: &Now,
) -> Result<AdmissionRound, StoreError> {
    let mut round = AdmissionRound::default();
    let sale: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
        // a paused line admits nobody: it keeps its order until the owner resumes
        "SELECT hold_seconds, sale_price_cents, per_customer_limit FROM sales \
         WHERE product_id = $1 AND waiting_room AND starts_at <= $2 AND ends_at > $2 \
         AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, $1))",
    )
    .bind(product_id)
    .bind(&now.text)
    .fetch_optional(&mut *c)
    .await
    .map_err(classify)?;
    let Some((hold_seconds, price, limit)) = sale else {
        return Ok(round);
    };
    // the product row's lock serialises serving this line across servers (NO KEY UPDATE: inserts
    // referencing the product hold KEY SHARE locks on it, which FOR UPDATE would deadlock with)
    let (mut stock,): (i64,) =
        sqlx::query_as("SELECT stock FROM products WHERE id = $1 FOR NO KEY UPDATE")
            .bind(product_id)
            .fetch_one(&mut *c)
            .await
            .map_err(classify)?;
    let expires_at = now.plus_secs(hold_seconds);
    // the heads of the line a page at a time: decided in order here, written set-based (one
    // round of thousands is a few statements a page, not five round trips a shopper)
    'line: loop {
        let heads: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT id, phone_key, quantity FROM queue_tickets \
             WHERE product_id = $1 AND state = 'waiting' ORDER BY rank LIMIT $2",
        )
        .bind(product_id)
        .bind(PAGE)
        .fetch_all(&mut *c)
        .await
        .map_err(classify)?;
        if heads.is_empty() {
            break;
        }
        let (mut admit_ids, mut admit_phones, mut admit_units) =
            (Vec::new(), Vec::new(), Vec::new());
        let mut left_ids = Vec::new();
        // what each phone of the page has bought already, read once; a phone twice in a page
        // sees its first admission (as the rules would, head by head)
        let mut bought = match limit {
            Some(_) => units_bought_by(c, product_id, &heads).await?,
            None => HashMap::new(),
        };
        let mut counted: HashMap<String, i64> = HashMap::new();
        let mut stopped = false;
        for (ticket_id, phone_key, quantity) in heads {
            if !rules::stock_covers(quantity, stock) {
                stopped = true;
                break;
            }
            let already = bought.get(&phone_key).copied().unwrap_or(0);
            match rules::turn_within(quantity, limit, already) {
                Turn::Leave => {
                    left_ids.push(ticket_id);
                    continue;
                }
                Turn::Admit {
                    counts_against_limit,
                } => {
                    if counts_against_limit {
                        *bought.entry(phone_key.clone()).or_insert(0) += quantity;
                        *counted.entry(phone_key.clone()).or_insert(0) += quantity;
                    }
                }
            }
            stock -= quantity;
            admit_ids.push(ticket_id);
            admit_phones.push(phone_key);
            admit_units.push(quantity);
        }
        let left_any = !left_ids.is_empty();
        if left_any {
            sqlx::query("UPDATE queue_tickets SET state = $1, updated_at = $2 WHERE id = ANY($3)")
                .bind(TicketState::Left.as_str())
                .bind(&now.text)
                .bind(&left_ids)
                .execute(&mut *c)
                .await
                .map_err(classify)?;
        }
        if !counted.is_empty() {
            let (phones, units): (Vec<String>, Vec<i64>) = counted.into_iter().unzip();
            sqlx::query(
                "INSERT INTO customer_units (product_id, phone_key, units) \
                 SELECT $1, p, u FROM UNNEST($2::TEXT[], $3::BIGINT[]) AS v(p, u) \
                 ON CONFLICT (product_id, phone_key) DO UPDATE \
                 SET units = customer_units.units + EXCLUDED.units",
            )
            .bind(product_id)
            .bind(&phones)
            .bind(&units)
            .execute(&mut *c)
            .await
            .map_err(classify)?;
        }
        if !admit_ids.is_empty() {
            let units: i64 = admit_units.iter().sum();
            sqlx::query("UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1")
                .bind(units)
                .bind(product_id)
                .execute(&mut *c)
                .await
                .map_err(classify)?;
            let holds: Vec<(i64, i64)> = sqlx::query_as(
                "INSERT INTO holds (ticket_id, product_id, phone_key, quantity, unit_price_cents, \
                 state, expires_at, created_at) \
                 SELECT t, $2, p, q, $3, 'live', $4, $5 \
                 FROM UNNEST($1::BIGINT[], $6::TEXT[], $7::BIGINT[]) AS v(t, p, q) \
                 RETURNING id, ticket_id",
            )
            .bind(&admit_ids)
            .bind(product_id)
            .bind(price)
            .bind(&expires_at)
            .bind(&now.text)
            .bind(&admit_phones)
            .bind(&admit_units)
            .fetch_all(&mut *c)
            .await
            .map_err(classify)?;
            let (hold_ids, ticket_ids): (Vec<i64>, Vec<i64>) = holds.into_iter().unzip();
            sqlx::query(
                "UPDATE queue_tickets q SET state = 'admitted', hold_id = v.h, updated_at = $3 \
                 FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS v(h, t) WHERE q.id = v.t",
            )
            .bind(&hold_ids)
            .bind(&ticket_ids)
            .bind(&now.text)
            .execute(&mut *c)
            .await
            .map_err(classify)?;
            round.admitted += u64::try_from(admit_ids.len()).unwrap_or(u64::MAX);
        }
        // the head stock does not cover stops the round (nobody jumps the line); a page that
        // only had shoppers leave is read again
        if stopped || (admit_ids.is_empty() && !left_any) {
            break 'line;
        }
    }
    round.told_sold_out = tell_sold_out(c, product_id, stock, now).await?;
    Ok(round)
}

/// Units each phone of `heads` has bought of `product_id` (phones with none are absent).
async fn units_bought_by(
    c: &mut PgConnection,
    product_id: i64,
    heads: &[(i64, String, i64)],
) -> Result<HashMap<String, i64>, StoreError> {
    let phones: Vec<&str> = heads.iter().map(|(_, phone, _)| phone.as_str()).collect();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT phone_key, units FROM customer_units \
         WHERE product_id = $1 AND phone_key = ANY($2)",
    )
    .bind(product_id)
    .bind(&phones)
    .fetch_all(&mut *c)
    .await
    .map_err(classify)?;
    Ok(rows.into_iter().collect())
}

async fn tell_sold_out(
    c: &mut PgConnection,
    product_id: i64,
    stock: i64,
    now: &Now,
) -> Result<u64, StoreError> {
    let (held,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(SUM(quantity), 0)::BIGINT FROM holds WHERE product_id = $1 AND state = 'live'",
    )
    .bind(product_id)
    .fetch_one(&mut *c)
    .await
    .map_err(classify)?;
    let mut walk = SoldOutWalk::new(stock, held);
    let mut told = 0_u64;
    let mut after = i64::MIN;
    'walk: while !walk.spent() {
        let page: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT id, rank, quantity FROM queue_tickets WHERE product_id = $1 \
             AND state = 'waiting' AND rank > $2 ORDER BY rank LIMIT $3",
        )
        .bind(product_id)
        .bind(after)
        .bind(PAGE)
        .fetch_all(&mut *c)
        .await
        .map_err(classify)?;
        if page.is_empty() {
            return Ok(told);
        }
        for (id, rank, quantity) in page {
            if walk.spent() {
                break 'walk;
            }
            after = rank;
            if !walk.keeps_place(quantity) {
                set_state(c, id, TicketState::SoldOut, now).await?;
                told += 1;
            }
        }
    }
    let rest = sqlx::query(
        "UPDATE queue_tickets SET state = 'sold_out', updated_at = $1 WHERE product_id = $2 \
         AND state = 'waiting' AND rank > $3",
    )
    .bind(&now.text)
    .bind(product_id)
    .bind(after)
    .execute(&mut *c)
    .await
    .map_err(classify)?;
    Ok(told + rest.rows_affected())
}

async fn set_state(
    c: &mut PgConnection,
    ticket_id: i64,
    state: TicketState,
    now: &Now,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE queue_tickets SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(state.as_str())
        .bind(&now.text)
        .bind(ticket_id)
        .execute(&mut *c)
        .await
        .map(|_| ())
        .map_err(classify)
}
