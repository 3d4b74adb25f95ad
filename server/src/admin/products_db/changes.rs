//! The owner's changes to products, each in one transaction with its line in the audit log.

use super::super::db::{on_pool, AdminDb};
use super::super::pages::money;
use super::audit_text::{describe_edit, describe_sale};
use super::{
    next_sale, product, small_of, Outcome, ProductFields, ProductRow, SaleInput, PLACEHOLDER_IMAGE,
    PRODUCT_SELECT,
};
use crate::store::classify;
use app::domain::SalePhase;
use app::store::StoreError;

/// Inserts one audit line inside `$tx` (with the stock change and the stock after, for a stock
/// adjustment).
macro_rules! audit {
    ($tx:expr, $product:expr, $action:expr, $detail:expr, $actor:expr, $now:expr) => {
        audit!($tx, $product, $action, $detail, None::<i64>, None::<i64>, $actor, $now)
    };
    ($tx:expr, $product:expr, $action:expr, $detail:expr, $delta:expr, $after:expr, $actor:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO product_audit (product_id, action, detail, stock_delta, stock_after, actor, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($product)
        .bind($action)
        .bind($detail)
        .bind($delta)
        .bind($after)
        .bind($actor)
        .bind($now)
        .execute(&mut *$tx)
        .await
        .map_err(classify)
    };
}

/// Takes the product's row for this transaction (see the module's note); `None` if there is
/// no such product.
macro_rules! lock_product {
    ($tx:expr, $id:expr) => {
        sqlx::query_as::<_, (i64, bool)>(
            "UPDATE products SET archived = archived WHERE id = $1 RETURNING stock, archived",
        )
        .bind($id)
        .fetch_optional(&mut *$tx)
        .await
        .map_err(classify)
    };
}

/// The product as it stands inside `$tx` (after [`lock_product!`], so it exists).
macro_rules! product_in {
    ($tx:expr, $id:expr) => {
        sqlx::query_as::<_, ProductRow>(&format!("{PRODUCT_SELECT} WHERE p.id = $1"))
            .bind($id)
            .fetch_one(&mut *$tx)
            .await
            .map(product)
            .map_err(classify)
    };
}

impl AdminDb {
    /// A new product at the end of the catalogue, with its opening stock; refused when the
    /// address (slug) is taken.
    pub async fn create_product(
        &self,
        fields: &ProductFields,
        stock: i64,
        actor: &str,
        now: &str,
    ) -> Result<Outcome<i64>, StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(classify)?;
            let id: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO products (slug, name, description, price_cents, stock, image_url, \
                 flash_sale, position, created_at, max_per_order) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, COALESCE(MAX(position), 0) + 1, $8, $9 FROM products \
                 WHERE TRUE ON CONFLICT (slug) DO NOTHING RETURNING id",
            )
            .bind(&fields.slug)
            .bind(&fields.name)
            .bind(&fields.description)
            .bind(fields.price_cents)
            .bind(stock)
            .bind(PLACEHOLDER_IMAGE)
            .bind(false)
            .bind(now)
            .bind(fields.max_per_order)
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?;
            let Some((id,)) = id else {
                return Ok(Outcome::Refused(format!(
                    "The address /p/{} is taken by another product.",
                    fields.slug
                )));
            };
            let detail = format!("“{}” at {}", fields.name, money(fields.price_cents));
            audit!(tx, id, "created", &detail, actor, now)?;
            if stock > 0 {
                audit!(tx, id, "stock", "opening stock", Some(stock), Some(stock), actor, now)?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(Outcome::Done(id))
        })
    }

    /// Changes the product's name, address, description, price and per-order limit.
    pub async fn update_product(
        &self,
        id: i64,
        fields: &ProductFields,
        actor: &str,
        now: &str,
    ) -> Result<Outcome<()>, StoreError> {
        let Some(before) = self.product(id).await? else {
            return Ok(Outcome::NotFound);
        };
        let detail = describe_edit(&before, fields);
        if detail.is_empty() {
            return Ok(Outcome::Done(()));
        }
        on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(classify)?;
            if lock_product!(tx, id)?.is_none() {
                return Ok(Outcome::NotFound);
            }
            let taken: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM products WHERE slug = $1 AND id <> $2")
                    .bind(&fields.slug)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(classify)?;
            if taken.is_some() {
                return Ok(Outcome::Refused(format!(
                    "The address /p/{} is taken by another product.",
                    fields.slug
                )));
            }
            let done = sqlx::query(
                "UPDATE products SET slug = $1, name = $2, description = $3, price_cents = $4, \
                 max_per_order = $5 WHERE id = $6",
            )
            .bind(&fields.slug)
            .bind(&fields.name)
            .bind(&fields.description)
            .bind(fields.price_cents)
            .bind(fields.max_per_order)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            if done.rows_affected() == 0 {
                return Ok(Outcome::NotFound);
            }
            audit!(tx, id, "edited", &detail, actor, now)?;
            tx.commit().await.map_err(classify)?;
            Ok(Outcome::Done(()))
        })
    }

    /// Adds (or with a negative `delta` takes away) free stock, with the owner's reason; refused
    /// if it would take more than is free. Returns the free stock after.
    pub async fn adjust_stock(
        &self,
        id: i64,
        delta: i64,
        reason: &str,
        actor: &str,
        now: &str,
    ) -> Result<Outcome<i64>, StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(classify)?;
            let after: Option<(i64,)> = sqlx::query_as(
                "UPDATE products SET stock = stock + $1 WHERE id = $2 AND stock + $1 >= 0 \
                 RETURNING stock",
            )
            .bind(delta)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?;
            let Some((after,)) = after else {
                let stock: Option<(i64,)> = sqlx::query_as("SELECT stock FROM products WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(classify)?;
                return Ok(match stock {
                    None => Outcome::NotFound,
                    Some((stock,)) => Outcome::Refused(format!(
                        "Only {stock} are free to take away (units in orders and holds are not on the shelf)."
                    )),
                });
            };
            audit!(tx, id, "stock", reason, Some(delta), Some(after), actor, now)?;
            tx.commit().await.map_err(classify)?;
            Ok(Outcome::Done(after))
        })
    }

    /// Archives a product (no longer shown or sold; its orders stay) or brings it back. A product
    /// with a sale announced or running cannot be archived: end the sale first.
    pub async fn set_archived(
        &self,
        id: i64,
        archived: bool,
        actor: &str,
        now: &str,
    ) -> Result<Outcome<()>, StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(classify)?;
            let Some((_, was)) = lock_product!(tx, id)? else {
                return Ok(Outcome::NotFound);
            };
            if was == archived {
                return Ok(Outcome::Done(()));
            }
            if archived {
                let sale: Option<(String,)> = sqlx::query_as(
                    "SELECT ends_at FROM sales WHERE product_id = $1 AND ends_at > $2",
                )
                .bind(id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
                if sale.is_some() {
                    return Ok(Outcome::Refused(
                        "This product has a sale announced or running: end the sale first.".to_owned(),
                    ));
                }
            }
            sqlx::query("UPDATE products SET archived = $1 WHERE id = $2")
                .bind(archived)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            let action = if archived { "archived" } else { "restored" };
            audit!(tx, id, action, "", actor, now)?;
            tx.commit().await.map_err(classify)?;
            Ok(Outcome::Done(()))
        })
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
        now: &str,
    ) -> Result<Outcome<()>, StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(classify)?;
            if lock_product!(tx, id)?.is_none() {
                return Ok(Outcome::NotFound);
            }
            let (count, next): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(*), COALESCE(MAX(position), -1) + 1 FROM product_images \
                 WHERE product_id = $1 AND url LIKE '/media/%'",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(classify)?;
            if count >= 8 {
                return Ok(Outcome::Refused("A product has at most 8 pictures: remove one first.".to_owned()));
            }
            if count == 0 {
                // the first uploaded picture replaces the placeholder (or the demo drawings)
                sqlx::query("DELETE FROM product_images WHERE product_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                sqlx::query("UPDATE products SET image_url = $1 WHERE id = $2")
                    .bind(small)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
            sqlx::query("INSERT INTO product_images (product_id, position, url, alt) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(if count == 0 { 0 } else { next })
                .bind(large)
                .bind(alt)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            audit!(tx, id, "picture", &format!("added {large}"), actor, now)?;
            tx.commit().await.map_err(classify)?;
            Ok(Outcome::Done(()))
        })
    }

    /// Removes one picture; when it was the first, the next one becomes the main picture (or the
    /// placeholder, when none is left).
    pub async fn remove_picture(
        &self,
        id: i64,
        position: i64,
        actor: &str,
        now: &str,
    ) -> Result<Outcome<()>, StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(classify)?;
            if lock_product!(tx, id)?.is_none() {
                return Ok(Outcome::NotFound);
            }
            let removed: Option<(String,)> = sqlx::query_as(
                "DELETE FROM product_images WHERE product_id = $1 AND position = $2 RETURNING url",
            )
            .bind(id)
            .bind(position)
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?;
            let Some((url,)) = removed else {
                return Ok(Outcome::NotFound);
            };
            let first: Option<(String,)> = sqlx::query_as(
                "SELECT url FROM product_images WHERE product_id = $1 ORDER BY position LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?;
            // the card shows the small size of the first picture that is left
            let main = first.map_or_else(
                || PLACEHOLDER_IMAGE.to_owned(),
                |(url,)| small_of(&url),
            );
            sqlx::query("UPDATE products SET image_url = $1 WHERE id = $2")
                .bind(&main)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            audit!(tx, id, "picture", &format!("removed {url}"), actor, now)?;
            tx.commit().await.map_err(classify)?;
            Ok(Outcome::Done(()))
        })
    }

    /// Schedules a sale, or changes the one announced or running, within [`next_sale`]'s rules.
    /// A new sale (none before, or the last one over) starts every shopper's allowance afresh.
    pub async fn save_sale(
        &self,
        id: i64,
        input: &SaleInput,
        actor: &str,
        now: &str,
    ) -> Result<Outcome<()>, StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(classify)?;
            let Some((_, archived)) = lock_product!(tx, id)? else {
                return Ok(Outcome::NotFound);
            };
            if archived {
                return Ok(Outcome::Refused("An archived product cannot go on sale: restore it first.".to_owned()));
            }
            let current = product_in!(tx, id)?;
            let fresh = current
                .sale
                .as_ref()
                .is_none_or(|s| s.phase(now) == SalePhase::Ended);
            let sale = match next_sale(current.sale.as_ref(), input, current.in_line, current.price_cents, now) {
                Ok(sale) => sale,
                Err(reason) => return Ok(Outcome::Refused(reason)),
            };
            if fresh {
                sqlx::query("DELETE FROM customer_units WHERE product_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
            sqlx::query(
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
            .bind(&sale.starts_at)
            .bind(&sale.ends_at)
            .bind(sale.sale_price_cents)
            .bind(sale.per_customer_limit)
            .bind(sale.waiting_room)
            .bind(sale.hold_seconds)
            .bind(sale.pay_seconds)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            let verb = if fresh { "scheduled" } else { "changed" };
            audit!(tx, id, "sale", &format!("{verb}: {}", describe_sale(&sale)), actor, now)?;
            tx.commit().await.map_err(classify)?;
            Ok(Outcome::Done(()))
        })
    }

    /// Ends a running sale now (the line is told it is over, holds run out as usual), or calls
    /// off one that has not started — only while nobody is in its line.
    pub async fn end_sale(
        &self,
        id: i64,
        actor: &str,
        now: &str,
    ) -> Result<Outcome<()>, StoreError> {
        on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(classify)?;
            if lock_product!(tx, id)?.is_none() {
                return Ok(Outcome::NotFound);
            }
            let current = product_in!(tx, id)?;
            let Some(sale) = current.sale else {
                return Ok(Outcome::Refused("This product has no sale.".to_owned()));
            };
            let detail = match sale.phase(now) {
                SalePhase::Ended => return Ok(Outcome::Refused("This sale is already over.".to_owned())),
                SalePhase::Live => {
                    sqlx::query("UPDATE sales SET ends_at = $1 WHERE product_id = $2")
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    "ended early"
                }
                SalePhase::Upcoming if current.in_line > 0 => {
                    return Ok(Outcome::Refused(format!(
                        "{} shoppers are already in the line for this sale; it cannot be called off. Let it start, then end it.",
                        current.in_line
                    )))
                }
                SalePhase::Upcoming => {
                    sqlx::query("DELETE FROM sales WHERE product_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    "called off before the start"
                }
            };
            audit!(tx, id, "sale", detail, actor, now)?;
            tx.commit().await.map_err(classify)?;
            Ok(Outcome::Done(()))
        })
    }
}
