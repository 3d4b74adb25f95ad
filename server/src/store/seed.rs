//! The demo catalogue, written into an empty database on first start so a new shop has
//! something to show (and the browser tests something to buy).

use crate::store::clock::Now;
use crate::store::sql::{sql, Tx};
use crate::store::{PgStore, SqliteStore};
use anyhow::Context;

pub struct DemoProduct {
    pub slug: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The same in Chinese, for shoppers who read it (`product_texts`).
    pub name_zh: &'static str,
    pub description_zh: &'static str,
    pub price_cents: i64,
    pub stock: i64,
    pub flash_sale: bool,
}

/// The demo shop: a small harbour-town store. One flash-sale item with low stock, one sold out.
pub const DEMO_CATALOGUE: &[DemoProduct] = &[
    DemoProduct { slug: "anchor-hoodie", name: "Anchor Hoodie (limited run)", description: "Heavy cotton hoodie with the harbour anchor, printed in town. One small batch — when it's gone, it's gone.", name_zh: "船锚连帽卫衣（限量）", description_zh: "厚棉连帽卫衣，印着港口的船锚，在镇上印制。只做了一小批，卖完就没了。", price_cents: 4800, stock: 10, flash_sale: true },
    DemoProduct { slug: "sea-salt-caramels", name: "Sea-Salt Caramels", description: "Twelve soft caramels, cooked in copper and finished with flakes of local sea salt.", name_zh: "海盐焦糖", description_zh: "十二颗软焦糖，用铜锅熬制，撒上本地海盐片。", price_cents: 1250, stock: 120, flash_sale: false },
    DemoProduct { slug: "harbour-mug", name: "Harbour Mug", description: "Stoneware mug, glazed in deep-sea blue. Holds 350 ml; dishwasher safe.", name_zh: "港湾马克杯", description_zh: "炻器马克杯，深海蓝釉。容量 350 毫升，可以用洗碗机。", price_cents: 1800, stock: 60, flash_sale: false },
    DemoProduct { slug: "hand-knit-beanie", name: "Hand-Knit Beanie", description: "Warm wool beanie knitted by the shop's owner on winter evenings.", name_zh: "手织毛线帽", description_zh: "暖和的羊毛帽，店主在冬天的晚上一针一针织的。", price_cents: 3200, stock: 4, flash_sale: false },
    DemoProduct { slug: "lighthouse-print", name: "Lighthouse Print", description: "A3 risograph print of the old lighthouse at dusk, on recycled paper.", name_zh: "灯塔版画", description_zh: "A3 孔版印刷画，黄昏时的老灯塔，印在再生纸上。", price_cents: 2500, stock: 35, flash_sale: false },
    DemoProduct { slug: "beeswax-candle", name: "Beeswax Candle", description: "Hand-poured beeswax pillar candle; burns clean for about 40 hours.", name_zh: "蜂蜡蜡烛", description_zh: "手工浇制的蜂蜡柱形蜡烛，干净无烟，可燃约 40 小时。", price_cents: 1400, stock: 80, flash_sale: false },
    DemoProduct { slug: "canvas-tote", name: "Canvas Tote", description: "Sturdy canvas tote with a long strap, big enough for a market run.", name_zh: "帆布托特包", description_zh: "结实的帆布托特包，长肩带，装得下一次赶集买的东西。", price_cents: 2200, stock: 50, flash_sale: false },
    DemoProduct { slug: "wildflower-honey", name: "Wildflower Honey", description: "Raw honey from hives on the cliff meadows. 340 g jar.", name_zh: "野花蜂蜜", description_zh: "悬崖草甸上的蜂箱产的原蜜。340 克一罐。", price_cents: 1100, stock: 45, flash_sale: false },
    DemoProduct { slug: "driftwood-coasters", name: "Driftwood Coasters", description: "Set of four coasters cut from driftwood found on the north beach.", name_zh: "浮木杯垫", description_zh: "四个一套，用北边海滩捡来的浮木切成。", price_cents: 1600, stock: 25, flash_sale: false },
    DemoProduct { slug: "founders-print", name: "Founders' Edition Print", description: "The signed first edition of the lighthouse print. All sold — thank you!", name_zh: "创始纪念版画", description_zh: "灯塔版画的签名首版。已全部售出，谢谢大家！", price_cents: 9000, stock: 0, flash_sale: false },
];

/// A flash sale in the demo shop, with times relative to the first start.
pub struct DemoSale {
    pub slug: &'static str,
    /// Minutes from seeding to the start (negative: already running).
    pub starts_in_min: i64,
    pub lasts_days: i64,
    pub sale_price_cents: i64,
    pub per_customer_limit: Option<i64>,
    pub waiting_room: bool,
    pub hold_seconds: i64,
}

/// The hoodie drop is running, through the waiting room; the print's sale starts a quarter of an
/// hour after the shop first starts (a countdown to look at).
pub const DEMO_SALES: &[DemoSale] = &[
    DemoSale {
        slug: "anchor-hoodie",
        starts_in_min: -1,
        lasts_days: 14,
        sale_price_cents: 3900,
        per_customer_limit: Some(2),
        waiting_room: true,
        hold_seconds: 300,
    },
    DemoSale {
        slug: "lighthouse-print",
        starts_in_min: 15,
        lasts_days: 14,
        sale_price_cents: 1900,
        per_customer_limit: Some(3),
        waiting_room: false,
        hold_seconds: 300,
    },
];

/// The seeding steps, the same SQL on both backends; `tx` is an open transaction that has the
/// products table to itself.
async fn seed_in(mut tx: Tx, now: &Now) -> anyhow::Result<bool> {
    let (count,): (i64,) = tx
        .one(sql("SELECT COUNT(*) FROM products"))
        .await
        .context("cannot count products")?;
    if count > 0 {
        return Ok(false);
    }
    for (position, p) in (0_i64..).zip(DEMO_CATALOGUE) {
        let main = format!("/images/{}.svg", p.slug);
        let (id,): (i64,) = tx
            .one(
                sql("INSERT INTO products (slug, name, description, price_cents, stock, image_url, \
                     flash_sale, position, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
                .bind(p.slug)
                .bind(p.name)
                .bind(p.description)
                .bind(p.price_cents)
                .bind(p.stock)
                .bind(&main)
                .bind(p.flash_sale)
                .bind(position)
                .bind(now.instant()),
            )
            .await
            .with_context(|| format!("cannot seed {}", p.slug))?;
        tx.execute(
            sql(
                "INSERT INTO product_texts (product_id, lang, name, description) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(app::language::Language::ZhCn.tag())
            .bind(p.name_zh)
            .bind(p.description_zh),
        )
        .await
        .with_context(|| format!("cannot seed the Chinese of {}", p.slug))?;
        let detail = format!("/images/{}-detail.svg", p.slug);
        let detail_alt = format!("{} — detail", p.name);
        for (pos, (url, alt)) in (0_i64..).zip([(&main, p.name), (&detail, &detail_alt)]) {
            tx.execute(
                sql(
                    "INSERT INTO product_images (product_id, position, url, alt) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(pos)
                .bind(url)
                .bind(alt),
            )
            .await
            .with_context(|| format!("cannot seed images of {}", p.slug))?;
        }
    }
    for sale in DEMO_SALES {
        let starts_in = sale.starts_in_min * 60;
        let starts = now.instant().plus_secs(starts_in);
        let ends = now
            .instant()
            .plus_secs(starts_in + sale.lasts_days * 24 * 3600);
        tx.execute(
            sql(
                "INSERT INTO sales (product_id, starts_at, ends_at, sale_price_cents, \
                 per_customer_limit, waiting_room, hold_seconds) \
                 SELECT id, $1, $2, $3, $4, $5, $6 FROM products WHERE slug = $7",
            )
            .bind(starts)
            .bind(ends)
            .bind(sale.sale_price_cents)
            .bind(sale.per_customer_limit)
            .bind(sale.waiting_room)
            .bind(sale.hold_seconds)
            .bind(sale.slug),
        )
        .await
        .with_context(|| format!("cannot seed the sale of {}", sale.slug))?;
    }
    tx.commit()
        .await
        .context("cannot commit the demo catalogue")?;
    Ok(true)
}

/// Writes the demo catalogue if the shop has no products yet. Returns whether it did.
pub async fn seed_if_empty(store: &SqliteStore) -> anyhow::Result<bool> {
    let tx = store
        .writer()
        .begin_with("BEGIN IMMEDIATE")
        .await
        .context("cannot start the seeding transaction")?;
    seed_in(Tx::Sqlite(tx), &store.clock().now()).await
}

/// The same on Postgres; the table lock keeps two servers starting at once from both seeding.
pub async fn seed_if_empty_postgres(store: &PgStore) -> anyhow::Result<bool> {
    let mut tx = store
        .pool()
        .begin()
        .await
        .context("cannot start the seeding transaction")?;
    sqlx::query("LOCK TABLE products IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .context("cannot lock the products table")?;
    seed_in(Tx::Postgres(tx), &store.clock().now()).await
}
