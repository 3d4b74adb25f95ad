//! The rehearsal's own copy of the shop: the live SQLite database copied with SQLite's online
//! backup (one consistent snapshot, taken while the shop serves and never writing to it), the
//! rehearsed sale moved to start now, and the figures the audit starts from. After the run, the
//! audit reads the copy; then the copy is deleted.

use anyhow::{bail, Context};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// The product and sale as the copy holds them when the crowd arrives.
#[derive(Debug, Clone)]
pub struct Stage {
    pub product_id: i64,
    pub name: String,
    pub slug: String,
    /// The sale sends shoppers through the waiting room.
    pub waiting_room: bool,
    /// How long a waiting-room hold lasts, when there is a sale.
    pub hold_seconds: Option<i64>,
    pub before: Counts,
}

/// The product's units in the copy at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Free to take.
    pub stock: i64,
    /// In live waiting-room holds.
    pub held: i64,
    /// On orders since cancelled (their units went back to stock).
    pub cancelled: i64,
    /// The newest order's id: orders after it are the rehearsal's.
    pub last_order: i64,
}

/// The copy's directory: its database, and the data dir of the server that runs on it.
pub struct Copy {
    pub dir: PathBuf,
}

impl Copy {
    /// Copies the live database at `live` into a new directory `dir`.
    pub fn take(live: &Path, dir: PathBuf) -> anyhow::Result<Copy> {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let copy = Copy { dir };
        crate::backup::backup(live, &copy.database())?;
        Ok(copy)
    }

    pub fn database(&self) -> PathBuf {
        self.dir.join("holdfast.db")
    }

    /// Sets the copy up for the crowd: the product's sale (if any) starts now and lasts at least
    /// `lasting_secs`; the stock is `stock` if given. Gives what the audit starts from.
    pub fn stage(
        &self,
        product_id: i64,
        stock: Option<i64>,
        now: &app::rules::Now,
        lasting_secs: i64,
    ) -> anyhow::Result<Stage> {
        let c = self.open()?;
        let product: Option<(String, String)> = c
            .query_row(
                "SELECT name, slug FROM products WHERE id = ?1",
                [product_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((name, slug)) = product else {
            bail!("there is no product {product_id}");
        };
        let sale: Option<(String, String, bool, i64)> = c
            .query_row(
                "SELECT starts_at, ends_at, waiting_room, hold_seconds FROM sales \
                 WHERE product_id = ?1",
                [product_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        if let Some((starts_at, ends_at, _, _)) = &sale {
            let length = secs_between(starts_at, ends_at).max(lasting_secs);
            c.execute(
                "UPDATE sales SET starts_at = ?1, ends_at = ?2 WHERE product_id = ?3",
                params![now.text(), now.plus_secs(length), product_id],
            )?;
        }
        if let Some(stock) = stock {
            c.execute(
                "UPDATE products SET stock = ?1 WHERE id = ?2",
                params![stock, product_id],
            )?;
        }
        Ok(Stage {
            product_id,
            name,
            slug,
            waiting_room: sale.as_ref().is_some_and(|s| s.2),
            hold_seconds: sale.map(|s| s.3),
            before: counts(&c, product_id)?,
        })
    }

    /// After the run: the product's units now, its units on the orders made since
    /// `last_order` (cancelled ones included), and those orders' codes.
    pub fn after(
        &self,
        product_id: i64,
        last_order: i64,
    ) -> anyhow::Result<(Counts, i64, Vec<String>)> {
        let c = self.open()?;
        let counts = counts(&c, product_id)?;
        let sold = c.query_row(
            "SELECT COALESCE(SUM(l.quantity), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id \
             WHERE l.product_id = ?1 AND o.id > ?2",
            [product_id, last_order],
            |r| r.get(0),
        )?;
        let mut codes = c.prepare("SELECT code FROM orders WHERE id > ?1")?;
        let codes = codes
            .query_map([last_order], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok((counts, sold, codes))
    }

    fn open(&self) -> anyhow::Result<Connection> {
        let c = Connection::open(self.database())
            .with_context(|| format!("cannot open the copy {}", self.database().display()))?;
        c.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(c)
    }
}

fn counts(c: &Connection, product_id: i64) -> anyhow::Result<Counts> {
    Ok(Counts {
        stock: c.query_row("SELECT stock FROM products WHERE id = ?1", [product_id], |r| {
            r.get(0)
        })?,
        held: c.query_row(
            "SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE product_id = ?1 AND state = 'live'",
            [product_id],
            |r| r.get(0),
        )?,
        cancelled: c.query_row(
            "SELECT COALESCE(SUM(l.quantity), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id \
             WHERE l.product_id = ?1 AND o.status = 'cancelled'",
            [product_id],
            |r| r.get(0),
        )?,
        last_order: c.query_row("SELECT COALESCE(MAX(id), 0) FROM orders", [], |r| r.get(0))?,
    })
}

/// Seconds from one stored time to another (0 if either cannot be read).
fn secs_between(from: &str, to: &str) -> i64 {
    match (
        chrono::DateTime::parse_from_rfc3339(from),
        chrono::DateTime::parse_from_rfc3339(to),
    ) {
        (Ok(a), Ok(b)) => (b - a).num_seconds().max(0),
        _ => 0,
    }
}
