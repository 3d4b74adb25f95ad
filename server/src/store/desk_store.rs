//! The storage ports (`app::store::Store` and `WaitingRoom`), implemented once for both
//! databases: reads go through `store::sql` (the same SQL text on SQLite and Postgres), every
//! write through the backend's order desk. A backend opens its pools and its desk's writer and
//! hands them to a [`DeskStore`]; that is all that differs.

use super::clock::Clock;
use super::jobs::{self, WriteDesk};
use super::rows::{product_views, ProductRow, PRODUCT_COLUMNS, PRODUCT_TABLES};
use super::sql::{sql, Db, Sql};
use super::sql_reads;
use app::domain::{
    JoinRequest, NewOrder, OrderCode, OrderView, ProductImage, ProductText, ProductView,
};
use app::store::{
    AdmissionRound, CheckoutError, CheckoutRules, JoinError, ProductKey, Store, StoreError,
    TicketInfo, WaitingRoom,
};
use async_trait::async_trait;

/// One reading of a waiting line ([`DeskStore::line_reading`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineReading {
    /// (rank, units) of each waiting ticket, by rank.
    pub waiting: Vec<(i64, i64)>,
    /// Units free to admit.
    pub stock: i64,
    /// The live holds (units, when they run out), by expiry: what tells a change.
    pub holds: Vec<(i64, app::domain::At)>,
    /// The same holds as [`app::rules::earliest_turn_secs`] takes them, in seconds from the
    /// reading.
    pub hold_secs: Vec<(i64, i64)>,
}

/// A backend's reads (its pool), its desk and its clock.
#[derive(Clone)]
pub struct DeskStore {
    db: Db,
    desk: WriteDesk,
    clock: Clock,
}

impl DeskStore {
    pub(crate) fn new(db: Db, desk: WriteDesk, clock: Clock) -> DeskStore {
        DeskStore { db, desk, clock }
    }

    /// The shop's clock, as this store reads it.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The order desk's measured pace (the order gate admits by it).
    pub fn pace(&self) -> std::sync::Arc<app::admission::Pace> {
        self.desk.pace()
    }

    /// A product's waiting line as the live channel tells it (one read per line, not per
    /// shopper): those still waiting, first served first, the free stock, and the live holds by
    /// expiry — what each waiting shopper's place and earliest turn are counted from.
    pub async fn line_reading(&self, product_id: i64) -> Result<LineReading, StoreError> {
        let waiting: Vec<(i64, i64)> = self
            .db
            .all(
                sql(
                    "SELECT rank, quantity FROM queue_tickets WHERE product_id = $1 \
                     AND state = 'waiting' ORDER BY rank",
                )
                .bind(product_id),
            )
            .await?;
        let stock: Option<(i64,)> = self
            .db
            .optional(sql("SELECT stock FROM products WHERE id = $1").bind(product_id))
            .await?;
        let holds = self
            .db
            .on_one_connection(async |c| sql_reads::live_holds(c, product_id).await)
            .await?;
        let now = self.clock.now();
        let hold_secs = app::rules::holds_by_expiry(
            holds
                .iter()
                .map(|(units, expires_at)| (*units, now.secs_until(*expires_at))),
        );
        Ok(LineReading {
            waiting,
            stock: stock.map_or(0, |(s,)| s),
            holds,
            hold_secs,
        })
    }

    /// The newest entry of the orders' audit trail (0 when there is none).
    pub async fn last_order_change(&self) -> Result<i64, StoreError> {
        let (id,): (i64,) = self
            .db
            .one(sql(
                "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM order_events",
            ))
            .await?;
        Ok(id)
    }

    /// Orders changed by audit entries after entry `after` (at most `limit`, oldest first): the
    /// entry, the order's code, and its status and tracking number as they are now.
    pub async fn order_changes(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, String, String)>, StoreError> {
        self.db
            .all(
                sql(
                    "SELECT e.id, o.code, o.status, o.tracking_number FROM order_events e \
                     JOIN orders o ON o.id = e.order_id WHERE e.id > $1 ORDER BY e.id LIMIT $2",
                )
                .bind(after)
                .bind(limit),
            )
            .await
    }

    /// Product rows dressed with their pictures, as shoppers see them now.
    async fn with_images(&self, rows: Vec<ProductRow>) -> Result<Vec<ProductView>, StoreError> {
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let images: Vec<(i64, String, String)> = if ids.is_empty() {
            Vec::new()
        } else {
            let text = format!(
                "SELECT product_id, url, alt FROM product_images WHERE product_id IN ({}) \
                 ORDER BY product_id, position",
                placeholders(ids.len())
            );
            self.db.all(bind_ids(sql(&text), &ids)).await?
        };
        let images: Vec<(i64, ProductImage)> = images
            .into_iter()
            .map(|(id, url, alt)| (id, ProductImage { url, alt }))
            .collect();
        let texts: Vec<(i64, String, String, String)> = if ids.is_empty() {
            Vec::new()
        } else {
            let text = format!(
                "SELECT product_id, lang, name, description FROM product_texts \
                 WHERE product_id IN ({}) ORDER BY product_id, lang",
                placeholders(ids.len())
            );
            self.db.all(bind_ids(sql(&text), &ids)).await?
        };
        let texts: Vec<(i64, ProductText)> = texts
            .into_iter()
            .filter_map(|(id, lang, name, description)| {
                let lang = app::language::Language::from_tag(&lang)?;
                Some((
                    id,
                    ProductText {
                        lang,
                        name,
                        description,
                    },
                ))
            })
            .collect();
        Ok(product_views(rows, &images, &texts, &self.clock.now()))
    }

    /// Marks the products whose checkout the owner has paused, by the checkout's own rules: the
    /// pages that show a product say so (a cart's pricing does not need it).
    async fn with_brakes(
        &self,
        mut views: Vec<ProductView>,
    ) -> Result<Vec<ProductView>, StoreError> {
        let rules = self.checkout_rules().await?;
        for view in &mut views {
            view.paused = rules.is_paused(view.id);
        }
        Ok(views)
    }
}

/// `$1, $2, …, $n`: numbered placeholders, which both databases read.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bind_ids<'a>(q: Sql<'a>, ids: &[i64]) -> Sql<'a> {
    ids.iter().fold(q, |q, id| q.bind(*id))
}

#[async_trait]
impl Store for DeskStore {
    async fn products(&self) -> Result<Vec<ProductView>, StoreError> {
        let text = format!(
            "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_TABLES} WHERE NOT p.archived \
             ORDER BY p.position, p.id"
        );
        let rows: Vec<ProductRow> = self.db.all(sql(&text)).await?;
        let views = self.with_images(rows).await?;
        self.with_brakes(views).await
    }

    async fn product(&self, key: &ProductKey) -> Result<Option<ProductView>, StoreError> {
        let by = |column: &str| {
            format!(
                "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_TABLES} \
                 WHERE p.{column} = $1 AND NOT p.archived"
            )
        };
        let row: Option<ProductRow> = match key {
            ProductKey::Id(id) => self.db.optional(sql(&by("id")).bind(*id)).await?,
            ProductKey::Slug(slug) => self.db.optional(sql(&by("slug")).bind(slug)).await?,
        };
        let views = self.with_images(row.into_iter().collect()).await?;
        Ok(self.with_brakes(views).await?.pop())
    }

    async fn products_by_ids(&self, ids: &[i64]) -> Result<Vec<ProductView>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let text = format!(
            "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_TABLES} WHERE p.id IN ({}) AND NOT p.archived",
            placeholders(ids.len())
        );
        let rows: Vec<ProductRow> = self.db.all(bind_ids(sql(&text), ids)).await?;
        self.with_images(rows).await
    }

    /// Through the desk. The desk's writer task owns the transaction: if the shopper's
    /// connection drops mid-way, the order still commits or rolls back whole.
    async fn place_order(&self, order: NewOrder) -> Result<OrderView, CheckoutError> {
        jobs::place(&self.desk, order).await
    }

    async fn order(&self, code: &OrderCode) -> Result<Option<OrderView>, StoreError> {
        self.db
            .on_one_connection(async |c| sql_reads::load_order(c, code).await)
            .await
    }

    async fn shop_settings(&self) -> Result<app::shop::ShopSettings, StoreError> {
        self.db.shop_settings().await
    }

    async fn sale_pay_window(&self, code: &OrderCode) -> Result<Option<i64>, StoreError> {
        self.db.sale_pay_window(code).await
    }

    /// The database answers and the order desk runs.
    async fn ping(&self) -> Result<(), StoreError> {
        if !self.desk.is_running() {
            return Err(StoreError::busy("the order desk has stopped"));
        }
        self.db.execute(sql("SELECT 1")).await.map(|_| ())
    }

    async fn checkout_rules(&self) -> Result<CheckoutRules, StoreError> {
        // one statement, one connection from the pool: every order waits on this read
        let rows: Vec<(String, i64, Option<i64>)> = self
            .db
            .all(sql(
                "SELECT 'paused', product_id, NULL FROM brakes \
                 UNION ALL SELECT CASE WHEN archived THEN 'archived' ELSE 'limited' END, \
                 id, max_per_order FROM products WHERE archived OR max_per_order IS NOT NULL",
            ))
            .await?;
        let mut rules = CheckoutRules::default();
        for (kind, id, limit) in rows {
            match kind.as_str() {
                "paused" => rules.paused.push(id),
                "archived" => rules.archived.push(id),
                _ => {
                    if let Some(limit) = limit.and_then(|l| u32::try_from(l).ok()) {
                        rules.per_order.push((id, limit));
                    }
                }
            }
        }
        Ok(rules)
    }
}

#[async_trait]
impl WaitingRoom for DeskStore {
    async fn join_queue(&self, request: JoinRequest) -> Result<TicketInfo, JoinError> {
        let ticket_id = jobs::join(&self.desk, request).await?;
        self.ticket(ticket_id)
            .await?
            .ok_or_else(|| StoreError::unexpected("a committed ticket is missing").into())
    }

    async fn ticket(&self, ticket_id: i64) -> Result<Option<TicketInfo>, StoreError> {
        let now = self.clock.now();
        self.db
            .on_one_connection(async |c| sql_reads::ticket_info(c, ticket_id, &now).await)
            .await
    }

    async fn hold_line(&self, hold_id: i64) -> Result<Option<(i64, i64)>, StoreError> {
        self.db
            .optional(sql("SELECT product_id, quantity FROM holds WHERE id = $1").bind(hold_id))
            .await
    }

    async fn leave_queue(&self, ticket_id: i64) -> Result<Option<TicketInfo>, StoreError> {
        jobs::leave(&self.desk, ticket_id).await?;
        self.ticket(ticket_id).await
    }

    async fn run_admission(&self) -> Result<AdmissionRound, StoreError> {
        jobs::admit(&self.desk).await
    }
}
