//! The waiting line's rules: who may join, who is admitted next, and who can no longer be served.

use super::checkout::{sale_in_force, ProductFacts, SaleFacts};
use super::clock::Now;
use crate::domain::{Quantity, SalePhase};
use crate::store::JoinError;

/// Where a new place in line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placing {
    /// Before the start: a random rank, so joining early buys a place in the draw, not the head.
    Draw,
    /// The sale runs: the back of the line, and the line is served at once.
    Arrival,
}

/// Ranks at or above this are arrival order (2^62 + a sequence); below it, the pre-start draw.
pub const ARRIVAL_RANKS: i64 = 1 << 62;

/// Whether a phone number may join a product's line for `quantity` units: the product is sold,
/// the quantity respects its per-order limit, a sale with a waiting room is announced or running,
/// the phone number has no place in this line already (`in_line` is its ticket if it has), and
/// its allowance covers the units (`already` is what it has bought or holds).
pub fn decide_join(
    product_id: i64,
    quantity: Quantity,
    product: Option<&ProductFacts>,
    sale: Option<&SaleFacts>,
    in_line: Option<i64>,
    already: i64,
    now: &Now,
) -> Result<Placing, JoinError> {
    let Some(product) = product else {
        return Err(JoinError::UnknownProduct { product_id });
    };
    if product.archived {
        return Err(JoinError::NotSold { product_id });
    }
    let q = i64::from(quantity.get());
    if let Some(limit) = product.max_per_order.filter(|limit| q > *limit) {
        return Err(JoinError::TooManyInOneOrder { product_id, limit });
    }
    let Some(sale) = sale_in_force(sale, now).filter(|s| s.waiting_room) else {
        return Err(JoinError::NoWaitingRoom {
            product_name: product.name.clone(),
        });
    };
    if let Some(ticket_id) = in_line {
        return Err(JoinError::AlreadyInLine {
            product_id,
            ticket_id,
        });
    }
    if let Some(limit) = sale.per_customer_limit {
        if already + q > limit {
            return Err(JoinError::LimitReached {
                product_id,
                product_name: product.name.clone(),
                limit,
                already,
            });
        }
    }
    Ok(match sale.phase(now) {
        SalePhase::Live => Placing::Arrival,
        _ => Placing::Draw,
    })
}

/// Whether the free stock covers the shopper at the head of a line. When it does not, nobody
/// further back is admitted either (nobody jumps the line): the round stops there.
pub fn stock_covers(quantity: i64, stock: i64) -> bool {
    quantity <= stock
}

/// What to do with the head of a line that stock covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Grant a hold: their units leave stock (and count against their allowance if the sale has
    /// a limit).
    Admit { counts_against_limit: bool },
    /// Their allowance no longer covers them (the owner changed the sale meanwhile): they leave
    /// the line, and the next one is looked at.
    Leave,
}

/// The head asks for `quantity`, which stock covers; the sale's per-customer limit is `limit`,
/// of which the phone number has `already` (a store loads it only when there is a limit).
pub fn turn_within(quantity: i64, limit: Option<i64>, already: i64) -> Turn {
    match limit {
        Some(limit) if already + quantity > limit => Turn::Leave,
        Some(_) => Turn::Admit {
            counts_against_limit: true,
        },
        None => Turn::Admit {
            counts_against_limit: false,
        },
    }
}

/// The earliest a waiting shopper could be admitted, in seconds from when the facts were read:
/// at once (1 s) when the free `stock` covers the units of everyone ahead (`units_ahead`) and her
/// own `quantity`; otherwise when enough of the live holds would have run out to cover the
/// shortfall. `holds` are the live holds by expiry, each as (units held by it and every hold
/// expiring before it, seconds left); when they cannot cover it, the last one's expiry.
/// The waiting page's estimate and the live channel's both come from here.
pub fn earliest_turn_secs(
    units_ahead: i64,
    quantity: i64,
    stock: i64,
    holds: &[(i64, i64)],
) -> u64 {
    let shortfall = units_ahead.saturating_add(quantity).saturating_sub(stock);
    if shortfall <= 0 {
        return 1;
    }
    let at = holds.partition_point(|(freed, _)| *freed < shortfall);
    let secs = holds
        .get(at)
        .or(holds.last())
        .map_or(0, |(_, secs_left)| (*secs_left).max(0) + 1);
    u64::try_from(secs.max(1)).unwrap_or(1)
}

/// Live holds (units, seconds left), in expiry order, as [`earliest_turn_secs`] takes them: each
/// with the units of every hold expiring before it added.
pub fn holds_by_expiry(holds: impl IntoIterator<Item = (i64, i64)>) -> Vec<(i64, i64)> {
    let mut freed = 0_i64;
    holds
        .into_iter()
        .map(|(units, secs_left)| {
            freed = freed.saturating_add(units);
            (freed, secs_left)
        })
        .collect()
}

/// The walk of a line, in order, that tells who can no longer be served: the free units plus the
/// units held for admitted shoppers (who may still not buy) make a budget; each waiting shopper
/// the budget still covers keeps their place and reserves their units from it; whoever it does
/// not cover is sold out; once it is spent, everyone further back is too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoldOutWalk {
    budget: i64,
}

impl SoldOutWalk {
    pub fn new(free: i64, held: i64) -> SoldOutWalk {
        SoldOutWalk {
            budget: free.saturating_add(held),
        }
    }

    /// The next waiting shopper, in line order: `true` if they keep their place, `false` if they
    /// are sold out.
    pub fn keeps_place(&mut self, quantity: i64) -> bool {
        if quantity <= self.budget {
            self.budget -= quantity;
            true
        } else {
            false
        }
    }

    /// Nothing is left to reach anyone further back.
    pub fn spent(&self) -> bool {
        self.budget <= 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_turn_is_now_when_stock_covers_and_otherwise_when_enough_holds_run_out() {
        // 5 free, 3 ahead, 2 wanted: covered
        assert_eq!(earliest_turn_secs(3, 2, 5, &[]), 1);
        let holds = holds_by_expiry([(2, 40), (1, 90), (4, 300)]);
        assert_eq!(holds, vec![(2, 40), (3, 90), (7, 300)]);
        // 1 short: the first hold (2 units, 40 s) covers it
        assert_eq!(earliest_turn_secs(5, 1, 5, &holds), 41);
        // 3 short: the first two together
        assert_eq!(earliest_turn_secs(6, 2, 5, &holds), 91);
        // more short than all the holds: the last one's expiry
        assert_eq!(earliest_turn_secs(20, 2, 5, &holds), 301);
        // short with no holds out: nothing known to wait for
        assert_eq!(earliest_turn_secs(9, 1, 0, &[]), 1);
        // a hold already past its time counts as now
        assert_eq!(earliest_turn_secs(1, 1, 0, &holds_by_expiry([(3, -4)])), 1);
    }
}
