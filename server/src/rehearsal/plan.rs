//! What the owner asks a rehearsal to do, checked into bounds before anything runs.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Shoppers a rehearsal may bring, at most.
pub const MOST_SHOPPERS: u32 = 50_000;
/// The longest arrival window, in seconds.
pub const LONGEST_ARRIVAL_SECS: u32 = 600;
/// Connections the rehearsal's crowd opens at once, at most: bounded whatever the owner asks.
pub const MOST_CONNECTIONS: usize = 1_000;
/// After the last shopper arrives, how long the rest of the crowd may take to finish (waiting
/// in line, checking out) before the rehearsal ends them.
pub const DRAIN: Duration = Duration::from_secs(150);

/// A rehearsal, as asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub product_id: i64,
    /// How many shoppers come (1 – 50,000).
    pub shoppers: u32,
    /// They arrive evenly over this many seconds (0: all at once).
    pub arrive_over_secs: u32,
    /// Each looks at the product page before buying.
    pub browse: bool,
    /// Of the shoppers whose turn comes in the waiting room, the percentage who walk away from
    /// their hold instead of checking out (0 – 100).
    pub give_up_percent: u8,
    /// A shopper told "busy, try again in N s" (or "too many requests") tries again after N s,
    /// as the shop's checkout page does; otherwise she leaves.
    pub retry_busy: bool,
    /// The stock the copy starts with, instead of the product's own (0 – 1,000,000).
    pub stock: Option<i64>,
}

/// Why a plan cannot run as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("shoppers must be between 1 and {MOST_SHOPPERS}, not {0}")]
    Shoppers(i64),
    #[error("arrival must be between 0 and {LONGEST_ARRIVAL_SECS} seconds, not {0}")]
    Arrival(i64),
    #[error("the share of shoppers who give up must be between 0 and 100 %, not {0}")]
    GiveUp(i64),
    #[error("stock must be between 0 and 1,000,000 units, not {0}")]
    Stock(i64),
}

impl Plan {
    /// A plan from raw numbers (a form, the command line), each checked.
    pub fn new(
        product_id: i64,
        shoppers: i64,
        arrive_over_secs: i64,
        give_up_percent: i64,
        stock: Option<i64>,
    ) -> Result<Plan, PlanError> {
        let shoppers = u32::try_from(shoppers)
            .ok()
            .filter(|n| (1..=MOST_SHOPPERS).contains(n))
            .ok_or(PlanError::Shoppers(shoppers))?;
        let arrive_over_secs = u32::try_from(arrive_over_secs)
            .ok()
            .filter(|n| *n <= LONGEST_ARRIVAL_SECS)
            .ok_or(PlanError::Arrival(arrive_over_secs))?;
        let give_up_percent = u8::try_from(give_up_percent)
            .ok()
            .filter(|n| *n <= 100)
            .ok_or(PlanError::GiveUp(give_up_percent))?;
        if let Some(s) = stock.filter(|s| !(0..=1_000_000).contains(s)) {
            return Err(PlanError::Stock(s));
        }
        Ok(Plan {
            product_id,
            shoppers,
            arrive_over_secs,
            browse: true,
            give_up_percent,
            retry_busy: true,
            stock,
        })
    }

    /// The longest the crowd may run: arrivals, then the drain.
    pub fn longest(&self) -> Duration {
        Duration::from_secs(u64::from(self.arrive_over_secs)) + DRAIN
    }

    /// Connections the crowd opens: one per shopper, up to the bound.
    pub fn connections(&self) -> usize {
        usize::try_from(self.shoppers)
            .unwrap_or(MOST_CONNECTIONS)
            .min(MOST_CONNECTIONS)
    }

    /// Whether shopper `i` walks away from her hold (spread evenly through the crowd).
    pub fn gives_up(&self, i: usize) -> bool {
        (i.wrapping_mul(37) % 100) < usize::from(self.give_up_percent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_outside_the_bounds_are_refused_by_name() {
        assert!(Plan::new(1, 2_000, 0, 10, Some(100)).is_ok());
        assert_eq!(Plan::new(1, 0, 0, 0, None), Err(PlanError::Shoppers(0)));
        assert_eq!(
            Plan::new(1, 50_001, 0, 0, None),
            Err(PlanError::Shoppers(50_001))
        );
        assert_eq!(Plan::new(1, 10, -1, 0, None), Err(PlanError::Arrival(-1)));
        assert_eq!(Plan::new(1, 10, 601, 0, None), Err(PlanError::Arrival(601)));
        assert_eq!(Plan::new(1, 10, 0, 101, None), Err(PlanError::GiveUp(101)));
        assert_eq!(Plan::new(1, 10, 0, 0, Some(-5)), Err(PlanError::Stock(-5)));
    }

    #[test]
    fn connections_are_bounded_and_give_ups_spread_evenly() -> Result<(), PlanError> {
        let plan = Plan::new(1, 20_000, 60, 10, None)?;
        assert_eq!(plan.connections(), MOST_CONNECTIONS);
        assert_eq!(Plan::new(1, 30, 0, 0, None)?.connections(), 30);
        let quitters = (0..1_000).filter(|i| plan.gives_up(*i)).count();
        assert_eq!(quitters, 100);
        assert_eq!(plan.longest(), Duration::from_secs(60) + DRAIN);
        Ok(())
    }
}
