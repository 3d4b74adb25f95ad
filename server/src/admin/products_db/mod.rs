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
//!
//! The types and reads are here; the changes, each with its audit line, in `changes.rs`; the audit
//! log's wording in `audit_text.rs`; the sale rules in `app::rules::sale_settings`.

mod audit_text;
mod changes;

use super::db::AdminDb;
use crate::store::sql::sql;
pub use app::rules::{next_sale, SaleInput, SaleSettings};
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
    pub sale: Option<SaleSettings>,
    /// Shoppers waiting or admitted in its line.
    pub in_line: i64,
    /// Units in live holds.
    pub held: i64,
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
    pub at: app::domain::At,
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
    starts_at: Option<app::domain::At>,
    ends_at: Option<app::domain::At>,
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
        (Some(starts_at), Some(ends_at), Some(sale_price_cents)) => Some(SaleSettings {
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

impl AdminDb {
    /// Every product, archived ones last.
    pub async fn list_products(&self) -> Result<Vec<AdminProduct>, StoreError> {
        let text = format!("{PRODUCT_SELECT} ORDER BY p.archived, p.position, p.id");
        let rows: Vec<ProductRow> = self.all(sql(&text)).await?;
        Ok(rows.into_iter().map(product).collect())
    }

    pub async fn product(&self, id: i64) -> Result<Option<AdminProduct>, StoreError> {
        let text = format!("{PRODUCT_SELECT} WHERE p.id = $1");
        let row: Option<ProductRow> = self.optional(sql(&text).bind(id)).await?;
        Ok(row.map(product))
    }

    pub async fn pictures(&self, id: i64) -> Result<Vec<Picture>, StoreError> {
        let rows: Vec<(i64, String, String)> = self
            .all(
                sql(
                    "SELECT position, url, alt FROM product_images WHERE product_id = $1 ORDER BY \
                    position",
                )
                .bind(id),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(position, url, alt)| Picture { position, url, alt })
            .collect())
    }

    /// The product's audit log, newest first.
    pub async fn audit(&self, id: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        type Row = (
            String,
            String,
            Option<i64>,
            Option<i64>,
            String,
            app::domain::At,
        );
        let rows: Vec<Row> = self.all(
            sql("SELECT action, detail, stock_delta, stock_after, actor, at FROM product_audit \
                    WHERE product_id = $1 ORDER BY id DESC LIMIT $2")
                .bind(id)
                .bind(limit)).await?;
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

    #[test]
    fn the_small_picture_is_named_after_the_large_one() {
        assert_eq!(small_of("/media/ab12-l.jpg"), "/media/ab12-s.jpg");
        assert_eq!(small_of("/images/mug.svg"), "/images/mug.svg");
    }
}
