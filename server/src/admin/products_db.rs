//! The owner's reads and writes on products, the same SQL on SQLite and Postgres: the catalogue
//! with archived products too, creating and editing, archiving, stock adjustments, pictures and
//! the sale settings — each change with a line in the product's audit log, in the same
//! transaction.
//!
//! A change that depends on what is there now (a stock adjustment, archiving, the sale rules)
//! starts its transaction by writing the product's row: on SQLite that takes the write lock, on
//! Postgres the row lock, so two owners (or two servers) changing one product are served one
//! after the other and each sees what the other did. Stock itself only moves by conditional
//! updates (`stock + delta >= 0`), like the order desk's decrements.

use super::db::{on_pool, AdminDb};
use super::pages::money;
use crate::store::classify;
use app::domain::SalePhase;
use app::store::StoreError;

/// A product as the owner sees it, archived or not, with its stored sale (upcoming, running or
/// over) and what is outstanding in its waiting line.
#[derive(Debug, Clone)]
pub struct AdminProduct {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i64,
    pub image_url: String,
    pub archived: bool,
    pub max_per_order: Option<i64>,
    pub sale: Option<SaleRow>,
    /// Shoppers waiting or admitted in its line.
    pub in_line: i64,
    /// Units in live holds.
    pub held: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRow {
    pub starts_at: String,
    pub ends_at: String,
    pub sale_price_cents: i64,
    pub per_customer_limit: Option<i64>,
    pub waiting_room: bool,
    pub hold_seconds: i64,
    /// Orders placed during the sale and unpaid this long after are cancelled and restocked.
    pub pay_seconds: i64,
}

/// What the product form sets (already checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFields {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub max_per_order: Option<i64>,
}

pub struct AuditEntry {
    pub action: String,
    pub detail: String,
    pub stock_delta: Option<i64>,
    pub stock_after: Option<i64>,
    pub actor: String,
    pub at: String,
}

pub struct Picture {
    pub position: i64,
    pub url: String,
    pub alt: String,
}

/// What became of a change the owner asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    Done(T),
    NotFound,
    /// Nothing was changed, for this reason (shown to the owner as it is).
    Refused(String),
}

impl SaleRow {
    /// Where the sale stands at `now`.
    pub fn stage(&self, now: &str) -> SalePhase {
        SalePhase::at(&self.starts_at, &self.ends_at, now)
    }
}

pub const PLACEHOLDER_IMAGE: &str = "/images/placeholder.svg";

#[derive(sqlx::FromRow)]
struct ProductRow {
    id: i64,
    slug: String,
    name: String,
    description: String,
    price_cents: i64,
    stock: i64,
    image_url: String,
    archived: bool,
    max_per_order: Option<i64>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    sale_price_cents: Option<i64>,
    per_customer_limit: Option<i64>,
    waiting_room: Option<bool>,
    hold_seconds: Option<i64>,
    pay_seconds: Option<i64>,
    in_line: i64,
    held: i64,
}

const PRODUCT_SELECT: &str = "SELECT p.id, p.slug, p.name, p.description, p.price_cents, p.stock, \
     p.image_url, p.archived, p.max_per_order, s.starts_at, s.ends_at, s.sale_price_cents, \
     s.per_customer_limit, s.waiting_room, s.hold_seconds, s.pay_seconds, \
     (SELECT COUNT(*) FROM queue_tickets t WHERE t.product_id = p.id \
        AND t.state IN ('waiting', 'admitted')) AS in_line, \
     (SELECT CAST(COALESCE(SUM(h.quantity), 0) AS BIGINT) FROM holds h \
        WHERE h.product_id = p.id AND h.state = 'live') AS held \
     FROM products p LEFT JOIN sales s ON s.product_id = p.id";

fn product(r: ProductRow) -> AdminProduct {
    let sale = match (r.starts_at, r.ends_at, r.sale_price_cents) {
        (Some(starts_at), Some(ends_at), Some(sale_price_cents)) => Some(SaleRow {
            starts_at,
            ends_at,
            sale_price_cents,
            per_customer_limit: r.per_customer_limit,
            waiting_room: r.waiting_room.unwrap_or(false),
            hold_seconds: r.hold_seconds.unwrap_or(300),
            pay_seconds: r.pay_seconds.unwrap_or(900),
        }),
        _ => None,
    };
    AdminProduct {
        id: r.id,
        slug: r.slug,
        name: r.name,
        description: r.description,
        price_cents: r.price_cents,
        stock: r.stock,
        image_url: r.image_url,
        archived: r.archived,
        max_per_order: r.max_per_order,
        sale,
        in_line: r.in_line,
        held: r.held,
    }
}

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

/// "price $12.00 → $14.00; name “Mug” → “Big mug”" — what an edit changed, for the audit log.
fn describe_edit(before: &AdminProduct, after: &ProductFields) -> String {
    let mut changes = Vec::new();
    if before.name != after.name {
        changes.push(format!("name “{}” → “{}”", before.name, after.name));
    }
    if before.slug != after.slug {
        changes.push(format!("address /p/{} → /p/{}", before.slug, after.slug));
    }
    if before.description != after.description {
        changes.push("description".to_owned());
    }
    if before.price_cents != after.price_cents {
        changes.push(format!(
            "price {} → {}",
            money(before.price_cents),
            money(after.price_cents)
        ));
    }
    if before.max_per_order != after.max_per_order {
        let limit = |l: Option<i64>| l.map_or_else(|| "none".to_owned(), |l| l.to_string());
        changes.push(format!(
            "per-order limit {} → {}",
            limit(before.max_per_order),
            limit(after.max_per_order)
        ));
    }
    changes.join("; ")
}

/// What the sale form asks for (already checked on its own: ends after it starts, and so on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleInput {
    pub starts_at: String,
    pub ends_at: String,
    pub sale_price_cents: i64,
    pub per_customer_limit: Option<i64>,
    pub waiting_room: bool,
    pub hold_seconds: i64,
    pub pay_seconds: i64,
}

/// The sale to store, given what is stored and what is in the line — or why not. A running sale
/// keeps its start, waiting room and per-customer limit (shoppers have queued and bought under
/// them); its end, price, hold time and payment window may change. A line with people in it keeps its waiting
/// room.
pub fn next_sale(
    current: Option<&SaleRow>,
    input: &SaleInput,
    in_line: i64,
    price_cents: i64,
    now: &str,
) -> Result<SaleRow, String> {
    if input.sale_price_cents > price_cents {
        return Err(format!(
            "The sale price ({}) is above the normal price ({}).",
            money(input.sale_price_cents),
            money(price_cents)
        ));
    }
    if input.ends_at.as_str() <= now {
        return Err("The sale's end is in the past.".to_owned());
    }
    match current.map(|c| (c, c.stage(now))) {
        Some((current, SalePhase::Live)) => {
            if input.ends_at.as_str() <= current.starts_at.as_str() {
                return Err("The sale's end is before its start.".to_owned());
            }
            Ok(SaleRow {
                starts_at: current.starts_at.clone(),
                ends_at: input.ends_at.clone(),
                sale_price_cents: input.sale_price_cents,
                per_customer_limit: current.per_customer_limit,
                waiting_room: current.waiting_room,
                hold_seconds: input.hold_seconds,
                pay_seconds: input.pay_seconds,
            })
        }
        _ => {
            if in_line > 0 && !input.waiting_room {
                return Err(format!(
                    "{in_line} shoppers are in the waiting line: the waiting room stays on."
                ));
            }
            if input.ends_at <= input.starts_at {
                return Err("The sale's end is before its start.".to_owned());
            }
            Ok(SaleRow {
                starts_at: input.starts_at.clone(),
                ends_at: input.ends_at.clone(),
                sale_price_cents: input.sale_price_cents,
                per_customer_limit: input.per_customer_limit,
                waiting_room: input.waiting_room,
                hold_seconds: input.hold_seconds,
                pay_seconds: input.pay_seconds,
            })
        }
    }
}

fn describe_sale(s: &SaleRow) -> String {
    format!(
        "{} to {} at {}; {}; {}; holds {} min; unpaid orders cancelled after {} min",
        s.starts_at,
        s.ends_at,
        money(s.sale_price_cents),
        s.per_customer_limit.map_or_else(
            || "no per-customer limit".to_owned(),
            |l| format!("{l} per customer")
        ),
        if s.waiting_room {
            "waiting room on"
        } else {
            "no waiting room"
        },
        s.hold_seconds / 60,
        s.pay_seconds / 60
    )
}

impl AdminDb {
    /// Every product, archived ones last.
    pub async fn list_products(&self) -> Result<Vec<AdminProduct>, StoreError> {
        let sql = format!("{PRODUCT_SELECT} ORDER BY p.archived, p.position, p.id");
        let rows: Vec<ProductRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .fetch_all(p)
            .await
            .map_err(classify))?;
        Ok(rows.into_iter().map(product).collect())
    }

    pub async fn product(&self, id: i64) -> Result<Option<AdminProduct>, StoreError> {
        let sql = format!("{PRODUCT_SELECT} WHERE p.id = $1");
        let row: Option<ProductRow> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await
            .map_err(classify))?;
        Ok(row.map(product))
    }

    pub async fn pictures(&self, id: i64) -> Result<Vec<Picture>, StoreError> {
        let rows: Vec<(i64, String, String)> = on_pool!(self, p => sqlx::query_as(
            "SELECT position, url, alt FROM product_images WHERE product_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(p)
        .await
        .map_err(classify))?;
        Ok(rows
            .into_iter()
            .map(|(position, url, alt)| Picture { position, url, alt })
            .collect())
    }

    /// The product's audit log, newest first.
    pub async fn audit(&self, id: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        type Row = (String, String, Option<i64>, Option<i64>, String, String);
        let rows: Vec<Row> = on_pool!(self, p => sqlx::query_as(
            "SELECT action, detail, stock_delta, stock_after, actor, at FROM product_audit \
             WHERE product_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(p)
        .await
        .map_err(classify))?;
        Ok(rows
            .into_iter()
            .map(
                |(action, detail, stock_delta, stock_after, actor, at)| AuditEntry {
                    action,
                    detail,
                    stock_delta,
                    stock_after,
                    actor,
                    at,
                },
            )
            .collect())
    }

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
                .is_none_or(|s| s.stage(now) == SalePhase::Ended);
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
            let detail = match sale.stage(now) {
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

/// The small size's URL for a large one (`/media/<id>-l.jpg` → `/media/<id>-s.jpg`); other
/// pictures (the demo's drawings) have one size.
fn small_of(url: &str) -> String {
    url.strip_suffix("-l.jpg")
        .map_or_else(|| url.to_owned(), |stem| format!("{stem}-s.jpg"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(starts: &str, ends: &str) -> SaleInput {
        SaleInput {
            starts_at: starts.to_owned(),
            ends_at: ends.to_owned(),
            sale_price_cents: 900,
            per_customer_limit: Some(2),
            waiting_room: true,
            hold_seconds: 300,
            pay_seconds: 900,
        }
    }

    const NOW: &str = "2026-12-02T12:00:00.000Z";

    #[test]
    fn a_new_sale_takes_the_form_as_it_is() {
        let asked = input("2026-12-03T09:00:00.000Z", "2026-12-04T09:00:00.000Z");
        let sale = next_sale(None, &asked, 0, 1000, NOW).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sale.starts_at, asked.starts_at);
        assert_eq!(sale.per_customer_limit, Some(2));
    }

    #[test]
    fn a_running_sale_keeps_its_start_waiting_room_and_limit() {
        let running = SaleRow {
            starts_at: "2026-12-01T09:00:00.000Z".into(),
            ends_at: "2026-12-05T09:00:00.000Z".into(),
            sale_price_cents: 800,
            per_customer_limit: Some(1),
            waiting_room: true,
            hold_seconds: 300,
            pay_seconds: 900,
        };
        let mut asked = input("2026-12-03T09:00:00.000Z", "2026-12-02T18:00:00.000Z");
        asked.waiting_room = false;
        asked.per_customer_limit = None;
        asked.hold_seconds = 600;
        asked.pay_seconds = 1800;
        let sale =
            next_sale(Some(&running), &asked, 40, 1000, NOW).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sale.starts_at, running.starts_at);
        assert!(sale.waiting_room);
        assert_eq!(sale.per_customer_limit, Some(1));
        assert_eq!(sale.ends_at, "2026-12-02T18:00:00.000Z");
        assert_eq!((sale.sale_price_cents, sale.hold_seconds), (900, 600));
        assert_eq!(sale.pay_seconds, 1800, "the payment window may change");
    }

    #[test]
    fn the_rules_refuse_what_would_strand_shoppers_or_make_no_sense() {
        let upcoming = SaleRow {
            starts_at: "2026-12-03T09:00:00.000Z".into(),
            ends_at: "2026-12-05T09:00:00.000Z".into(),
            sale_price_cents: 800,
            per_customer_limit: None,
            waiting_room: true,
            hold_seconds: 300,
            pay_seconds: 900,
        };
        let mut off = input("2026-12-03T09:00:00.000Z", "2026-12-04T09:00:00.000Z");
        off.waiting_room = false;
        assert!(
            next_sale(Some(&upcoming), &off, 3, 1000, NOW).is_err(),
            "people in line"
        );
        assert!(
            next_sale(Some(&upcoming), &off, 0, 1000, NOW).is_ok(),
            "empty line"
        );
        let past = input("2026-11-01T09:00:00.000Z", "2026-11-02T09:00:00.000Z");
        assert!(
            next_sale(None, &past, 0, 1000, NOW).is_err(),
            "ends in the past"
        );
        let backwards = input("2026-12-04T09:00:00.000Z", "2026-12-03T09:00:00.000Z");
        assert!(
            next_sale(None, &backwards, 0, 1000, NOW).is_err(),
            "ends before it starts"
        );
        let dear = input("2026-12-03T09:00:00.000Z", "2026-12-04T09:00:00.000Z");
        assert!(
            next_sale(None, &dear, 0, 500, NOW).is_err(),
            "above the normal price"
        );
    }

    #[test]
    fn the_small_picture_is_named_after_the_large_one() {
        assert_eq!(small_of("/media/ab12-l.jpg"), "/media/ab12-s.jpg");
        assert_eq!(small_of("/images/mug.svg"), "/images/mug.svg");
    }
}
