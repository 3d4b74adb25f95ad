//! The numbers behind the control room, read from the shop's database (so they are the whole
//! shop's, whichever server the owner is looking at), and the brake's writes.

use super::db::AdminDb;
use crate::store::sql::sql;
use app::domain::At;
use app::store::StoreError;

/// One sale product as the control room shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SaleFigures {
    pub id: i64,
    pub name: String,
    /// Units on the shelf, sold (not cancelled) and held for shoppers in line.
    pub left: i64,
    pub sold: i64,
    pub held: i64,
    pub waiting: i64,
    pub admitted_last_minute: i64,
    /// None: no sale, only a brake.
    pub starts_at: Option<At>,
    pub ends_at: Option<At>,
}

type SaleRow = (i64, String, i64, i64, i64, i64, i64, Option<At>, Option<At>);

impl AdminDb {
    /// Orders placed in each of `minutes` (a key, its start, its end), and how many of them were
    /// placed at or after `recent` (the minutes must reach back to it): one range count each, on
    /// the orders' time index, the same statement on both databases.
    pub async fn order_counts(
        &self,
        minutes: &[(i64, At, At)],
        recent: At,
    ) -> Result<(Vec<(i64, i64)>, i64), StoreError> {
        let mut counts = Vec::with_capacity(minutes.len());
        let mut recent_count = 0;
        for &(key, from, until) in minutes {
            let (n, recent_n): (i64, i64) = self
                .one(
                    sql("SELECT COUNT(*), \
                         CAST(COALESCE(SUM(CASE WHEN created_at >= $3 THEN 1 ELSE 0 END), 0) \
                         AS BIGINT) FROM orders WHERE created_at >= $1 AND created_at < $2")
                    .bind(from)
                    .bind(until)
                    .bind(recent),
                )
                .await?;
            counts.push((key, n));
            recent_count += recent_n;
        }
        Ok((counts, recent_count))
    }

    /// Every product with a sale not yet over, or paused.
    pub async fn sale_figures(
        &self,
        now: At,
        minute_ago: At,
    ) -> Result<Vec<SaleFigures>, StoreError> {
        let rows: Vec<SaleRow> = self.all(sql("SELECT p.id, p.name, p.stock, \
               CAST(COALESCE((SELECT SUM(l.quantity) FROM order_lines l JOIN orders o ON o.id = l.order_id \
                 WHERE l.product_id = p.id AND o.status <> 'cancelled'), 0) AS BIGINT), \
               CAST(COALESCE((SELECT SUM(h.quantity) FROM holds h \
                 WHERE h.product_id = p.id AND h.state = 'live'), 0) AS BIGINT), \
               (SELECT COUNT(*) FROM queue_tickets t WHERE t.product_id = p.id AND t.state = 'waiting'), \
               (SELECT COUNT(*) FROM holds h WHERE h.product_id = p.id AND h.created_at >= $2), \
               s.starts_at, s.ends_at \
             FROM products p LEFT JOIN sales s ON s.product_id = p.id \
             WHERE (s.ends_at IS NOT NULL AND s.ends_at > $1) \
                OR EXISTS (SELECT 1 FROM brakes b WHERE b.product_id = p.id) \
             ORDER BY p.position, p.id").bind(now).bind(minute_ago)).await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    name,
                    left,
                    sold,
                    held,
                    waiting,
                    admitted_last_minute,
                    starts_at,
                    ends_at,
                )| {
                    SaleFigures {
                        id,
                        name,
                        left,
                        sold,
                        held,
                        waiting,
                        admitted_last_minute,
                        starts_at,
                        ends_at,
                    }
                },
            )
            .collect())
    }

    /// (live holds, units they hold)
    pub async fn holds_outstanding(&self) -> Result<(i64, i64), StoreError> {
        self.one(sql(
            "SELECT COUNT(*), CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM holds WHERE \
                    state = 'live'",
        ))
        .await
    }

    /// Paused product ids (0: the whole shop).
    pub async fn paused(&self) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = self
            .all(sql("SELECT product_id FROM brakes ORDER BY product_id"))
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    pub async fn product_exists(&self, id: i64) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = self
            .optional(sql("SELECT id FROM products WHERE id = $1").bind(id))
            .await?;
        Ok(row.is_some())
    }

    /// Pauses checkout for `product_id` (0: the whole shop); pausing twice changes nothing.
    pub async fn pause(&self, product_id: i64, by: &str, now: At) -> Result<(), StoreError> {
        self.execute(
            sql(
                "INSERT INTO brakes (product_id, paused_at, paused_by) VALUES ($1, $2, $3) \
             ON CONFLICT (product_id) DO NOTHING",
            )
            .bind(product_id)
            .bind(now)
            .bind(by),
        )
        .await
        .map(|_| ())
    }

    /// Resumes; holds that the pause kept alive get at least `grace_until` to check out in.
    pub async fn resume(&self, product_id: i64, grace_until: At) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.execute(sql("DELETE FROM brakes WHERE product_id = $1").bind(product_id))
            .await?;
        tx.execute(
            sql(
                "UPDATE holds SET expires_at = $1 WHERE state = 'live' AND expires_at < $1 \
                 AND ($2 = 0 OR product_id = $2)",
            )
            .bind(grace_until)
            .bind(product_id),
        )
        .await?;
        tx.commit().await
    }
}
