//! A product row with its sale, as both backends select it, and its mapping to what shoppers see.

use super::clock::Now;
use super::sales;
use app::domain::{ProductImage, ProductView};

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
    Option<String>,
    Option<String>,
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
            }
        })
        .collect()
}
