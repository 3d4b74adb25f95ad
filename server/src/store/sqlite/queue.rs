//! The waiting room's writes, inside desk batches on the writer's rusqlite connection: joining,
//! leaving, and admission rounds (expire holds, admit from the head of each line, tell those who
//! can no longer be served). Where a ticket stands is read in `tickets.rs`.
//!
//! Stock accounting: admitting a shopper moves their units from `products.stock` into a live
//! hold; a used hold is an order; an expired or released hold puts its units back, once (every
//! transition is guarded by the state it leaves).

use super::orders::{add_units, product_facts, return_units, units_bought};
use super::{db_error, Now};
use app::domain::JoinRequest;
use app::rules::{self, HoldState, Placing, SoldOutWalk, TicketState, Turn, ARRIVAL_RANKS};
use app::store::{AdmissionRound, JoinError, StoreError};
use rusqlite::{params, Connection, OptionalExtension};

/// Waiting tickets read at a time by the sold-out pass.
const PAGE: i64 = 512;

/// A new place in line; a phone number already in this line is refused. Returns the ticket id.
pub(super) fn join_in_tx(
    c: &Connection,
    request: &JoinRequest,
    now: &Now,
) -> Result<i64, JoinError> {
    let product_id = request.product_id;
    let phone_key = request.phone.key();
    let facts = product_facts(c, product_id, now)?;
    let (product, sale) = match &facts {
        Some((p, s)) => (Some(p), s.as_ref()),
        None => (None, None),
    };
    let in_line: Option<i64> = c
        .prepare_cached(
            "SELECT id FROM queue_tickets WHERE product_id = ? AND phone_key = ? \
             AND state IN ('waiting', 'admitted')",
        )
        .and_then(|mut s| {
            s.query_row(params![product_id, phone_key], |r| r.get(0))
                .optional()
        })
        .map_err(db_error)?;
    let already = match rules::limit_in_force(sale, now) {
        Some(_) => units_bought(c, product_id, &phone_key)?,
        None => 0,
    };
    let placing = rules::decide_join(
        product_id,
        request.quantity,
        product,
        sale,
        in_line,
        already,
        now,
    )?;
    let q = i64::from(request.quantity.get());
    let started = placing == Placing::Arrival;
    let draw: i64 = rand::random_range(0..ARRIVAL_RANKS);
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO queue_tickets (product_id, phone_key, quantity, rank, state, joined_at, updated_at) \
             VALUES (?1, ?2, ?3, CASE WHEN ?4 THEN ?5 + (SELECT IFNULL(MAX(id), 0) + 1 FROM queue_tickets) \
             ELSE ?6 END, 'waiting', ?7, ?7) RETURNING id",
        )
        .and_then(|mut s| {
            s.query_row(
                params![product_id, phone_key, q, started, ARRIVAL_RANKS, draw, now.text],
                |r| r.get(0),
            )
        })
        .map_err(db_error)?;
    if started {
        serve_line(c, product_id, now)?;
    }
    Ok(id)
}

/// Leaves the line. An admitted shopper's units go back to stock and on to the next in line.
/// A ticket no longer in line (or unknown) is left as it is.
pub(super) fn leave_in_tx(c: &Connection, ticket_id: i64, now: &Now) -> Result<(), StoreError> {
    let row: Option<(i64, String, Option<i64>)> = c
        .prepare_cached("SELECT product_id, state, hold_id FROM queue_tickets WHERE id = ?")
        .and_then(|mut s| {
            s.query_row([ticket_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(db_error)?;
    let Some((product_id, state, hold_id)) = row else {
        return Ok(());
    };
    match (ticket_state(&state)?, hold_id) {
        (TicketState::Waiting, _) => {}
        (TicketState::Admitted, Some(hold_id)) => {
            return_hold(c, hold_id, HoldState::Released)?;
        }
        _ => return Ok(()),
    }
    c.prepare_cached(
        "UPDATE queue_tickets SET state = 'left', updated_at = ? WHERE id = ? \
         AND state IN ('waiting', 'admitted')",
    )
    .and_then(|mut s| s.execute(params![now.text, ticket_id]))
    .map_err(db_error)?;
    serve_line(c, product_id, now)?;
    Ok(())
}

/// Ends a live hold (`expired` or `released`): its units go back to stock and off the phone
/// number's count, exactly once. Returns whether it was live.
fn return_hold(c: &Connection, hold_id: i64, end_state: HoldState) -> Result<bool, StoreError> {
    let ended: Option<(i64, String, i64)> = c
        .prepare_cached(
            "UPDATE holds SET state = ? WHERE id = ? AND state = 'live' \
             RETURNING product_id, phone_key, quantity",
        )
        .and_then(|mut s| {
            s.query_row(params![end_state.as_str(), hold_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(db_error)?;
    let Some((product_id, phone_key, quantity)) = ended else {
        return Ok(false);
    };
    c.prepare_cached("UPDATE products SET stock = stock + ? WHERE id = ?")
        .and_then(|mut s| s.execute(params![quantity, product_id]))
        .map_err(db_error)?;
    return_units(c, product_id, &phone_key, quantity)?;
    Ok(true)
}

/// One round for every waiting room: expire overdue holds, close lines whose sale ended, then
/// serve each line that has people waiting.
pub(super) fn admission_round(c: &Connection, now: &Now) -> Result<AdmissionRound, StoreError> {
    let mut round = AdmissionRound::default();
    let overdue: Vec<(i64, i64)> = c
        // a paused product's holds do not run out: their shoppers cannot check out meanwhile
        .prepare_cached(
            "SELECT h.id, h.ticket_id FROM holds h WHERE h.state = 'live' AND h.expires_at <= ? \
             AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, h.product_id))",
        )
        .and_then(|mut s| {
            s.query_map([&now.text], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(db_error)?;
    for (hold_id, ticket_id) in overdue {
        if return_hold(c, hold_id, HoldState::Expired)? {
            round.holds_expired += 1;
            c.prepare_cached(
                "UPDATE queue_tickets SET state = 'expired', updated_at = ? \
                 WHERE id = ? AND state = 'admitted'",
            )
            .and_then(|mut s| s.execute(params![now.text, ticket_id]))
            .map_err(db_error)?;
        }
    }
    let closed = c
        .prepare_cached(
            "UPDATE queue_tickets SET state = 'sold_out', updated_at = ?1 WHERE state = 'waiting' \
             AND product_id IN (SELECT product_id FROM sales WHERE ends_at <= ?1)",
        )
        .and_then(|mut s| s.execute([&now.text]))
        .map_err(db_error)?;
    round.told_sold_out += closed as u64;

    let lines: Vec<i64> = c
        .prepare_cached(
            "SELECT s.product_id FROM sales s WHERE s.waiting_room = 1 AND s.starts_at <= ?1 \
             AND s.ends_at > ?1 AND EXISTS (SELECT 1 FROM queue_tickets t \
             WHERE t.product_id = s.product_id AND t.state = 'waiting') \
             AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, s.product_id))",
        )
        .and_then(|mut s| s.query_map([&now.text], |r| r.get(0))?.collect())
        .map_err(db_error)?;
    for product_id in lines {
        let served = serve_line(c, product_id, now)?;
        round.admitted += served.admitted;
        round.told_sold_out += served.told_sold_out;
    }
    Ok(round)
}

/// Serves one product's line: admits from the head while free stock covers the head's quantity
/// (strict order: nobody jumps the line), then tells everyone who can no longer be served — the
/// free units plus the units in live holds do not reach their place in line — that it is sold
/// out.
fn serve_line(c: &Connection, product_id: i64, now: &Now) -> Result<AdmissionRound, StoreError> {
    let mut round = AdmissionRound::default();
    let sale: Option<(i64, i64, Option<i64>)> = c
        .prepare_cached(
            // a paused line admits nobody: it keeps its order until the owner resumes
            "SELECT hold_seconds, sale_price_cents, per_customer_limit FROM sales \
             WHERE product_id = ?1 AND waiting_room = 1 AND starts_at <= ?2 AND ends_at > ?2 \
             AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, ?1))",
        )
        .and_then(|mut s| {
            s.query_row(params![product_id, now.text], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(db_error)?;
    let Some((hold_seconds, price, limit)) = sale else {
        return Ok(round);
    };
    let mut stock: i64 = c
        .prepare_cached("SELECT stock FROM products WHERE id = ?")
        .and_then(|mut s| s.query_row([product_id], |r| r.get(0)))
        .map_err(db_error)?;
    let expires_at = now.plus_secs(hold_seconds);
    loop {
        let head: Option<(i64, String, i64)> = c
            .prepare_cached(
                "SELECT id, phone_key, quantity FROM queue_tickets \
                 WHERE product_id = ? AND state = 'waiting' ORDER BY rank LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row([product_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(db_error)?;
        let Some((ticket_id, phone_key, quantity)) = head else {
            break;
        };
        if !rules::stock_covers(quantity, stock) {
            break;
        }
        let already = match limit {
            Some(_) => units_bought(c, product_id, &phone_key)?,
            None => 0,
        };
        match rules::turn_within(quantity, limit, already) {
            Turn::Leave => {
                set_state(c, ticket_id, TicketState::Left, now)?;
                continue;
            }
            Turn::Admit {
                counts_against_limit,
            } => {
                if counts_against_limit {
                    add_units(c, product_id, &phone_key, quantity)?;
                }
            }
        }
        c.prepare_cached("UPDATE products SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1")
            .and_then(|mut s| s.execute(params![quantity, product_id]))
            .map_err(db_error)?;
        stock -= quantity;
        let hold_id: i64 = c
            .prepare_cached(
                "INSERT INTO holds (ticket_id, product_id, phone_key, quantity, unit_price_cents, \
                 state, expires_at, created_at) VALUES (?, ?, ?, ?, ?, 'live', ?, ?) RETURNING id",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![
                        ticket_id, product_id, phone_key, quantity, price, expires_at, now.text
                    ],
                    |r| r.get(0),
                )
            })
            .map_err(db_error)?;
        c.prepare_cached(
            "UPDATE queue_tickets SET state = 'admitted', hold_id = ?, updated_at = ? WHERE id = ?",
        )
        .and_then(|mut s| s.execute(params![hold_id, now.text, ticket_id]))
        .map_err(db_error)?;
        round.admitted += 1;
    }
    round.told_sold_out = tell_sold_out(c, product_id, stock, now)?;
    Ok(round)
}

/// Walks the line in order with a budget of free + held units; whoever the budget cannot reach is
/// sold out. Once the budget is spent the rest of the line is closed in one statement.
fn tell_sold_out(
    c: &Connection,
    product_id: i64,
    stock: i64,
    now: &Now,
) -> Result<u64, StoreError> {
    let held: i64 = c
        .prepare_cached(
            "SELECT IFNULL(SUM(quantity), 0) FROM holds WHERE product_id = ? AND state = 'live'",
        )
        .and_then(|mut s| s.query_row([product_id], |r| r.get(0)))
        .map_err(db_error)?;
    let mut walk = SoldOutWalk::new(stock, held);
    let mut told = 0_u64;
    // the rank of the last ticket looked at
    let mut after = i64::MIN;
    'walk: while !walk.spent() {
        let page: Vec<(i64, i64, i64)> = c
            .prepare_cached(
                "SELECT id, rank, quantity FROM queue_tickets WHERE product_id = ? \
                 AND state = 'waiting' AND rank > ? ORDER BY rank LIMIT ?",
            )
            .and_then(|mut s| {
                s.query_map(params![product_id, after, PAGE], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            })
            .map_err(db_error)?;
        if page.is_empty() {
            return Ok(told);
        }
        for (id, rank, quantity) in page {
            if walk.spent() {
                break 'walk;
            }
            after = rank;
            if !walk.keeps_place(quantity) {
                set_state(c, id, TicketState::SoldOut, now)?;
                told += 1;
            }
        }
    }
    // the budget is spent: nobody further back can be served
    let rest = c
        .prepare_cached(
            "UPDATE queue_tickets SET state = 'sold_out', updated_at = ? WHERE product_id = ? \
             AND state = 'waiting' AND rank > ?",
        )
        .and_then(|mut s| s.execute(params![now.text, product_id, after]))
        .map_err(db_error)?;
    Ok(told + rest as u64)
}

fn set_state(
    c: &Connection,
    ticket_id: i64,
    state: TicketState,
    now: &Now,
) -> Result<(), StoreError> {
    c.prepare_cached("UPDATE queue_tickets SET state = ?, updated_at = ? WHERE id = ?")
        .and_then(|mut s| s.execute(params![state.as_str(), now.text, ticket_id]))
        .map(|_| ())
        .map_err(db_error)
}

fn ticket_state(text: &str) -> Result<TicketState, StoreError> {
    TicketState::parse(text)
        .ok_or_else(|| StoreError::unexpected(format!("unknown ticket state {text}")))
}
