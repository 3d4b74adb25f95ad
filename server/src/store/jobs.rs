//! What every backend's order desk takes: the jobs that write to the shop, and their outcomes.

use crate::desk::Desk;
use app::domain::{JoinRequest, NewOrder, OrderView};
use app::store::{AdmissionRound, CheckoutError, JoinError, StoreError};

/// A backend's order desk.
pub(crate) type WriteDesk = Desk<WriteJob, WriteOutcome>;

/// Everything that writes to the shop goes through the desk as one of these.
pub(crate) enum WriteJob {
    Order(NewOrder),
    Join(JoinRequest),
    Leave(i64),
    Admit,
}

pub(crate) enum WriteOutcome {
    Order(Result<OrderView, CheckoutError>),
    /// The ticket id.
    Join(Result<i64, JoinError>),
    /// The ticket has left the line (if it was still in it).
    Leave,
    Admit(AdmissionRound),
}

fn wrong_outcome() -> StoreError {
    StoreError::unexpected("the desk answered a different kind of job")
}

/// Places an order through the desk. The desk's writer task owns the transaction: if the
/// shopper's connection drops mid-way, the order still commits or rolls back whole (a retry finds
/// it by its key).
pub(crate) async fn place(desk: &WriteDesk, order: NewOrder) -> Result<OrderView, CheckoutError> {
    match desk.submit(WriteJob::Order(order)).await? {
        WriteOutcome::Order(outcome) => outcome,
        _ => Err(wrong_outcome().into()),
    }
}

/// Joins a waiting line through the desk; the ticket id.
pub(crate) async fn join(desk: &WriteDesk, request: JoinRequest) -> Result<i64, JoinError> {
    match desk.submit(WriteJob::Join(request)).await? {
        WriteOutcome::Join(joined) => joined,
        _ => Err(wrong_outcome().into()),
    }
}

pub(crate) async fn leave(desk: &WriteDesk, ticket_id: i64) -> Result<(), StoreError> {
    match desk.submit(WriteJob::Leave(ticket_id)).await? {
        WriteOutcome::Leave => Ok(()),
        _ => Err(wrong_outcome()),
    }
}

pub(crate) async fn admit(desk: &WriteDesk) -> Result<AdmissionRound, StoreError> {
    match desk.submit(WriteJob::Admit).await? {
        WriteOutcome::Admit(round) => Ok(round),
        _ => Err(wrong_outcome()),
    }
}

/// What every backend does the same way, given its desk (`self.desk`) and its sqlx read pool
/// (`self.$pool`): the whole waiting room, reading the catalogue, and placing, finding and
/// health-checking orders. Its `reads` module must come from `sql_reads!`, and it must have a
/// `with_images` that dresses product rows with their pictures.
macro_rules! desk_backed {
    ($store:ty, $pool:ident) => {
        impl $store {
            async fn read_products(
                &self,
            ) -> Result<Vec<app::domain::ProductView>, app::store::StoreError> {
                use $crate::store::rows::{ProductRow, PRODUCT_COLUMNS, PRODUCT_TABLES};
                let sql = format!(
                    "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_TABLES} WHERE NOT p.archived \
                     ORDER BY p.position, p.id"
                );
                let rows: Vec<ProductRow> = sqlx::query_as(&sql)
                    .fetch_all(&self.$pool)
                    .await
                    .map_err($crate::store::classify)?;
                self.with_images(rows).await
            }

            async fn read_product(
                &self,
                key: &app::store::ProductKey,
            ) -> Result<Option<app::domain::ProductView>, app::store::StoreError> {
                use $crate::store::rows::{ProductRow, PRODUCT_COLUMNS, PRODUCT_TABLES};
                let query = |by: &str| {
                    format!(
                        "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_TABLES} \
                         WHERE p.{by} = $1 AND NOT p.archived"
                    )
                };
                let row: Option<ProductRow> = match key {
                    app::store::ProductKey::Id(id) => {
                        sqlx::query_as(&query("id"))
                            .bind(id)
                            .fetch_optional(&self.$pool)
                            .await
                    }
                    app::store::ProductKey::Slug(slug) => {
                        sqlx::query_as(&query("slug"))
                            .bind(slug)
                            .fetch_optional(&self.$pool)
                            .await
                    }
                }
                .map_err($crate::store::classify)?;
                Ok(self.with_images(row.into_iter().collect()).await?.pop())
            }

            async fn desk_place(
                &self,
                order: app::domain::NewOrder,
            ) -> Result<app::domain::OrderView, app::store::CheckoutError> {
                $crate::store::jobs::place(&self.desk, order).await
            }

            async fn read_order(
                &self,
                code: &app::domain::OrderCode,
            ) -> Result<Option<app::domain::OrderView>, app::store::StoreError> {
                let mut conn = self
                    .$pool
                    .acquire()
                    .await
                    .map_err($crate::store::classify)?;
                reads::load_order(&mut conn, code).await
            }

            /// The database answers and the order desk runs.
            async fn health(&self) -> Result<(), app::store::StoreError> {
                if !self.desk.is_running() {
                    return Err(app::store::StoreError::Busy(
                        "the order desk has stopped".into(),
                    ));
                }
                sqlx::query("SELECT 1")
                    .execute(&self.$pool)
                    .await
                    .map(|_| ())
                    .map_err($crate::store::classify)
            }

            async fn read_checkout_rules(
                &self,
            ) -> Result<app::store::CheckoutRules, app::store::StoreError> {
                // one statement, one connection from the pool: every order waits on this read
                let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT 'paused', product_id, NULL FROM brakes \
                     UNION ALL SELECT CASE WHEN archived THEN 'archived' ELSE 'limited' END, \
                     id, max_per_order FROM products WHERE archived OR max_per_order IS NOT NULL",
                )
                .fetch_all(&self.$pool)
                .await
                .map_err($crate::store::classify)?;
                let mut rules = app::store::CheckoutRules::default();
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

        #[async_trait::async_trait]
        impl app::store::WaitingRoom for $store {
            async fn join_queue(
                &self,
                request: app::domain::JoinRequest,
            ) -> Result<app::store::TicketInfo, app::store::JoinError> {
                let ticket_id = $crate::store::jobs::join(&self.desk, request).await?;
                self.ticket(ticket_id).await?.ok_or_else(|| {
                    app::store::StoreError::unexpected("a committed ticket is missing")
                        .into()
                })
            }

            async fn ticket(
                &self,
                ticket_id: i64,
            ) -> Result<Option<app::store::TicketInfo>, app::store::StoreError> {
                let mut conn = self
                    .$pool
                    .acquire()
                    .await
                    .map_err($crate::store::classify)?;
                let now = self.clock.now();
                reads::ticket_info(&mut conn, ticket_id, &now).await
            }

            async fn hold_line(
                &self,
                hold_id: i64,
            ) -> Result<Option<(i64, i64)>, app::store::StoreError> {
                sqlx::query_as("SELECT product_id, quantity FROM holds WHERE id = $1")
                    .bind(hold_id)
                    .fetch_optional(&self.$pool)
                    .await
                    .map_err($crate::store::classify)
            }

            async fn leave_queue(
                &self,
                ticket_id: i64,
            ) -> Result<Option<app::store::TicketInfo>, app::store::StoreError> {
                $crate::store::jobs::leave(&self.desk, ticket_id).await?;
                self.ticket(ticket_id).await
            }

            async fn run_admission(
                &self,
            ) -> Result<app::store::AdmissionRound, app::store::StoreError> {
                $crate::store::jobs::admit(&self.desk).await
            }
        }
    };
}

pub(crate) use desk_backed;
