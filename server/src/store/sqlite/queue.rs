//! The waiting room in SQLite: joining, leaving, admission rounds (inside desk batches, so they
//! share the one writer and its group commit) and reading where a ticket stands (on a reader).
//!
//! Stock accounting: admitting a shopper moves their units from `products.stock` into a live
//! hold; a used hold is an order; an expired or released hold puts its units back, once (every
//! transition is guarded by the state it leaves).

use super::orders::{add_units, units_bought};
use super::{classify, Now, Tx};
use app::domain::JoinRequest;
use app::store::{AdmissionRound, JoinError, Standing, StoreError, TicketInfo};
use sqlx::SqliteConnection;

/// Ranks at or above this are arrival order (2^62 + ticket id); below it, the pre-start draw.
const ARRIVAL_RANKS: i64 = 1 << 62;
/// Waiting tickets read at a time by the sold-out pass.
const PAGE: i64 = 512;

/// A new place in line (or the one this phone number already holds). Returns the ticket id.
pub(super) async fn join_in_tx(
    tx: &mut Tx,
    request: &JoinRequest,
    now: &Now,
) -> Result<i64, JoinError> {
    let product_id = request.product_id;
    type Row = (String, Option<String>, Option<i64>, Option<bool>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT p.name, s.starts_at, s.per_customer_limit, s.waiting_room FROM products p \
         LEFT JOIN sales s ON s.product_id = p.id AND s.ends_at > ?2 WHERE p.id = ?1",
    )
    .bind(product_id)
    .bind(&now.text)
    .fetch_optional(&mut **tx)
    .await
    .map_err(classify)?;
    let Some((product_name, starts_at, limit, waiting_room)) = row else {
        return Err(JoinError::UnknownProduct { product_id });
    };
    let (Some(starts_at), Some(true)) = (starts_at, waiting_room) else {
        return Err(JoinError::NoWaitingRoom { product_name });
    };
    let phone_key = request.phone.key();
    let existing: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM queue_tickets WHERE product_id = ? AND phone_key = ? \
         AND state IN ('waiting', 'admitted')",
    )
    .bind(product_id)
    .bind(&phone_key)
    .fetch_optional(&mut **tx)
    .await
    .map_err(classify)?;
    if let Some((id,)) = existing {
        return Ok(id);
    }
    let q = i64::from(request.quantity.get());
    if let Some(limit) = limit {
        let already = units_bought(tx, product_id, &phone_key).await?;
        if already + q > limit {
            return Err(JoinError::LimitReached {
                product_id,
                product_name,
                limit,
                already,
            });
        }
    }
    let started = starts_at <= now.text;
    // before the start: a random rank, so joining early buys nothing but a place in the draw
    let draw: i64 = rand::random_range(0..ARRIVAL_RANKS);
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO queue_tickets (product_id, phone_key, quantity, rank, state, joined_at, updated_at) \
         VALUES (?1, ?2, ?3, CASE WHEN ?4 THEN ?5 + (SELECT IFNULL(MAX(id), 0) + 1 FROM queue_tickets) \
         ELSE ?6 END, 'waiting', ?7, ?7) RETURNING id",
    )
    .bind(product_id)
    .bind(&phone_key)
    .bind(q)
    .bind(started)
    .bind(ARRIVAL_RANKS)
    .bind(draw)
    .bind(&now.text)
    .fetch_one(&mut **tx)
    .await
    .map_err(classify)?;
    if started {
        serve_line(tx, product_id, now).await?;
    }
    Ok(id)
}

/// Leaves the line. An admitted shopper's units go back to stock and on to the next in line.
/// A ticket no longer in line (or unknown) is left as it is.
pub(super) async fn leave_in_tx(tx: &mut Tx, ticket_id: i64, now: &Now) -> Result<(), StoreError> {
    let row: Option<(i64, String, Option<i64>)> =
        sqlx::query_as("SELECT product_id, state, hold_id FROM queue_tickets WHERE id = ?")
            .bind(ticket_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(classify)?;
    let Some((product_id, state, hold_id)) = row else {
        return Ok(());
    };
    match (state.as_str(), hold_id) {
        ("waiting", _) => {}
        ("admitted", Some(hold_id)) => {
            return_hold(tx, hold_id, "released").await?;
        }
        _ => return Ok(()),
    }
    sqlx::query(
        "UPDATE queue_tickets SET state = 'left', updated_at = ? WHERE id = ? \
         AND state IN ('waiting', 'admitted')",
    )
    .bind(&now.text)
    .bind(ticket_id)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    serve_line(tx, product_id, now).await?;
    Ok(())
}

/// Ends a live hold (`expired` or `released`): its units go back to stock and off the phone
/// number's count, exactly once. Returns whether it was live.
async fn return_hold(tx: &mut Tx, hold_id: i64, end_state: &str) -> Result<bool, StoreError> {
    let ended: Option<(i64, String, i64)> = sqlx::query_as(
        "UPDATE holds SET state = ? WHERE id = ? AND state = 'live' \
         RETURNING product_id, phone_key, quantity",
    )
    .bind(end_state)
    .bind(hold_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(classify)?;
    let Some((product_id, phone_key, quantity)) = ended else {
        return Ok(false);
    };
    sqlx::query("UPDATE products SET stock = stock + ? WHERE id = ?")
        .bind(quantity)
        .bind(product_id)
        .execute(&mut **tx)
        .await
        .map_err(classify)?;
    add_units(tx, product_id, &phone_key, -quantity).await?;
    Ok(true)
}

/// One round for every waiting room: expire overdue holds, close lines whose sale ended, then
/// serve each line that has people waiting.
pub(super) async fn admission_round(tx: &mut Tx, now: &Now) -> Result<AdmissionRound, StoreError> {
    let mut round = AdmissionRound::default();
    let overdue: Vec<(i64, i64)> =
        sqlx::query_as("SELECT id, ticket_id FROM holds WHERE state = 'live' AND expires_at <= ?")
            .bind(&now.text)
            .fetch_all(&mut **tx)
            .await
            .map_err(classify)?;
    for (hold_id, ticket_id) in overdue {
        if return_hold(tx, hold_id, "expired").await? {
            round.holds_expired += 1;
            sqlx::query(
                "UPDATE queue_tickets SET state = 'expired', updated_at = ? \
                 WHERE id = ? AND state = 'admitted'",
            )
            .bind(&now.text)
            .bind(ticket_id)
            .execute(&mut **tx)
            .await
            .map_err(classify)?;
        }
    }
    let closed = sqlx::query(
        "UPDATE queue_tickets SET state = 'sold_out', updated_at = ?1 WHERE state = 'waiting' \
         AND product_id IN (SELECT product_id FROM sales WHERE ends_at <= ?1)",
    )
    .bind(&now.text)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    round.told_sold_out += closed.rows_affected();

    let lines: Vec<(i64,)> = sqlx::query_as(
        "SELECT s.product_id FROM sales s WHERE s.waiting_room = 1 AND s.starts_at <= ?1 \
         AND s.ends_at > ?1 AND EXISTS (SELECT 1 FROM queue_tickets t \
         WHERE t.product_id = s.product_id AND t.state = 'waiting')",
    )
    .bind(&now.text)
    .fetch_all(&mut **tx)
    .await
    .map_err(classify)?;
    for (product_id,) in lines {
        let served = serve_line(tx, product_id, now).await?;
        round.admitted += served.admitted;
        round.told_sold_out += served.told_sold_out;
    }
    Ok(round)
}

/// Serves one product's line: admits from the head while free stock covers the head's quantity
/// (strict order: nobody jumps the line), then tells everyone who can no longer be served — the
/// free units plus the units in live holds do not reach their place in line — that it is sold
/// out.
async fn serve_line(tx: &mut Tx, product_id: i64, now: &Now) -> Result<AdmissionRound, StoreError> {
    let mut round = AdmissionRound::default();
    let sale: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT hold_seconds, sale_price_cents, per_customer_limit FROM sales \
         WHERE product_id = ?1 AND waiting_room = 1 AND starts_at <= ?2 AND ends_at > ?2",
    )
    .bind(product_id)
    .bind(&now.text)
    .fetch_optional(&mut **tx)
    .await
    .map_err(classify)?;
    let Some((hold_seconds, price, limit)) = sale else {
        return Ok(round);
    };
    let (mut stock,): (i64,) = sqlx::query_as("SELECT stock FROM products WHERE id = ?")
        .bind(product_id)
        .fetch_one(&mut **tx)
        .await
        .map_err(classify)?;
    let expires_at = now.plus_secs(hold_seconds);
    loop {
        let head: Option<(i64, String, i64)> = sqlx::query_as(
            "SELECT id, phone_key, quantity FROM queue_tickets \
             WHERE product_id = ? AND state = 'waiting' ORDER BY rank LIMIT 1",
        )
        .bind(product_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(classify)?;
        let Some((ticket_id, phone_key, quantity)) = head else {
            break;
        };
        if quantity > stock {
            break;
        }
        if let Some(limit) = limit {
            // a phone number holds one live ticket per product, so this only trips if the owner
            // changed the sale meanwhile
            if units_bought(tx, product_id, &phone_key).await? + quantity > limit {
                set_state(tx, ticket_id, "left", now).await?;
                continue;
            }
            add_units(tx, product_id, &phone_key, quantity).await?;
        }
        sqlx::query("UPDATE products SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1")
            .bind(quantity)
            .bind(product_id)
            .execute(&mut **tx)
            .await
            .map_err(classify)?;
        stock -= quantity;
        let (hold_id,): (i64,) = sqlx::query_as(
            "INSERT INTO holds (ticket_id, product_id, phone_key, quantity, unit_price_cents, state, \
             expires_at, created_at) VALUES (?, ?, ?, ?, ?, 'live', ?, ?) RETURNING id",
        )
        .bind(ticket_id)
        .bind(product_id)
        .bind(&phone_key)
        .bind(quantity)
        .bind(price)
        .bind(&expires_at)
        .bind(&now.text)
        .fetch_one(&mut **tx)
        .await
        .map_err(classify)?;
        sqlx::query(
            "UPDATE queue_tickets SET state = 'admitted', hold_id = ?, updated_at = ? WHERE id = ?",
        )
        .bind(hold_id)
        .bind(&now.text)
        .bind(ticket_id)
        .execute(&mut **tx)
        .await
        .map_err(classify)?;
        round.admitted += 1;
    }
    round.told_sold_out = tell_sold_out(tx, product_id, stock, now).await?;
    Ok(round)
}

/// Walks the line in order with a budget of free + held units; whoever the budget cannot reach is
/// sold out. Once the budget is spent the rest of the line is closed in one statement.
async fn tell_sold_out(
    tx: &mut Tx,
    product_id: i64,
    stock: i64,
    now: &Now,
) -> Result<u64, StoreError> {
    let (held,): (i64,) = sqlx::query_as(
        "SELECT IFNULL(SUM(quantity), 0) FROM holds WHERE product_id = ? AND state = 'live'",
    )
    .bind(product_id)
    .fetch_one(&mut **tx)
    .await
    .map_err(classify)?;
    let mut budget = stock + held;
    let mut told = 0_u64;
    // the rank of the last ticket looked at
    let mut after = i64::MIN;
    'walk: while budget > 0 {
        let page: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT id, rank, quantity FROM queue_tickets WHERE product_id = ? AND state = 'waiting' \
             AND rank > ? ORDER BY rank LIMIT ?",
        )
        .bind(product_id)
        .bind(after)
        .bind(PAGE)
        .fetch_all(&mut **tx)
        .await
        .map_err(classify)?;
        if page.is_empty() {
            return Ok(told);
        }
        for (id, rank, quantity) in page {
            if budget <= 0 {
                break 'walk;
            }
            after = rank;
            if quantity <= budget {
                budget -= quantity;
            } else {
                set_state(tx, id, "sold_out", now).await?;
                told += 1;
            }
        }
    }
    // the budget is spent: nobody further back can be served
    let rest = sqlx::query(
        "UPDATE queue_tickets SET state = 'sold_out', updated_at = ? WHERE product_id = ? \
         AND state = 'waiting' AND rank > ?",
    )
    .bind(&now.text)
    .bind(product_id)
    .bind(after)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    Ok(told + rest.rows_affected())
}

async fn set_state(tx: &mut Tx, ticket_id: i64, state: &str, now: &Now) -> Result<(), StoreError> {
    sqlx::query("UPDATE queue_tickets SET state = ?, updated_at = ? WHERE id = ?")
        .bind(state)
        .bind(&now.text)
        .bind(ticket_id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
        .map_err(classify)
}

/// Where a ticket stands, read on a reader connection.
pub(super) async fn ticket_info(
    conn: &mut SqliteConnection,
    ticket_id: i64,
    now: &Now,
) -> Result<Option<TicketInfo>, StoreError> {
    type Row = (
        i64,
        String,
        String,
        i64,
        String,
        i64,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT t.product_id, p.name, p.slug, t.quantity, t.state, t.rank, t.hold_id, h.expires_at, \
         o.code, s.starts_at FROM queue_tickets t JOIN products p ON p.id = t.product_id \
         LEFT JOIN holds h ON h.id = t.hold_id LEFT JOIN orders o ON o.id = h.order_id \
         LEFT JOIN sales s ON s.product_id = t.product_id WHERE t.id = ?",
    )
    .bind(ticket_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(classify)?;
    let Some((
        product_id,
        product_name,
        product_slug,
        quantity,
        state,
        rank,
        hold_id,
        expires_at,
        code,
        starts_at,
    )) = row
    else {
        return Ok(None);
    };
    let standing = match (state.as_str(), hold_id, expires_at, code) {
        ("waiting", ..) => {
            waiting_standing(conn, product_id, rank, quantity, starts_at, now).await?
        }
        ("admitted", Some(hold_id), Some(expires_at), _) => {
            let seconds_left = u64::try_from(now.secs_until(&expires_at)).unwrap_or(0);
            if seconds_left == 0 {
                // the next admission round returns its units; it cannot be used any more
                Standing::Expired
            } else {
                Standing::Admitted {
                    hold_id,
                    expires_at,
                    seconds_left,
                }
            }
        }
        ("ordered", _, _, Some(order_code)) => Standing::Ordered { order_code },
        ("sold_out", ..) => Standing::SoldOut,
        ("expired", ..) => Standing::Expired,
        ("left", ..) => Standing::Left,
        (other, ..) => {
            return Err(StoreError::Unexpected(format!(
                "ticket {ticket_id} in an impossible state {other}"
            )))
        }
    };
    Ok(Some(TicketInfo {
        ticket_id,
        product_id,
        product_name,
        product_slug,
        quantity: u32::try_from(quantity)
            .map_err(|_| StoreError::Unexpected("bad stored quantity".into()))?,
        standing,
    }))
}

/// A waiting ticket's position and the earliest it could be admitted: at once if free stock covers
/// everyone ahead and itself, otherwise when enough live holds would have expired.
async fn waiting_standing(
    conn: &mut SqliteConnection,
    product_id: i64,
    rank: i64,
    quantity: i64,
    starts_at: Option<String>,
    now: &Now,
) -> Result<Standing, StoreError> {
    if let Some(starts_at) = starts_at.filter(|s| now.text < *s) {
        let secs = u64::try_from(now.secs_until(&starts_at)).unwrap_or(0);
        return Ok(Standing::Waiting {
            position: None,
            eta_seconds: secs,
            starts_in_secs: Some(secs),
        });
    }
    let (ahead, units_ahead, stock): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), IFNULL(SUM(t.quantity), 0), (SELECT stock FROM products WHERE id = ?1) \
         FROM queue_tickets t WHERE t.product_id = ?1 AND t.state = 'waiting' AND t.rank < ?2",
    )
    .bind(product_id)
    .bind(rank)
    .fetch_one(&mut *conn)
    .await
    .map_err(classify)?;
    let deficit = units_ahead + quantity - stock;
    let mut eta = 1_i64;
    if deficit > 0 {
        let holds: Vec<(i64, String)> = sqlx::query_as(
            "SELECT quantity, expires_at FROM holds WHERE product_id = ? AND state = 'live' \
             ORDER BY expires_at",
        )
        .bind(product_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(classify)?;
        let mut freed = 0;
        for (q, expires_at) in holds {
            freed += q;
            eta = now.secs_until(&expires_at).max(0) + 1;
            if freed >= deficit {
                break;
            }
        }
    }
    Ok(Standing::Waiting {
        position: Some(u64::try_from(ahead + 1).unwrap_or(1)),
        eta_seconds: u64::try_from(eta).unwrap_or(1),
        starts_in_secs: None,
    })
}
