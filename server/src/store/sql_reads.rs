//! Reads that both backends make the same way — an order by its code, where a waiting-room
//! ticket stands — written once with `store::sql`: the SQL uses numbered parameters (`$1`), which
//! SQLite and Postgres both read.

use super::clock::Now;
use super::rows::StoredAt;
use super::sql::{sql, Conn};
use app::domain::At;

/// An order's own columns, as [`ORDER_BY_CODE`] reads them (its time as the driver reads one:
/// [`StoredAt`]).
pub(crate) type OrderRow<T> = (i64, String, String, String, String, String, i64, T, String);

/// The order with code `$1`, as an [`OrderRow`] (`$1` reads the same to both drivers of both
/// databases).
pub(crate) const ORDER_BY_CODE: &str = "SELECT id, status, customer_name, phone, address, note, \
     total_cents, created_at, tracking_number FROM orders WHERE code = $1";

/// An order line's columns, as [`LINES_OF_ORDER`] reads them.
pub(crate) type LineRow = (i64, String, i64, i64);

/// The lines of order `$1`, as [`LineRow`]s.
pub(crate) const LINES_OF_ORDER: &str = "SELECT product_id, product_name, unit_price_cents, \
     quantity FROM order_lines WHERE order_id = $1 ORDER BY product_id";

/// The order with this code, on a reader connection.
pub(crate) async fn load_order(
    conn: &mut Conn<'_>,
    code: &app::domain::OrderCode,
) -> Result<Option<app::domain::OrderView>, app::store::StoreError> {
    let row: Option<OrderRow<At>> = conn
        .optional(sql(ORDER_BY_CODE).bind(code.as_str()))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let lines: Vec<LineRow> = conn.all(sql(LINES_OF_ORDER).bind(row.0)).await?;
    order_view(code.clone(), row, lines).map(Some)
}

/// An order as its shopper is shown it, from its rows (either database, either driver).
pub(crate) fn order_view<T: StoredAt>(
    code: app::domain::OrderCode,
    row: OrderRow<T>,
    lines: Vec<LineRow>,
) -> Result<app::domain::OrderView, app::store::StoreError> {
    let (_, status, customer_name, phone, address, note, total_cents, created_at, tracking_number) =
        row;
    let status = app::domain::OrderStatus::parse(&status).ok_or_else(|| {
        app::store::StoreError::unexpected(format!("unknown order status {status}"))
    })?;
    let lines = lines
        .into_iter()
        .map(|(product_id, product_name, unit_price_cents, quantity)| {
            Ok(app::domain::OrderLineView {
                product_id,
                product_name,
                unit_price_cents,
                quantity: u32::try_from(quantity)
                    .map_err(|_| app::store::StoreError::unexpected("bad stored quantity"))?,
                line_total_cents: unit_price_cents.saturating_mul(quantity),
            })
        })
        .collect::<Result<Vec<_>, app::store::StoreError>>()?;
    Ok(app::domain::OrderView {
        order_code: code,
        status,
        total_cents,
        lines,
        customer_name,
        phone,
        address,
        note,
        created_at: created_at.at()?,
        pay_by: None,
        tracking_number,
        live_token: String::new(),
    })
}

/// Where a ticket stands, read on a reader connection.
pub(crate) async fn ticket_info(
    conn: &mut Conn<'_>,
    ticket_id: i64,
    now: &Now,
) -> Result<Option<app::store::TicketInfo>, app::store::StoreError> {
    type Row = (
        i64,
        String,
        String,
        i64,
        String,
        i64,
        Option<i64>,
        Option<At>,
        Option<String>,
        Option<At>,
        i64,
    );
    let row: Option<Row> = conn.optional(sql("SELECT t.product_id, p.name, p.slug, t.quantity, t.state, t.rank, t.hold_id, h.expires_at, \
         o.code, s.starts_at, \
         (SELECT COUNT(*) FROM brakes b WHERE b.product_id IN (0, t.product_id)) \
         FROM queue_tickets t JOIN products p ON p.id = t.product_id \
         LEFT JOIN holds h ON h.id = t.hold_id LEFT JOIN orders o ON o.id = h.order_id \
         LEFT JOIN sales s ON s.product_id = t.product_id WHERE t.id = $1").bind(ticket_id)).await
    ?;
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
        paused,
    )) = row
    else {
        return Ok(None);
    };
    use app::rules::TicketState;
    let ticket_state = TicketState::parse(&state).ok_or_else(|| {
        app::store::StoreError::unexpected(format!(
            "ticket {ticket_id} in an unknown state {state}"
        ))
    })?;
    let standing = match (ticket_state, hold_id, expires_at, code) {
        (TicketState::Waiting, ..) => {
            waiting_standing(conn, product_id, rank, quantity, starts_at, now).await?
        }
        (TicketState::Admitted, Some(hold_id), Some(expires_at), _) => {
            let seconds_left = u64::try_from(now.secs_until(expires_at)).unwrap_or(0);
            // while the owner has paused the sale, holds do not run out (see the usher)
            if app::rules::hold_ran_out(expires_at, now) && paused == 0 {
                // the next admission round returns its units; it cannot be used any more
                app::store::Standing::Expired
            } else {
                app::store::Standing::Admitted {
                    hold_id,
                    expires_at,
                    seconds_left,
                }
            }
        }
        (TicketState::Ordered, _, _, Some(order_code)) => {
            app::store::Standing::Ordered { order_code }
        }
        (TicketState::SoldOut, ..) => app::store::Standing::SoldOut,
        (TicketState::Expired, ..) => app::store::Standing::Expired,
        (TicketState::Left, ..) => app::store::Standing::Left,
        (other, ..) => {
            return Err(app::store::StoreError::unexpected(format!(
                "ticket {ticket_id} in an impossible state {other}"
            )))
        }
    };
    Ok(Some(app::store::TicketInfo {
        ticket_id,
        product_id,
        product_name,
        product_slug,
        quantity: u32::try_from(quantity)
            .map_err(|_| app::store::StoreError::unexpected("bad stored quantity"))?,
        rank,
        standing,
    }))
}

/// A waiting ticket's position and the earliest it could be admitted: at once if free stock covers
/// everyone ahead and itself, otherwise when enough live holds would have expired.
async fn waiting_standing(
    conn: &mut Conn<'_>,
    product_id: i64,
    rank: i64,
    quantity: i64,
    starts_at: Option<At>,
    now: &Now,
) -> Result<app::store::Standing, app::store::StoreError> {
    if let Some(starts_at) = starts_at.filter(|s| now.instant() < *s) {
        let secs = u64::try_from(now.secs_until(starts_at)).unwrap_or(0);
        return Ok(app::store::Standing::Waiting {
            position: None,
            eta_seconds: secs,
            starts_in_secs: Some(secs),
        });
    }
    let (ahead, units_ahead, stock): (i64, i64, i64) = conn.one(sql("SELECT COUNT(*), CAST(COALESCE(SUM(t.quantity), 0) AS BIGINT), (SELECT stock FROM products WHERE id = $1) \
         FROM queue_tickets t WHERE t.product_id = $1 AND t.state = 'waiting' AND t.rank < $2").bind(product_id).bind(rank)).await
    ?;
    let mut holds = Vec::new();
    if units_ahead + quantity > stock {
        let live = live_holds(conn, product_id).await?;
        holds = app::rules::holds_by_expiry(
            live.into_iter()
                .map(|(units, expires_at)| (units, now.secs_until(expires_at))),
        );
    }
    let eta = app::rules::earliest_turn_secs(units_ahead, quantity, stock, &holds);
    Ok(app::store::Standing::Waiting {
        position: Some(u64::try_from(ahead + 1).unwrap_or(1)),
        eta_seconds: eta,
        starts_in_secs: None,
    })
}

/// A product's live holds (units, when they run out), by expiry: what frees units for the line.
pub(crate) async fn live_holds(
    conn: &mut Conn<'_>,
    product_id: i64,
) -> Result<Vec<(i64, At)>, app::store::StoreError> {
    conn.all(
        sql(
            "SELECT quantity, expires_at FROM holds WHERE product_id = $1 AND state = 'live' \
             ORDER BY expires_at",
        )
        .bind(product_id),
    )
    .await
}

impl super::sql::Db {
    /// Shoppers waiting in line and units held for those whose turn came, over all products.
    pub async fn line_totals(&self) -> Result<(i64, i64), app::store::StoreError> {
        let row: Option<(i64, i64)> = self
            .optional(sql(
                "SELECT (SELECT COUNT(*) FROM queue_tickets WHERE state = 'waiting'), \
                 CAST(COALESCE((SELECT SUM(quantity) FROM holds WHERE state = 'live'), 0) AS BIGINT)",
            ))
            .await?;
        Ok(row.unwrap_or((0, 0)))
    }
}
