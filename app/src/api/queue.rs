//! The waiting room: `POST /api/queue/join`, `GET /api/queue/status?ticket=…`, leaving the line,
//! and checking out with a hold. Tickets and holds travel as signed tokens; the latest ticket is
//! also kept in a cookie.

use crate::api::ApiError;
#[cfg(feature = "ssr")]
use crate::api::Refusal;
#[cfg(feature = "ssr")]
use crate::domain::Problem;
use crate::domain::{CustomerInput, QueueStatus};
use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json, PostUrl};
use serde::{Deserialize, Serialize};

/// Everything the waiting page needs: where the ticket stands and, for a held shopper, a fresh
/// idempotency key and what they typed last time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePageData {
    pub status: QueueStatus,
    pub idempotency_key: String,
    pub values: CustomerInput,
}

#[cfg(feature = "ssr")]
mod edge {
    use super::*;
    use crate::api::cookies;
    use crate::domain::{JoinInput, JoinRequest, QueueState};
    use crate::state::AppState;
    use crate::store::{Standing, TicketInfo};
    use crate::tokens::TokenKind;

    pub const TICKET_COOKIE: &str = "hf_ticket";
    const DAY: u32 = 24 * 3600;

    pub fn status(state: &AppState, info: TicketInfo) -> QueueStatus {
        let queue_state = match info.standing {
            Standing::Waiting {
                position,
                eta_seconds,
                starts_in_secs,
            } => QueueState::Waiting {
                position,
                eta_seconds,
                starts_in_secs,
            },
            Standing::Admitted {
                hold_id,
                expires_at,
                seconds_left,
            } => QueueState::Admitted {
                hold_token: state.signer.sign(TokenKind::Hold, hold_id),
                hold_expires_at: expires_at,
                hold_seconds_left: seconds_left,
            },
            Standing::SoldOut => QueueState::SoldOut,
            Standing::Expired => QueueState::Expired,
            Standing::Left => QueueState::Left,
            Standing::Ordered { order_code } => QueueState::Ordered { order_code },
        };
        QueueStatus {
            ticket: state.signer.sign(TokenKind::Ticket, info.ticket_id),
            product_id: info.product_id,
            product_name: info.product_name,
            product_slug: info.product_slug,
            quantity: info.quantity,
            paused: false,
            state: queue_state,
        }
    }

    /// The status, with whether the owner has paused this sale (a pause that cannot be read
    /// right now is not shown: the waiting page asks again in a moment). The product is named
    /// in the shopper's language, from the catalogue (kept in memory).
    pub async fn status_now(state: &AppState, info: TicketInfo) -> QueueStatus {
        let rules = state.store.checkout_rules().await.unwrap_or_default();
        let mut status = status(state, info);
        status.paused = rules.is_paused(status.product_id);
        let product = crate::store::ProductKey::Id(status.product_id);
        if let Ok(Some(product)) = state.store.product(&product).await {
            status.product_name = product.name_in(crate::language::use_language()).to_owned();
        }
        status
    }

    /// Joins the line. A phone number already in it gets that place back only from a client
    /// that shows its ticket (the one it was given, or the ticket cookie): anyone else who
    /// knows the number is told it is already in line, and learns nothing else.
    pub async fn join(input: JoinInput, shown: Option<&str>) -> Result<QueueStatus, Refusal> {
        let request = JoinRequest::parse(&input)?;
        let state = crate::api::state()?;
        // best effort: a join is not shed because the owner's rules are slow to read (the
        // desk still applies the sale's rules, and an archived product has no sale to join)
        let rules = state.store.checkout_rules().await.unwrap_or_default();
        let product_id = request.product_id;
        if rules.is_archived(product_id) {
            return Err(crate::store::JoinError::NotSold { product_id }.into());
        }
        if let Some(limit) = rules.per_order_limit(product_id) {
            if request.quantity.get() > limit {
                let limit = i64::from(limit);
                return Err(
                    crate::store::JoinError::TooManyInOneOrder { product_id, limit }.into(),
                );
            }
        }
        let info = match state.queue.join_queue(request).await {
            Ok(info) => info,
            Err(crate::store::JoinError::AlreadyInLine {
                product_id,
                ticket_id,
            }) => {
                if shown_ticket(&state, shown) != Some(ticket_id) {
                    return Err(Refusal::AlreadyInLine { product_id });
                }
                state
                    .queue
                    .ticket(ticket_id)
                    .await?
                    .ok_or(Refusal::AlreadyInLine { product_id })?
            }
            Err(e) => return Err(e.into()),
        };
        let status = status_now(&state, info).await;
        cookies::set(TICKET_COOKIE, &status.ticket, DAY, state.secure_cookies);
        Ok(status)
    }

    /// The genuine ticket this client shows: the one it sent, else its ticket cookie.
    fn shown_ticket(state: &AppState, sent: Option<&str>) -> Option<i64> {
        let sent = sent
            .filter(|t| !t.trim().is_empty())
            .and_then(|t| state.signer.verify(TokenKind::Ticket, t));
        sent.or_else(|| {
            let cookie = cookies::read(TICKET_COOKIE)?;
            state.signer.verify(TokenKind::Ticket, &cookie)
        })
    }

    /// The ticket id in a token (or, when none is given, in the ticket cookie).
    pub fn ticket_id(state: &AppState, token: &str) -> Result<i64, Refusal> {
        let token = if token.trim().is_empty() {
            cookies::read(TICKET_COOKIE).unwrap_or_default()
        } else {
            token.to_owned()
        };
        state
            .signer
            .verify(TokenKind::Ticket, &token)
            .ok_or(Refusal::NotFound(Problem::TicketUnknownJoinAgain))
    }

    pub async fn lookup(token: &str) -> Result<QueueStatus, Refusal> {
        let state = crate::api::state()?;
        let id = ticket_id(&state, token)?;
        let info = state
            .queue
            .ticket(id)
            .await?
            .ok_or(Refusal::NotFound(Problem::TicketUnknownJoinAgain))?;
        Ok(status_now(&state, info).await)
    }

    pub fn hold_id(state: &AppState, token: &str) -> Result<i64, Refusal> {
        state
            .signer
            .verify(TokenKind::Hold, token)
            .ok_or(Refusal::HoldInvalid(Problem::HoldUnknown))
    }
}

#[cfg(feature = "ssr")]
pub(crate) use edge::hold_id;

/// Joins a sale's waiting line. Answers with the ticket (also set as the `hf_ticket` cookie) and
/// where it stands — already `admitted` with a hold when stock is free and nobody is ahead.
/// A phone number already in line gets 409 `already_in_line`, unless the request shows that
/// place's `ticket` (or carries its cookie): then it gets its place back, as a retry would.
#[server(endpoint = "queue/join", input = Json, output = Json)]
pub async fn queue_join(
    product_id: i64,
    quantity: i64,
    phone: String,
    ticket: Option<String>,
) -> Result<QueueStatus, ApiError> {
    super::answered(
        async move {
            edge::join(
                crate::domain::JoinInput {
                    product_id,
                    quantity,
                    phone,
                },
                ticket.as_deref(),
            )
            .await
        }
        .await,
    )
}

/// The same, from the product page's form (works without JavaScript): goes to the waiting page.
#[server(endpoint = "queue/join_form", input = PostUrl, output = Json)]
pub async fn queue_join_form(
    product_id: i64,
    quantity: i64,
    phone: String,
) -> Result<String, ApiError> {
    super::answered(
        async move {
            let status = edge::join(
                crate::domain::JoinInput {
                    product_id,
                    quantity,
                    phone,
                },
                None,
            )
            .await?;
            leptos_axum::redirect(&format!("/queue/{}", status.ticket));
            Ok(status.ticket)
        }
        .await,
    )
}

/// Where a ticket stands: `waiting` (position, eta), `admitted` (hold token and expiry),
/// `sold_out`, `expired`, `left` or `ordered`.
#[server(endpoint = "queue/status", input = GetUrl, output = Json)]
pub async fn ticket_status(ticket: String) -> Result<QueueStatus, ApiError> {
    super::answered(async move { edge::lookup(&ticket).await }.await)
}

/// What the waiting page shows.
#[server(endpoint = "queue/page", input = GetUrl, output = Json)]
pub async fn queue_page(ticket: String) -> Result<QueuePageData, ApiError> {
    super::answered(
        async move {
            let status = edge::lookup(&ticket).await?;
            let state = super::state()?;
            // a hold's checkout has one key per hold (none while waiting: no form to send)
            let idempotency_key = match &status.state {
                crate::domain::QueueState::Admitted { hold_token, .. } => {
                    super::orders::hold_key(&state, hold_id(&state, hold_token)?)
                }
                _ => String::new(),
            };
            Ok(QueuePageData {
                status,
                idempotency_key,
                values: super::orders::read_draft(&state.signer).unwrap_or_default(),
            })
        }
        .await,
    )
}

/// Leaves the line; a held shopper's units go to the next in line at once. Goes back to the
/// product page.
#[server(endpoint = "queue/leave", input = PostUrl, output = Json)]
pub async fn queue_leave(ticket: String) -> Result<QueueStatus, ApiError> {
    super::answered(
        async move {
            let state = super::state()?;
            let id = edge::ticket_id(&state, &ticket)?;
            let info = state
                .queue
                .leave_queue(id)
                .await?
                .ok_or(Refusal::NotFound(Problem::TicketUnknown))?;
            let status = edge::status_now(&state, info).await;
            leptos_axum::redirect(&format!("/p/{}", status.product_slug));
            Ok(status)
        }
        .await,
    )
}

/// Checks out the held units (works without JavaScript): goes to the order page.
#[server(endpoint = "queue/checkout", input = PostUrl, output = Json)]
pub async fn hold_checkout(
    hold_token: String,
    idempotency_key: String,
    name: String,
    phone: String,
    address: String,
    note: String,
) -> Result<String, ApiError> {
    super::answered(
        async move {
            let values = CustomerInput {
                name,
                phone,
                address,
                note,
            };
            let order =
                super::orders::place_with_hold(&idempotency_key, &hold_token, &values).await?;
            leptos_axum::redirect(&format!("/order/{}", order.order_code));
            Ok(order.order_code.to_string())
        }
        .await,
    )
}
