//! The SQLite backend: WAL, `synchronous=FULL`, one writer connection taking `BEGIN IMMEDIATE`
//! transactions, and a pool of readers.
//!
//! Orders go through the order desk (`crate::desk`): each batch is ONE write transaction, and each
//! order inside it a savepoint holding its idempotency check, a conditional stock decrement per
//! line, the order and its lines at the database's prices, and the idempotency key. One commit,
//! then the answers.

use super::classify;
use crate::desk::{BatchWriter, OrderDesk, Outcome};
use app::domain::{
    Customer, IdempotencyKey, NewOrder, OrderCode, OrderLineView, OrderStatus, OrderView,
    ProductImage, ProductView, Quantity,
};
use app::store::{CheckoutError, ProductKey, Store, StoreError};
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// How long a statement waits for a lock before SQLite reports busy. Writers queue on the single
/// writer connection first, so this is a last resort (another process holding the file).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const READERS: u32 = 8;

#[derive(Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    desk: OrderDesk,
}

/// Orders waiting for the desk before new ones are told to retry.
const DESK_QUEUE: usize = 8192;
/// Orders committed together at most (one transaction, one fsync).
const DESK_BATCH: usize = 256;

type ProductRow = (i64, String, String, String, i64, i64, String, bool);

const PRODUCT_COLUMNS: &str =
    "id, slug, name, description, price_cents, stock, image_url, flash_sale";

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url` (`sqlite://path`).
    pub async fn open(url: &str) -> anyhow::Result<SqliteStore> {
        use anyhow::Context;
        let base = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("bad SQLite URL {url}"))?
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let write_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // an acknowledged order survives power loss: fsync on every commit
            .synchronous(SqliteSynchronous::Full);
        // one writer: writes queue fairly in the pool rather than spinning on SQLITE_BUSY
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(write_options)
            .await
            .with_context(|| format!("cannot open the database {url}"))?;
        sqlx::migrate!("../migrations/sqlite")
            .run(&write)
            .await
            .context("database migration failed")?;
        let read = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(base.read_only(true))
            .await
            .context("cannot open database readers")?;
        let (desk, _writer_task) = OrderDesk::start(
            SqliteBatchWriter {
                write: write.clone(),
            },
            DESK_QUEUE,
            DESK_BATCH,
        );
        Ok(SqliteStore { read, write, desk })
    }

    /// The writer pool, for seeding and for tests that set up data.
    pub fn writer(&self) -> &SqlitePool {
        &self.write
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    async fn images_for(&self, ids: &[i64]) -> Result<Vec<(i64, ProductImage)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT product_id, url, alt FROM product_images WHERE product_id IN ({}) \
             ORDER BY product_id, position",
            placeholders(ids.len())
        );
        let mut q = sqlx::query_as::<_, (i64, String, String)>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&self.read).await.map_err(classify)?;
        Ok(rows
            .into_iter()
            .map(|(id, url, alt)| (id, ProductImage { url, alt }))
            .collect())
    }

    async fn with_images(&self, rows: Vec<ProductRow>) -> Result<Vec<ProductView>, StoreError> {
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let images = self.images_for(&ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut images: Vec<ProductImage> = images
                    .iter()
                    .filter(|(id, _)| *id == r.0)
                    .map(|(_, img)| img.clone())
                    .collect();
                if images.is_empty() {
                    images.push(ProductImage {
                        url: r.6.clone(),
                        alt: r.2.clone(),
                    });
                }
                ProductView {
                    id: r.0,
                    slug: r.1,
                    name: r.2,
                    description: r.3,
                    price_cents: r.4,
                    stock: r.5,
                    image_url: r.6,
                    images,
                    flash_sale: r.7,
                }
            })
            .collect())
    }
}

/// The SQLite side of the order desk: one `BEGIN IMMEDIATE` transaction per batch and a savepoint
/// per order, so an order that cannot be filled is undone alone while the rest commit.
struct SqliteBatchWriter {
    write: SqlitePool,
}

#[async_trait]
impl BatchWriter for SqliteBatchWriter {
    #[tracing::instrument(skip_all, fields(batch.size = orders.len()))]
    async fn write_batch(&mut self, orders: &[NewOrder]) -> Result<Vec<Outcome>, StoreError> {
        let mut tx = self
            .write
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(classify)?;
        let mut outcomes = Vec::with_capacity(orders.len());
        for order in orders {
            let outcome = if order.lines.len() == 1 {
                // A one-line order is refused (replayed key, sold out, unknown product) before
                // it writes anything, so it needs no savepoint: two statements fewer per order
                // on the hot path. A storage error after a write sinks the whole batch instead.
                let outcome = place_in_tx(&mut tx, order).await;
                if let Err(CheckoutError::Store(e)) = outcome {
                    return Err(e);
                }
                outcome
            } else {
                savepoint(&mut tx, "SAVEPOINT one_order").await?;
                let outcome = place_in_tx(&mut tx, order).await;
                if outcome.is_err() {
                    savepoint(&mut tx, "ROLLBACK TO one_order").await?;
                }
                savepoint(&mut tx, "RELEASE one_order").await?;
                outcome
            };
            outcomes.push(outcome);
        }
        // one fsync for the whole batch (synchronous=FULL); nobody is answered before it
        tx.commit().await.map_err(classify)?;
        Ok(outcomes)
    }
}

async fn savepoint(
    tx: &mut Transaction<'static, Sqlite>,
    sql: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(sql)
        .execute(&mut **tx)
        .await
        .map(|_| ())
        .map_err(classify)
}

/// One order inside the batch's transaction: idempotency check, a conditional decrement per line,
/// the order and its lines at the database's prices, the idempotency key.
async fn place_in_tx(
    tx: &mut Transaction<'static, Sqlite>,
    order: &NewOrder,
) -> Result<OrderView, CheckoutError> {
    let fingerprint = fingerprint_hash(&order.fingerprint());
    if let Some(existing) = replay(tx, &order.idempotency_key, &fingerprint).await? {
        return Ok(existing);
    }

    let mut lines = Vec::with_capacity(order.lines.len());
    let mut total: i64 = 0;
    for (product_id, quantity) in &order.lines {
        let line = take_stock(tx, *product_id, *quantity).await?;
        total = total
            .checked_add(line.line_total_cents)
            .ok_or_else(|| StoreError::Unexpected("order total overflows".into()))?;
        lines.push(line);
    }

    let created_at = now_utc();
    let (order_id, code) = insert_order(tx, &order.customer, total, &created_at).await?;
    for line in &lines {
        sqlx::query(
            "INSERT INTO order_lines (order_id, product_id, product_name, unit_price_cents, quantity) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(order_id)
        .bind(line.product_id)
        .bind(&line.product_name)
        .bind(line.unit_price_cents)
        .bind(i64::from(line.quantity))
        .execute(&mut **tx)
        .await
        .map_err(classify)?;
    }
    sqlx::query(
        "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(order.idempotency_key.as_str())
    .bind(&fingerprint)
    .bind(order_id)
    .bind(&created_at)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;

    let c = &order.customer;
    Ok(OrderView {
        order_code: code,
        status: OrderStatus::AwaitingPayment,
        total_cents: total,
        lines,
        customer_name: c.name.as_str().to_owned(),
        phone: c.phone.as_str().to_owned(),
        address: c.address.as_str().to_owned(),
        note: c.note.as_str().to_owned(),
        created_at,
    })
}

/// If this key was used before: the first order (same request) or `KeyReused` (different one).
async fn replay(
    tx: &mut Transaction<'static, Sqlite>,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<OrderView>, CheckoutError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT k.request_hash, o.code FROM idempotency_keys k JOIN orders o ON o.id = k.order_id \
         WHERE k.key = ?",
    )
    .bind(key.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(classify)?;
    let Some((hash, code)) = row else {
        return Ok(None);
    };
    if hash != fingerprint {
        return Err(CheckoutError::KeyReused);
    }
    let code = OrderCode::parse(&code).map_err(StoreError::Unexpected)?;
    let order = load_order(tx, &code)
        .await?
        .ok_or_else(|| StoreError::Unexpected("idempotency key without its order".into()))?;
    Ok(Some(order))
}

/// The conditional decrement: succeeds only if enough stock is there at this instant. A row
/// comes back (RETURNING) exactly when the update affected it.
async fn take_stock(
    tx: &mut Transaction<'static, Sqlite>,
    product_id: i64,
    quantity: Quantity,
) -> Result<OrderLineView, CheckoutError> {
    let q = i64::from(quantity.get());
    let taken: Option<(String, i64)> = sqlx::query_as(
        "UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ? RETURNING name, price_cents",
    )
    .bind(q)
    .bind(product_id)
    .bind(q)
    .fetch_optional(&mut **tx)
    .await
    .map_err(classify)?;
    match taken {
        Some((product_name, unit_price_cents)) => Ok(OrderLineView {
            product_id,
            product_name,
            unit_price_cents,
            quantity: quantity.get(),
            line_total_cents: unit_price_cents
                .checked_mul(q)
                .ok_or_else(|| StoreError::Unexpected("line total overflows".into()))?,
        }),
        None => {
            let found: Option<(String, i64)> =
                sqlx::query_as("SELECT name, stock FROM products WHERE id = ?")
                    .bind(product_id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(classify)?;
            Err(match found {
                Some((product_name, available)) => CheckoutError::SoldOut {
                    product_id,
                    product_name,
                    available,
                },
                None => CheckoutError::UnknownProduct { product_id },
            })
        }
    }
}

/// Inserts the order under a fresh random code (retrying on the rare collision).
async fn insert_order(
    tx: &mut Transaction<'static, Sqlite>,
    customer: &Customer,
    total: i64,
    created_at: &str,
) -> Result<(i64, OrderCode), CheckoutError> {
    for _ in 0..8 {
        let code = OrderCode::from_random_bytes(rand::random());
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO NOTHING RETURNING id",
        )
        .bind(code.as_str())
        .bind(OrderStatus::AwaitingPayment.as_str())
        .bind(customer.name.as_str())
        .bind(customer.phone.as_str())
        .bind(customer.address.as_str())
        .bind(customer.note.as_str())
        .bind(total)
        .bind(created_at)
        .fetch_optional(&mut **tx)
        .await
        .map_err(classify)?;
        if let Some((id,)) = id {
            return Ok((id, code));
        }
    }
    Err(StoreError::Unexpected("could not find a free order code".into()).into())
}

async fn load_order(
    conn: &mut SqliteConnection,
    code: &OrderCode,
) -> Result<Option<OrderView>, StoreError> {
    type OrderRow = (i64, String, String, String, String, String, i64, String);
    let row: Option<OrderRow> = sqlx::query_as(
        "SELECT id, status, customer_name, phone, address, note, total_cents, created_at \
         FROM orders WHERE code = ?",
    )
    .bind(code.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(classify)?;
    let Some((id, status, customer_name, phone, address, note, total_cents, created_at)) = row
    else {
        return Ok(None);
    };
    let lines: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT product_id, product_name, unit_price_cents, quantity FROM order_lines \
         WHERE order_id = ? ORDER BY product_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(classify)?;
    let status = OrderStatus::parse(&status)
        .ok_or_else(|| StoreError::Unexpected(format!("unknown order status {status}")))?;
    let lines = lines
        .into_iter()
        .map(|(product_id, product_name, unit_price_cents, quantity)| {
            Ok(OrderLineView {
                product_id,
                product_name,
                unit_price_cents,
                quantity: u32::try_from(quantity)
                    .map_err(|_| StoreError::Unexpected("bad stored quantity".into()))?,
                line_total_cents: unit_price_cents.saturating_mul(quantity),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(OrderView {
        order_code: code.clone(),
        status,
        total_cents,
        lines,
        customer_name,
        phone,
        address,
        note,
        created_at,
    }))
}

#[async_trait]
impl Store for SqliteStore {
    async fn products(&self) -> Result<Vec<ProductView>, StoreError> {
        let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY position, id");
        let rows: Vec<ProductRow> = sqlx::query_as(&sql)
            .fetch_all(&self.read)
            .await
            .map_err(classify)?;
        self.with_images(rows).await
    }

    async fn product(&self, key: &ProductKey) -> Result<Option<ProductView>, StoreError> {
        let row: Option<ProductRow> = match key {
            ProductKey::Id(id) => {
                sqlx::query_as(&format!(
                    "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?"
                ))
                .bind(id)
                .fetch_optional(&self.read)
                .await
            }
            ProductKey::Slug(slug) => {
                sqlx::query_as(&format!(
                    "SELECT {PRODUCT_COLUMNS} FROM products WHERE slug = ?"
                ))
                .bind(slug)
                .fetch_optional(&self.read)
                .await
            }
        }
        .map_err(classify)?;
        Ok(self.with_images(row.into_iter().collect()).await?.pop())
    }

    async fn products_by_ids(&self, ids: &[i64]) -> Result<Vec<ProductView>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE id IN ({})",
            placeholders(ids.len())
        );
        let mut q = sqlx::query_as::<_, ProductRow>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&self.read).await.map_err(classify)?;
        self.with_images(rows).await
    }

    async fn place_order(&self, order: NewOrder) -> Result<OrderView, CheckoutError> {
        // The desk's writer task owns the transaction: if the shopper's connection drops
        // mid-way, the order still commits or rolls back whole (a retry finds it by its key).
        self.desk.place(order).await
    }

    async fn order(&self, code: &OrderCode) -> Result<Option<OrderView>, StoreError> {
        let mut conn = self.read.acquire().await.map_err(classify)?;
        load_order(&mut conn, code).await
    }
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// RFC 3339 UTC with milliseconds: sorts as text.
pub(crate) fn now_utc() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn fingerprint_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
