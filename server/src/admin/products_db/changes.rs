//! The owner's changes to products, each in one transaction with its line in the audit log.

use super::super::db::AdminDb;
use super::super::pages::{lang, money, t};
use super::audit_text::{describe_edit, describe_sale};
use super::{
    next_sale, product, small_of, Outcome, ProductFields, ProductRow, SaleInput, PLACEHOLDER_IMAGE,
    PRODUCT_SELECT,
};
use crate::store::sql::{sql, Tx};
use app::domain::At;
use app::domain::SalePhase;
use app::rules::clock::Now;
use app::store::StoreError;

/// One line of a product's audit log.
struct AuditLine<'a> {
    product: i64,
    action: &'a str,
    detail: &'a str,
    /// For a stock change: by how much, and the stock after it.
    stock_delta: Option<i64>,
    stock_after: Option<i64>,
}

impl<'a> AuditLine<'a> {
    fn new(product: i64, action: &'a str, detail: &'a str) -> AuditLine<'a> {
        AuditLine {
            product,
            action,
            detail,
            stock_delta: None,
            stock_after: None,
        }
    }

    fn stock(self, delta: Option<i64>, after: Option<i64>) -> AuditLine<'a> {
        AuditLine {
            stock_delta: delta,
            stock_after: after,
            ..self
        }
    }
}

/// Writes the audit line inside the change's transaction.
async fn audit(tx: &mut Tx, line: AuditLine<'_>, actor: &str, now: At) -> Result<(), StoreError> {
    tx.execute(
        sql("INSERT INTO product_audit \
             (product_id, action, detail, stock_delta, stock_after, actor, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(line.product)
        .bind(line.action)
        .bind(line.detail)
        .bind(line.stock_delta)
        .bind(line.stock_after)
        .bind(actor)
        .bind(now),
    )
    .await
    .map(|_| ())
}

/// Takes the product's row for this transaction: its (stock, archived), or `None` if there is no
/// such product. On Postgres the no-op update locks the row until the commit, as `SELECT … FOR
/// UPDATE` would (SQLite has no such clause, and needs none: its transaction holds the whole
/// database's write lock from `BEGIN IMMEDIATE`, `Db::begin`).
async fn lock_product(tx: &mut Tx, id: i64) -> Result<Option<(i64, bool)>, StoreError> {
    tx.optional(
        sql("UPDATE products SET archived = archived WHERE id = $1 RETURNING stock, archived")
            .bind(id),
    )
    .await
}

/// The product as it stands inside the transaction (after [`lock_product`], so it exists).
async fn product_in(tx: &mut Tx, id: i64) -> Result<super::AdminProduct, StoreError> {
    let text = format!("{PRODUCT_SELECT} WHERE p.id = $1");
    let row: ProductRow = tx.one(sql(&text).bind(id)).await?;
    Ok(product(row))
}

impl AdminDb {
    /// A new product at the end of the catalogue, with its opening stock; refused when the
    /// address (slug) is taken.
    pub async fn create_product(
        &self,
        fields: &ProductFields,
        stock: i64,
        actor: &str,
        now: At,
    ) -> Result<Outcome<i64>, StoreError> {
        let mut tx = self.begin().await?;
        let id: Option<(i64,)> = tx.optional(
            sql("INSERT INTO products (slug, name, description, price_cents, stock, image_url, \
                    flash_sale, position, created_at, max_per_order) SELECT $1, $2, $3, $4, $5, \
                    $6, $7, COALESCE(MAX(position), 0) + 1, $8, $9 FROM products WHERE TRUE ON \
                    CONFLICT (slug) DO NOTHING RETURNING id")
                .bind(&fields.slug)
                .bind(&fields.name)
                .bind(&fields.description)
                .bind(fields.price_cents)
                .bind(stock)
                .bind(PLACEHOLDER_IMAGE)
                .bind(false)
                .bind(now)
                .bind(fields.max_per_order)).await?;
        let Some((id,)) = id else {
            return Ok(Outcome::Refused(t!(
                admin_err_slug_taken,
                slug = &fields.slug
            )));
        };
        // the log is written in the language of the owner who made the change
        let detail = t!(
            admin_log_created,
            name = &fields.name,
            price = money(fields.price_cents)
        );
        audit(&mut tx, AuditLine::new(id, "created", &detail), actor, now).await?;
        if stock > 0 {
            audit(
                &mut tx,
                AuditLine::new(id, "stock", &t!(admin_log_opening_stock))
                    .stock(Some(stock), Some(stock)),
                actor,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Outcome::Done(id))
    }

    /// Changes the product's name, address, description, price and per-order limit.
    pub async fn update_product(
        &self,
        id: i64,
        fields: &ProductFields,
        actor: &str,
        now: At,
    ) -> Result<Outcome<()>, StoreError> {
        let Some(before) = self.product(id).await? else {
            return Ok(Outcome::NotFound);
        };
        let detail = describe_edit(&before, fields);
        if detail.is_empty() {
            return Ok(Outcome::Done(()));
        }
        let mut tx = self.begin().await?;
        if lock_product(&mut tx, id).await?.is_none() {
            return Ok(Outcome::NotFound);
        }
        let taken: Option<(i64,)> = tx
            .optional(
                sql("SELECT id FROM products WHERE slug = $1 AND id <> $2")
                    .bind(&fields.slug)
                    .bind(id),
            )
            .await?;
        if taken.is_some() {
            return Ok(Outcome::Refused(t!(
                admin_err_slug_taken,
                slug = &fields.slug
            )));
        }
        let done = tx.execute(
            sql("UPDATE products SET slug = $1, name = $2, description = $3, price_cents = $4, \
                    max_per_order = $5 WHERE id = $6")
                .bind(&fields.slug)
                .bind(&fields.name)
                .bind(&fields.description)
                .bind(fields.price_cents)
                .bind(fields.max_per_order)
                .bind(id)).await?;
        if done == 0 {
            return Ok(Outcome::NotFound);
        }
        // a new name or description is the owner's words in every language: the seeded
        // translations of the old ones would now say something else
        if before.name != fields.name || before.description != fields.description {
            tx.execute(sql("DELETE FROM product_texts WHERE product_id = $1").bind(id))
                .await?;
        }
        audit(&mut tx, AuditLine::new(id, "edited", &detail), actor, now).await?;
        tx.commit().await?;
        Ok(Outcome::Done(()))
    }

    /// Adds (or with a negative `delta` takes away) free stock, with the owner's reason; refused
    /// if it would take more than is free. Returns the free stock after.
    pub async fn adjust_stock(
        &self,
        id: i64,
        delta: i64,
        reason: &str,
        actor: &str,
        now: At,
    ) -> Result<Outcome<i64>, StoreError> {
        let mut tx = self.begin().await?;
        let after: Option<(i64,)> = tx
            .optional(
                sql(
                    "UPDATE products SET stock = stock + $1 WHERE id = $2 AND stock + $1 >= 0 \
                 RETURNING stock",
                )
                .bind(delta)
                .bind(id),
            )
            .await?;
        let Some((after,)) = after else {
            let stock: Option<(i64,)> = tx
                .optional(sql("SELECT stock FROM products WHERE id = $1").bind(id))
                .await?;
            return Ok(match stock {
                None => Outcome::NotFound,
                Some((stock,)) => Outcome::Refused(t!(admin_err_stock_free, stock = stock)),
            });
        };
        audit(
            &mut tx,
            AuditLine::new(id, "stock", reason).stock(Some(delta), Some(after)),
            actor,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Outcome::Done(after))
    }

    /// Archives a product (no longer shown or sold; its orders stay) or brings it back. A product
    /// with a sale announced or running cannot be archived: end the sale first.
    pub async fn set_archived(
        &self,
        id: i64,
        archived: bool,
        actor: &str,
        now: At,
    ) -> Result<Outcome<()>, StoreError> {
        let mut tx = self.begin().await?;
        let Some((_, was)) = lock_product(&mut tx, id).await? else {
            return Ok(Outcome::NotFound);
        };
        if was == archived {
            return Ok(Outcome::Done(()));
        }
        if archived {
            let sale: Option<(At,)> = tx
                .optional(
                    sql("SELECT ends_at FROM sales WHERE product_id = $1 AND ends_at > $2")
                        .bind(id)
                        .bind(now),
                )
                .await?;
            if sale.is_some() {
                return Ok(Outcome::Refused(t!(admin_err_archive_sale)));
            }
        }
        tx.execute(
            sql("UPDATE products SET archived = $1 WHERE id = $2")
                .bind(archived)
                .bind(id),
        )
        .await?;
        let action = if archived { "archived" } else { "restored" };
        audit(&mut tx, AuditLine::new(id, action, ""), actor, now).await?;
        tx.commit().await?;
        Ok(Outcome::Done(()))
    }

    /// Adds a picture after the product's others; the first one also becomes the main picture
    /// (the catalogue's card). `small` and `large` are the stored sizes' URLs.
    pub async fn add_picture(
        &self,
        id: i64,
        small: &str,
        large: &str,
        alt: &str,
        actor: &str,
        now: At,
    ) -> Result<Outcome<()>, StoreError> {
        let mut tx = self.begin().await?;
        if lock_product(&mut tx, id).await?.is_none() {
            return Ok(Outcome::NotFound);
        }
        let (count, next): (i64, i64) = tx
            .one(
                sql(
                    "SELECT COUNT(*), COALESCE(MAX(position), -1) + 1 FROM product_images \
                 WHERE product_id = $1 AND url LIKE '/media/%'",
                )
                .bind(id),
            )
            .await?;
        if count >= 8 {
            return Ok(Outcome::Refused(t!(admin_err_pictures_full)));
        }
        if count == 0 {
            // the first uploaded picture replaces the placeholder (or the demo drawings)
            tx.execute(sql("DELETE FROM product_images WHERE product_id = $1").bind(id))
                .await?;
            tx.execute(
                sql("UPDATE products SET image_url = $1 WHERE id = $2")
                    .bind(small)
                    .bind(id),
            )
            .await?;
        }
        tx.execute(
            sql(
                "INSERT INTO product_images (product_id, position, url, alt) VALUES ($1, $2, \
                    $3, $4)",
            )
            .bind(id)
            .bind(if count == 0 { 0 } else { next })
            .bind(large)
            .bind(alt),
        )
        .await?;
        audit(
            &mut tx,
            AuditLine::new(id, "picture", &t!(admin_log_picture_added, url = large)),
            actor,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Outcome::Done(()))
    }

    /// Removes one picture; when it was the first, the next one becomes the main picture (or the
    /// placeholder, when none is left).
    pub async fn remove_picture(
        &self,
        id: i64,
        position: i64,
        actor: &str,
        now: At,
    ) -> Result<Outcome<()>, StoreError> {
        let mut tx = self.begin().await?;
        if lock_product(&mut tx, id).await?.is_none() {
            return Ok(Outcome::NotFound);
        }
        let removed: Option<(String,)> = tx
            .optional(
                sql(
                    "DELETE FROM product_images WHERE product_id = $1 AND position = $2 RETURNING \
                    url",
                )
                .bind(id)
                .bind(position),
            )
            .await?;
        let Some((url,)) = removed else {
            return Ok(Outcome::NotFound);
        };
        let first: Option<(String,)> = tx.optional(
            sql("SELECT url FROM product_images WHERE product_id = $1 ORDER BY position LIMIT 1")
                .bind(id)).await?;
        // the card shows the small size of the first picture that is left
        let main = first.map_or_else(|| PLACEHOLDER_IMAGE.to_owned(), |(url,)| small_of(&url));
        tx.execute(
            sql("UPDATE products SET image_url = $1 WHERE id = $2")
                .bind(&main)
                .bind(id),
        )
        .await?;
        audit(
            &mut tx,
            AuditLine::new(id, "picture", &t!(admin_log_picture_removed, url = url)),
            actor,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Outcome::Done(()))
    }

    /// Schedules a sale, or changes the one announced or running, within [`next_sale`]'s rules.
    /// A new sale (none before, or the last one over) starts every shopper's allowance afresh.
    pub async fn save_sale(
        &self,
        id: i64,
        input: &SaleInput,
        actor: &str,
        now: &Now,
    ) -> Result<Outcome<()>, StoreError> {
        let mut tx = self.begin().await?;
        let Some((_, archived)) = lock_product(&mut tx, id).await? else {
            return Ok(Outcome::NotFound);
        };
        if archived {
            return Ok(Outcome::Refused(t!(admin_err_sale_archived)));
        }
        let current = product_in(&mut tx, id).await?;
        let fresh = current
            .sale
            .as_ref()
            .is_none_or(|s| s.phase(now.instant()) == SalePhase::Ended);
        let sale = match next_sale(
            current.sale.as_ref(),
            input,
            current.in_line,
            current.price_cents,
            now.instant(),
        ) {
            Ok(sale) => sale,
            Err(refusal) => return Ok(Outcome::Refused(refusal.said(lang(), money))),
        };
        if fresh {
            tx.execute(sql("DELETE FROM customer_units WHERE product_id = $1").bind(id))
                .await?;
        }
        tx.execute(
            sql(
                "INSERT INTO sales (product_id, starts_at, ends_at, sale_price_cents, \
                 per_customer_limit, waiting_room, hold_seconds, pay_seconds) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (product_id) DO UPDATE SET starts_at = excluded.starts_at, \
                 ends_at = excluded.ends_at, sale_price_cents = excluded.sale_price_cents, \
                 per_customer_limit = excluded.per_customer_limit, \
                 waiting_room = excluded.waiting_room, hold_seconds = excluded.hold_seconds, \
                 pay_seconds = excluded.pay_seconds",
            )
            .bind(id)
            .bind(sale.starts_at)
            .bind(sale.ends_at)
            .bind(sale.sale_price_cents)
            .bind(sale.per_customer_limit)
            .bind(sale.waiting_room)
            .bind(sale.hold_seconds)
            .bind(sale.pay_seconds),
        )
        .await?;
        let verb = if fresh {
            t!(admin_log_sale_scheduled)
        } else {
            t!(admin_log_sale_changed)
        };
        audit(
            &mut tx,
            AuditLine::new(id, "sale", &format!("{verb}: {}", describe_sale(&sale))),
            actor,
            now.instant(),
        )
        .await?;
        tx.commit().await?;
        Ok(Outcome::Done(()))
    }

    /// Ends a running sale now (the line is told it is over, holds run out as usual), or calls
    /// off one that has not started — only while nobody is in its line.
    pub async fn end_sale(
        &self,
        id: i64,
        actor: &str,
        now: &Now,
    ) -> Result<Outcome<()>, StoreError> {
        let mut tx = self.begin().await?;
        if lock_product(&mut tx, id).await?.is_none() {
            return Ok(Outcome::NotFound);
        }
        let current = product_in(&mut tx, id).await?;
        let Some(sale) = current.sale else {
            return Ok(Outcome::Refused(t!(admin_err_no_sale)));
        };
        let detail = match sale.phase(now.instant()) {
            SalePhase::Ended => return Ok(Outcome::Refused(t!(admin_err_sale_over))),
            SalePhase::Live => {
                tx.execute(
                    sql("UPDATE sales SET ends_at = $1 WHERE product_id = $2")
                        .bind(now.instant())
                        .bind(id),
                )
                .await?;
                t!(admin_log_sale_ended_early)
            }
            SalePhase::Upcoming if current.in_line > 0 => {
                return Ok(Outcome::Refused(t!(
                    admin_err_call_off_line,
                    count = current.in_line
                )))
            }
            SalePhase::Upcoming => {
                tx.execute(sql("DELETE FROM sales WHERE product_id = $1").bind(id))
                    .await?;
                t!(admin_log_sale_called_off)
            }
        };
        audit(
            &mut tx,
            AuditLine::new(id, "sale", &detail),
            actor,
            now.instant(),
        )
        .await?;
        tx.commit().await?;
        Ok(Outcome::Done(()))
    }
}
