//! Checkout's rules: whether one line of an order may be sold, and at what price; whether a
//! waiting-room hold may become the order; what a repeated idempotency key means; the total.

use super::clock::Now;
use super::states::HoldState;
use crate::domain::{At, OrderLineView, Quantity, SalePhase};
use crate::store::{CheckoutError, HoldProblem, StoreError};

/// A product as the desk reads it inside its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFacts {
    pub id: i64,
    pub name: String,
    pub price_cents: i64,
    /// Free units: not sold and not held for anyone.
    pub stock: i64,
    /// The owner took it off sale.
    pub archived: bool,
    /// The owner's "at most N in one order", if set.
    pub max_per_order: Option<i64>,
}

/// A product's sale as the desk reads it: the one announced or running (an ended sale is no sale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleFacts {
    pub starts_at: At,
    pub ends_at: At,
    pub sale_price_cents: i64,
    /// Units one phone number may buy (or hold) during the sale.
    pub per_customer_limit: Option<i64>,
    /// Shoppers queue for a hold instead of checking out directly.
    pub waiting_room: bool,
}

impl SaleFacts {
    pub fn phase(&self, now: &Now) -> SalePhase {
        SalePhase::at(self.starts_at, self.ends_at, now.instant())
    }
}

/// The sale that applies at `now`, if any: an ended one is none.
pub fn sale_in_force<'a>(sale: Option<&'a SaleFacts>, now: &Now) -> Option<&'a SaleFacts> {
    sale.filter(|s| s.phase(now) != SalePhase::Ended)
}

/// The per-customer limit a line or a join is held to at `now`, if any. A store loads what the
/// phone number already has only when this is `Some`.
pub fn limit_in_force(sale: Option<&SaleFacts>, now: &Now) -> Option<i64> {
    sale_in_force(sale, now).and_then(|s| s.per_customer_limit)
}

/// One line the rules allow: what it costs, and whether its units count against the phone
/// number's allowance for the sale (the store adds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub product_id: i64,
    pub product_name: String,
    pub unit_price_cents: i64,
    pub quantity: Quantity,
    pub counts_against_limit: bool,
}

impl Line {
    pub fn units(&self) -> i64 {
        i64::from(self.quantity.get())
    }

    pub fn view(&self) -> Result<OrderLineView, StoreError> {
        Ok(OrderLineView {
            product_id: self.product_id,
            product_name: self.product_name.clone(),
            unit_price_cents: self.unit_price_cents,
            quantity: self.quantity.get(),
            line_total_cents: self
                .unit_price_cents
                .checked_mul(self.units())
                .ok_or_else(|| StoreError::unexpected("line total overflows"))?,
        })
    }
}

/// Whether `quantity` of `product_id` may be sold now, with no hold: the product exists and is
/// on sale, the order respects its per-order limit, the sale (if any) has started and does not
/// go through a waiting room, the phone number stays within its allowance (`already` is what it
/// has bought or holds), and the free stock covers it. The store then takes the units with a
/// conditional decrement.
pub fn decide_line(
    product_id: i64,
    quantity: Quantity,
    product: Option<&ProductFacts>,
    sale: Option<&SaleFacts>,
    already: i64,
    now: &Now,
) -> Result<Line, CheckoutError> {
    let product = match product {
        Some(p) if !p.archived => p,
        _ => return Err(CheckoutError::UnknownProduct { product_id }),
    };
    let q = i64::from(quantity.get());
    let name = || product.name.clone();
    if let Some(limit) = product.max_per_order.filter(|limit| q > *limit) {
        return Err(CheckoutError::TooManyInOneOrder { product_id, limit });
    }
    let sold_out = || CheckoutError::SoldOut {
        product_id,
        product_name: name(),
        available: product.stock,
    };
    let Some(sale) = sale_in_force(sale, now) else {
        if product.stock < q {
            return Err(sold_out());
        }
        return Ok(Line {
            product_id,
            product_name: name(),
            unit_price_cents: product.price_cents,
            quantity,
            counts_against_limit: false,
        });
    };
    if sale.phase(now) == SalePhase::Upcoming {
        return Err(CheckoutError::SaleNotStarted {
            product_id,
            product_name: name(),
            starts_in_secs: now.secs_until(sale.starts_at),
        });
    }
    if sale.waiting_room {
        return Err(CheckoutError::QueueRequired {
            product_id,
            product_name: name(),
        });
    }
    if let Some(limit) = sale.per_customer_limit {
        if already + q > limit {
            return Err(CheckoutError::LimitReached {
                product_id,
                product_name: name(),
                limit,
                already,
            });
        }
    }
    if product.stock < q {
        return Err(sold_out());
    }
    Ok(Line {
        product_id,
        product_name: name(),
        unit_price_cents: sale.sale_price_cents,
        quantity,
        counts_against_limit: sale.per_customer_limit.is_some(),
    })
}

/// A waiting-room hold as the desk reads it (locked, on Postgres).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldFacts {
    pub id: i64,
    pub ticket_id: i64,
    pub product_id: i64,
    pub product_name: String,
    pub product_archived: bool,
    /// The phone number it was granted to (its key).
    pub phone_key: String,
    pub quantity: i64,
    /// The sale price when it was granted: the price the shopper was promised.
    pub unit_price_cents: i64,
    pub state: HoldState,
    pub expires_at: At,
}

/// Whether this hold may become this order: it exists and is live and unexpired, the product is
/// still sold, and the order asks for exactly what is held, for the phone number it was granted
/// to. The units were taken from stock when it was granted, so the line takes none.
pub fn check_hold(
    hold: Option<&HoldFacts>,
    lines: &[(i64, Quantity)],
    phone_key: &str,
    now: &Now,
) -> Result<Line, CheckoutError> {
    let Some(hold) = hold else {
        return Err(CheckoutError::Hold(HoldProblem::Unknown));
    };
    match hold.state {
        HoldState::Used => return Err(CheckoutError::Hold(HoldProblem::Used)),
        HoldState::Expired | HoldState::Released => {
            return Err(CheckoutError::Hold(HoldProblem::Expired))
        }
        HoldState::Live if hold_ran_out(hold.expires_at, now) => {
            return Err(CheckoutError::Hold(HoldProblem::Expired))
        }
        HoldState::Live => {}
    }
    if hold.product_archived {
        return Err(CheckoutError::UnknownProduct {
            product_id: hold.product_id,
        });
    }
    let quantity = match lines {
        [(p, q)] if *p == hold.product_id && i64::from(q.get()) == hold.quantity => *q,
        _ => {
            return Err(CheckoutError::Hold(HoldProblem::Mismatch {
                quantity: hold.quantity,
                product_name: hold.product_name.clone(),
            }))
        }
    };
    if hold.phone_key != phone_key {
        return Err(CheckoutError::Hold(HoldProblem::OtherPhone));
    }
    Ok(Line {
        product_id: hold.product_id,
        product_name: hold.product_name.clone(),
        unit_price_cents: hold.unit_price_cents,
        quantity,
        counts_against_limit: false,
    })
}

/// Whether a hold granted until `expires_at` has run out at `now`: it cannot be used any more,
/// and the next admission round returns its units (unless the owner has paused the sale, which
/// stops holds running out).
pub fn hold_ran_out(expires_at: At, now: &Now) -> bool {
    expires_at <= now.instant()
}

/// A key seen before: the same request (same fingerprint) gets the first order back, anything
/// else is refused.
pub fn replay_allowed(stored_fingerprint: &str, fingerprint: &str) -> Result<(), CheckoutError> {
    if stored_fingerprint == fingerprint {
        Ok(())
    } else {
        Err(CheckoutError::KeyReused)
    }
}

/// The order's total in minor units.
pub fn order_total(lines: &[OrderLineView]) -> Result<i64, StoreError> {
    lines.iter().try_fold(0_i64, |sum, l| {
        sum.checked_add(l.line_total_cents)
            .ok_or_else(|| StoreError::unexpected("order total overflows"))
    })
}
