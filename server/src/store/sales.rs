//! A product's sale row turned into what shoppers see, with its phase as of now.

use super::clock::Now;
use app::domain::{At, SalePhase, SaleView};

/// The `sales` columns of a product row (all `None` when the product has no sale).
pub(crate) struct SaleColumns {
    pub starts_at: Option<At>,
    pub ends_at: Option<At>,
    pub sale_price_cents: Option<i64>,
    pub per_customer_limit: Option<i64>,
    pub waiting_room: Option<bool>,
    pub hold_seconds: Option<i64>,
    pub pay_seconds: Option<i64>,
}

/// The sale as shown; `None` when there is none or it is over (the product is back to normal).
pub(crate) fn sale_view(c: SaleColumns, now: &Now) -> Option<SaleView> {
    let (starts_at, ends_at, sale_price_cents) = (c.starts_at?, c.ends_at?, c.sale_price_cents?);
    let starts_in_secs = now.secs_until(starts_at).max(0);
    let ends_in_secs = now.secs_until(ends_at).max(0);
    let phase = match SalePhase::at(starts_at, ends_at, now.instant()) {
        SalePhase::Ended => return None,
        phase => phase,
    };
    Some(SaleView {
        starts_at,
        ends_at,
        sale_price_cents,
        per_customer_limit: c.per_customer_limit.and_then(|l| u32::try_from(l).ok()),
        waiting_room: c.waiting_room.unwrap_or(false),
        hold_seconds: c
            .hold_seconds
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or(300),
        pay_seconds: c
            .pay_seconds
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or(900),
        phase,
        starts_in_secs,
        ends_in_secs,
    })
}
