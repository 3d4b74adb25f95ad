//! A product row with its sale, as both backends select it, and its mapping to what shoppers see.

use super::clock::Now;
use super::sales;
use super::writes::port::TicketRow;
use app::domain::{At, ProductImage, ProductText, ProductView};
use app::rules::{HoldFacts, HoldState, ProductFacts, SaleFacts, TicketState};
use app::store::StoreError;

/// `SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_TABLES} …` reads one of these.
pub(crate) type ProductRow = (
    i64,
    String,
    String,
    String,
    i64,
    i64,
    String,
    bool,
    Option<At>,
    Option<At>,
    Option<i64>,
    Option<i64>,
    Option<bool>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

pub(crate) const PRODUCT_COLUMNS: &str =
    "p.id, p.slug, p.name, p.description, p.price_cents, p.stock, \
     p.image_url, p.flash_sale, s.starts_at, s.ends_at, s.sale_price_cents, s.per_customer_limit, \
     s.waiting_room, s.hold_seconds, p.max_per_order, s.pay_seconds";
pub(crate) const PRODUCT_TABLES: &str = "products p LEFT JOIN sales s ON s.product_id = p.id";

/// Rows and their pictures (product id, picture) as shoppers see them; a product without pictures
/// shows its main image.
pub(crate) fn product_views(
    rows: Vec<ProductRow>,
    images: &[(i64, ProductImage)],
    texts: &[(i64, ProductText)],
    now: &Now,
) -> Vec<ProductView> {
    rows.into_iter()
        .map(|r| {
            let mut pictures: Vec<ProductImage> = images
                .iter()
                .filter(|(id, _)| *id == r.0)
                .map(|(_, img)| img.clone())
                .collect();
            if pictures.is_empty() {
                pictures.push(ProductImage {
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
                images: pictures,
                flash_sale: r.7,
                sale: sales::sale_view(
                    sales::SaleColumns {
                        starts_at: r.8,
                        ends_at: r.9,
                        sale_price_cents: r.10,
                        per_customer_limit: r.11,
                        waiting_room: r.12,
                        hold_seconds: r.13,
                        pay_seconds: r.15,
                    },
                    now,
                ),
                max_per_order: r.14.and_then(|l| u32::try_from(l).ok()),
                texts: texts
                    .iter()
                    .filter(|(id, _)| *id == r.0)
                    .map(|(_, t)| t.clone())
                    .collect(),
                // the owner's brakes are read beside the rows (`DeskStore::with_brakes`)
                paused: false,
            }
        })
        .collect()
}

/// A product and its sale as the desk reads them for the rules: the product's id and own
/// columns, then the sale's, joined on `s.ends_at > now`. Its times are `T`, as the desk's
/// driver reads them ([`StoredAt`]).
pub(crate) type FactsRow<T> = (
    i64,
    String,
    i64,
    i64,
    bool,
    Option<i64>,
    Option<T>,
    Option<T>,
    Option<i64>,
    Option<i64>,
    Option<bool>,
);

/// Reads [`FactsRow`]s, the time as `$1`; each database adds which products (and its locks).
/// A macro, so the statements are whole at compile time (`concat!`): nothing is formatted per
/// batch.
macro_rules! facts_select {
    () => {
        "SELECT p.id, p.name, p.price_cents, p.stock, p.archived, p.max_per_order, s.starts_at, \
         s.ends_at, s.sale_price_cents, s.per_customer_limit, s.waiting_room FROM products p \
         LEFT JOIN sales s ON s.product_id = p.id AND s.ends_at > $1"
    };
}
pub(crate) use facts_select;

/// A stored time as a desk's driver reads it: an `At` where the driver decodes one (sqlx, on
/// either database), its text where it cannot (rusqlite, on SQLite's writer). Text that does not
/// read as a time is a broken row, not a time to guess.
pub(crate) trait StoredAt {
    fn at(self) -> Result<At, StoreError>;
}

impl StoredAt for At {
    fn at(self) -> Result<At, StoreError> {
        Ok(self)
    }
}

impl StoredAt for String {
    fn at(self) -> Result<At, StoreError> {
        At::parse(&self).map_err(|_| StoreError::unexpected(format!("a stored time {self:?}")))
    }
}

/// The facts of a product from its row (its id first): the sale is `None` when none is
/// announced or running.
pub(crate) fn product_facts<T: StoredAt>(
    row: FactsRow<T>,
) -> Result<(i64, (ProductFacts, Option<SaleFacts>)), StoreError> {
    let (
        id,
        name,
        price_cents,
        stock,
        archived,
        max_per_order,
        starts,
        ends,
        sale_price,
        limit,
        room,
    ) = row;
    let product = ProductFacts {
        id,
        name,
        price_cents,
        stock,
        archived,
        max_per_order,
    };
    let sale = match (starts, ends, sale_price) {
        (Some(starts_at), Some(ends_at), Some(sale_price_cents)) => Some(SaleFacts {
            starts_at: starts_at.at()?,
            ends_at: ends_at.at()?,
            sale_price_cents,
            per_customer_limit: limit,
            waiting_room: room.unwrap_or(false),
        }),
        _ => None,
    };
    Ok((id, (product, sale)))
}

/// A hold (its id first) with its product's name and whether it is archived, as the desk reads
/// it ([`hold_select`]), its time as `T` ([`StoredAt`]).
pub(crate) type HoldRow<T> = (i64, i64, i64, String, i64, i64, String, T, String, bool);

/// Reads [`HoldRow`]s; each database adds which holds (and its locks).
macro_rules! hold_select {
    () => {
        "SELECT h.id, h.ticket_id, h.product_id, h.phone_key, h.quantity, h.unit_price_cents, \
         h.state, h.expires_at, p.name, p.archived FROM holds h \
         JOIN products p ON p.id = h.product_id"
    };
}
pub(crate) use hold_select;

/// The facts of a hold from its row.
pub(crate) fn hold_facts<T: StoredAt>(row: HoldRow<T>) -> Result<HoldFacts, StoreError> {
    let (
        id,
        ticket_id,
        product_id,
        phone_key,
        quantity,
        unit_price_cents,
        state,
        expires_at,
        name,
        archived,
    ) = row;
    Ok(HoldFacts {
        id,
        ticket_id,
        product_id,
        product_name: name,
        product_archived: archived,
        phone_key,
        quantity,
        unit_price_cents,
        state: HoldState::parse(&state)
            .ok_or_else(|| StoreError::unexpected(format!("unknown hold state {state}")))?,
        expires_at: expires_at.at()?,
    })
}

/// A place in line as leaving reads it: product, state, hold.
pub(crate) fn ticket_row(
    (product_id, state, hold_id): (i64, String, Option<i64>),
) -> Result<TicketRow, StoreError> {
    Ok(TicketRow {
        product_id,
        state: ticket_state(&state)?,
        hold_id,
    })
}

/// A place in line's state, as stored.
pub(crate) fn ticket_state(text: &str) -> Result<TicketState, StoreError> {
    TicketState::parse(text)
        .ok_or_else(|| StoreError::unexpected(format!("unknown ticket state {text}")))
}
