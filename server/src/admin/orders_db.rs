//! The owner's reads and writes on orders, the same SQL on SQLite and Postgres. A status change
//! is one conditional update (`… WHERE code = $1 AND status = $2`), so of two owners, two tabs or
//! two servers' expiry tasks changing the same order, exactly one does it; a cancellation puts the
//! units back (and frees the phone's per-sale allowance) in the same transaction, so exactly once.

use super::db::AdminDb;
use crate::store::sql::sql;
use app::domain::{At, OrderStatus};
use app::store::StoreError;

/// What the list filters by; every field optional.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    /// Created at or after `from`, before `until`.
    pub from: Option<At>,
    pub until: Option<At>,
    pub product: Option<i64>,
    /// An order code, or part of a phone number.
    pub search: Option<String>,
    /// Only orders older than this id (the next page).
    pub before_id: Option<i64>,
}

pub struct OrderSummary {
    pub id: i64,
    pub code: String,
    pub status: String,
    pub customer_name: String,
    pub phone: String,
    pub address: String,
    pub note: String,
    pub total_cents: i64,
    pub created_at: At,
    pub tracking_number: String,
    /// "2 × Hoodie; 1 × Print"
    pub items: String,
}

pub struct OrderEvent {
    pub from_status: String,
    pub to_status: String,
    pub actor: String,
    pub note: String,
    pub at: At,
}

pub struct OrderLine {
    pub product_name: String,
    pub unit_price_cents: i64,
    pub quantity: i64,
}

pub struct OrderDetail {
    pub summary: OrderSummary,
    pub lines: Vec<OrderLine>,
    pub events: Vec<OrderEvent>,
}

/// What became of a requested status change.
#[derive(Debug, PartialEq, Eq)]
pub enum Changed {
    Done,
    /// The order is not (or no longer) in the expected status: nothing was done.
    NotFrom {
        now: Option<String>,
    },
}

type SummaryRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    At,
    String,
    Option<String>,
);

const SUMMARY_COLUMNS: &str = "o.id, o.code, o.status, o.customer_name, o.phone, o.address, \
     o.note, o.total_cents, o.created_at, o.tracking_number, \
     (SELECT STRING_AGG(CAST(l.quantity AS TEXT) || ' × ' || l.product_name, '; ') \
      FROM order_lines l WHERE l.order_id = o.id)";

fn summary(row: SummaryRow) -> OrderSummary {
    let (
        id,
        code,
        status,
        customer_name,
        phone,
        address,
        note,
        total_cents,
        created_at,
        tracking_number,
        items,
    ) = row;
    OrderSummary {
        id,
        code,
        status,
        customer_name,
        phone,
        address,
        note,
        total_cents,
        created_at,
        tracking_number,
        items: items.unwrap_or_default(),
    }
}

/// `LIKE` pattern matching `text` anywhere, with `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// What a search matches stored phone numbers (E.164, no separators) by: the whole number
/// however the owner typed it (`138 0013 8000` finds `+8613800138000`), or else a fragment of
/// it with its spaces and dashes left out.
fn phone_pattern(search: &str) -> String {
    match app::domain::Phone::parse(search) {
        Ok(phone) => contains_pattern(phone.as_str()),
        Err(_) => contains_pattern(
            &search
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
                .collect::<String>(),
        ),
    }
}

impl AdminDb {
    /// Newest first, at most `limit`.
    pub async fn list_orders(
        &self,
        f: &OrderFilter,
        limit: i64,
    ) -> Result<Vec<OrderSummary>, StoreError> {
        // one statement for every combination: a filter left out is NULL and matches all
        let text = format!(
            "SELECT {SUMMARY_COLUMNS} FROM orders o \
             WHERE ($1 IS NULL OR o.status = $1) \
               AND ($2 IS NULL OR o.created_at >= $2) \
               AND ($3 IS NULL OR o.created_at < $3) \
               AND ($4 IS NULL OR EXISTS (SELECT 1 FROM order_lines l \
                                         WHERE l.order_id = o.id AND l.product_id = $4)) \
               AND ($5 IS NULL OR o.code = UPPER($5) OR o.phone LIKE $6 ESCAPE '\\') \
               AND ($7 IS NULL OR o.id < $7) \
             ORDER BY o.id DESC LIMIT $8"
        );
        let search = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let pattern = search.map(phone_pattern);
        let rows: Vec<SummaryRow> = self
            .all(
                sql(&text)
                    .bind(f.status.map(OrderStatus::as_str))
                    .bind(f.from)
                    .bind(f.until)
                    .bind(f.product)
                    .bind(search)
                    .bind(pattern.as_deref())
                    .bind(f.before_id)
                    .bind(limit),
            )
            .await?;
        Ok(rows.into_iter().map(summary).collect())
    }

    pub async fn order_detail(&self, code: &str) -> Result<Option<OrderDetail>, StoreError> {
        let text = format!("SELECT {SUMMARY_COLUMNS} FROM orders o WHERE o.code = $1");
        let row: Option<SummaryRow> = self.optional(sql(&text).bind(code)).await?;
        let Some(row) = row else { return Ok(None) };
        let summary = summary(row);
        let lines: Vec<(String, i64, i64)> = self
            .all(
                sql(
                    "SELECT product_name, unit_price_cents, quantity FROM order_lines \
             WHERE order_id = $1 ORDER BY product_id",
                )
                .bind(summary.id),
            )
            .await?;
        let events: Vec<(String, String, String, String, At)> = self
            .all(
                sql(
                    "SELECT from_status, to_status, actor, note, at FROM order_events \
             WHERE order_id = $1 ORDER BY id",
                )
                .bind(summary.id),
            )
            .await?;
        Ok(Some(OrderDetail {
            summary,
            lines: lines
                .into_iter()
                .map(|(product_name, unit_price_cents, quantity)| OrderLine {
                    product_name,
                    unit_price_cents,
                    quantity,
                })
                .collect(),
            events: events
                .into_iter()
                .map(|(from_status, to_status, actor, note, at)| OrderEvent {
                    from_status,
                    to_status,
                    actor,
                    note,
                    at,
                })
                .collect(),
        }))
    }

    /// Moves an order from `from` to `to` (the caller has checked the move is allowed), with a
    /// tracking number when shipping; a cancellation restocks. `actor` goes in the audit trail.
    pub async fn change_status(
        &self,
        code: &str,
        from: OrderStatus,
        to: OrderStatus,
        tracking: &str,
        actor: &str,
        now: At,
    ) -> Result<Changed, StoreError> {
        let mut tx = self.begin().await?;
        // (on SQLite the transaction has the write lock from its start: `Db::begin`)
        let id: Option<(i64, String)> = tx
            .optional(
                sql("UPDATE orders SET status = $1, status_changed_at = $2, \
                     tracking_number = CASE WHEN $3 = '' THEN tracking_number ELSE $3 END \
                     WHERE code = $4 AND status = $5 RETURNING id, phone")
                .bind(to.as_str())
                .bind(now)
                .bind(tracking)
                .bind(code)
                .bind(from.as_str()),
            )
            .await?;
        let Some((id, phone)) = id else {
            let now_status: Option<(String,)> = tx
                .optional(sql("SELECT status FROM orders WHERE code = $1").bind(code))
                .await?;
            return Ok(Changed::NotFrom {
                now: now_status.map(|(s,)| s),
            });
        };
        if to == OrderStatus::Cancelled {
            let lines: Vec<(i64, i64)> = tx
                .all(
                    sql("SELECT product_id, quantity FROM order_lines WHERE order_id = $1")
                        .bind(id),
                )
                .await?;
            let phone_key = app::domain::Phone::key_of(&phone);
            for (product_id, quantity) in lines {
                tx.execute(
                    sql("UPDATE products SET stock = stock + $1 WHERE id = $2")
                        .bind(quantity)
                        .bind(product_id),
                )
                .await?;
                // the units come off the phone's allowance, as the shop's rules say
                let counted: Option<(i64,)> = tx
                    .optional(
                        sql("SELECT units FROM customer_units \
                             WHERE product_id = $1 AND phone_key = $2")
                        .bind(product_id)
                        .bind(&phone_key),
                    )
                    .await?;
                if let Some((units,)) = counted {
                    tx.execute(
                        sql("UPDATE customer_units SET units = $1 \
                             WHERE product_id = $2 AND phone_key = $3")
                        .bind(app::rules::allowance_after_return(units, quantity))
                        .bind(product_id)
                        .bind(&phone_key),
                    )
                    .await?;
                }
            }
        }
        let note = if tracking.is_empty() {
            String::new()
        } else {
            format!("tracking {tracking}")
        };
        tx.execute(
            sql(
                "INSERT INTO order_events (order_id, from_status, to_status, actor, note, at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(actor)
            .bind(&note)
            .bind(now),
        )
        .await?;
        tx.commit().await?;
        Ok(Changed::Done)
    }

    /// Codes of orders still awaiting payment that were placed before `cutoff`, oldest first.
    pub async fn unpaid_before(&self, cutoff: At, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = self
            .all(
                sql(
                    "SELECT code FROM orders WHERE status = $1 AND created_at < $2 \
             ORDER BY created_at LIMIT $3",
                )
                .bind(OrderStatus::AwaitingPayment.as_str())
                .bind(cutoff)
                .bind(limit),
            )
            .await?;
        Ok(rows.into_iter().map(|(c,)| c).collect())
    }

    /// The payment windows of the shop's sales (seconds), each once.
    pub async fn sale_pay_windows(&self) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = self
            .all(sql(
                "SELECT DISTINCT pay_seconds FROM sales ORDER BY pay_seconds",
            ))
            .await?;
        Ok(rows.into_iter().map(|(w,)| w).collect())
    }

    /// Codes of orders still awaiting payment that were placed during the sale of one of their
    /// products, where that sale's payment window is `window` seconds, before `cutoff` (now less
    /// the window), oldest first.
    pub async fn unpaid_sale_orders_before(
        &self,
        window: i64,
        cutoff: At,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String, At)> = self
            .all(
                sql("SELECT DISTINCT o.code, o.created_at FROM orders o \
             JOIN order_lines l ON l.order_id = o.id \
             JOIN sales s ON s.product_id = l.product_id \
             WHERE o.status = $1 AND o.created_at < $2 AND s.pay_seconds = $3 \
             AND o.created_at >= s.starts_at AND o.created_at < s.ends_at \
             ORDER BY o.created_at LIMIT $4")
                .bind(OrderStatus::AwaitingPayment.as_str())
                .bind(cutoff)
                .bind(window)
                .bind(limit),
            )
            .await?;
        Ok(rows.into_iter().map(|(c, _)| c).collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_search_for_a_phone_fragment_takes_wildcards_literally() {
        assert_eq!(super::contains_pattern("55_1%"), "%55\\_1\\%%");
    }

    #[test]
    fn a_phone_search_matches_the_stored_form() {
        assert_eq!(super::phone_pattern("138 0013 8000"), "%+8613800138000%");
        assert_eq!(super::phone_pattern("0013-8000"), "%00138000%");
        assert_eq!(super::phone_pattern("7946"), "%7946%");
    }
}
