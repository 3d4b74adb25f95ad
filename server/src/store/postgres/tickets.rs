//! Where a waiting-room ticket stands, read on Postgres: its state, its position
//! in line and the earliest it could be admitted.

use super::classify;
use crate::store::clock::Now;
use app::store::{Standing, StoreError, TicketInfo};
use sqlx::PgConnection;

/// Where a ticket stands, read on a reader connection.
pub(super) async fn ticket_info(
    conn: &mut PgConnection,
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
         LEFT JOIN sales s ON s.product_id = t.product_id WHERE t.id = $1",
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
    conn: &mut PgConnection,
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
        "SELECT COUNT(*), COALESCE(SUM(t.quantity), 0)::BIGINT, (SELECT stock FROM products WHERE id = $1) \
         FROM queue_tickets t WHERE t.product_id = $1 AND t.state = 'waiting' AND t.rank < $2",
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
            "SELECT quantity, expires_at FROM holds WHERE product_id = $1 AND state = 'live' \
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
