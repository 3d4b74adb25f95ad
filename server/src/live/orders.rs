//! The owner's changes to orders, for their shoppers' open order pages: which orders changed
//! lately and how each looks now ([`app::live::order_look`]: its status and tracking number).
//!
//! Read from the orders' audit trail (`order_events`) every tick of the live feed: the entries
//! after the last one seen, so the work is per change, not per open page; it is the shop's
//! database, so a change made on another server of the shop shows here too. On Postgres an
//! entry can commit after a later one was read; each reading looks back [`LOOK_BACK`] entries
//! (a change seen twice is one change: the look is the order's as it is now).

use crate::store::DeskStore;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long an order's change is remembered for pages that connect late.
pub const KEEP: Duration = Duration::from_secs(15 * 60);
/// Entries read again each time, for those that committed out of order.
const LOOK_BACK: i64 = 200;
/// The most new entries read at once (the rest come at the next tick).
const BATCH: i64 = 1000;

/// Orders changed in the last [`KEEP`], each with its look now.
#[derive(Debug, Default, Clone)]
pub struct OrderNews {
    pub version: u64,
    looks: HashMap<String, (Instant, Arc<str>)>,
}

impl OrderNews {
    /// How order `code` looks now, if it changed lately.
    pub fn look(&self, code: &str) -> Option<&Arc<str>> {
        self.looks.get(code).map(|(_, look)| look)
    }

    /// The news with `changes` (code, status, tracking number) applied: `None` when none of
    /// them changes how an order looks.
    fn with(&self, changes: &[(i64, String, String, String)], now: Instant) -> Option<OrderNews> {
        let mut next: Option<OrderNews> = None;
        for (_, code, status, tracking) in changes {
            let look: Arc<str> = app::live::order_look(status, tracking).into();
            let known = next.as_ref().unwrap_or(self).looks.get(code);
            if known.is_some_and(|(_, l)| *l == look) {
                continue;
            }
            next.get_or_insert_with(|| self.clone())
                .looks
                .insert(code.clone(), (now, look));
        }
        next.map(|mut n| {
            n.version += 1;
            n
        })
    }
}

/// Reads the audit trail from where it left off.
#[derive(Default)]
pub struct OrderReader {
    seen: Option<i64>,
    pruned: Option<Instant>,
}

impl OrderReader {
    pub async fn read(&mut self, ports: &DeskStore, tx: &watch::Sender<Arc<OrderNews>>) {
        let seen = match self.seen {
            Some(seen) => seen,
            None => match ports.last_order_change().await {
                Ok(id) => id,
                Err(e) => {
                    tracing::debug!(error = %e, "live news: order changes not read");
                    return;
                }
            },
        };
        let from = seen.saturating_sub(LOOK_BACK).max(0);
        let changes = match ports.order_changes(from, BATCH + LOOK_BACK).await {
            Ok(changes) => changes,
            Err(e) => {
                tracing::debug!(error = %e, "live news: order changes not read");
                return;
            }
        };
        self.seen = Some(changes.iter().map(|c| c.0).fold(seen, i64::max));
        let now = Instant::now();
        let current = tx.borrow().clone();
        let mut next = current.with(&changes, now);
        if self
            .pruned
            .is_none_or(|at| now.duration_since(at) > Duration::from_secs(60))
        {
            self.pruned = Some(now);
            let base = next.get_or_insert_with(|| (*current).clone());
            base.looks
                .retain(|_, (at, _)| now.duration_since(*at) < KEEP);
        }
        if let Some(next) = next {
            tx.send_replace(Arc::new(next));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: i64, code: &str, status: &str, tracking: &str) -> (i64, String, String, String) {
        (id, code.to_owned(), status.to_owned(), tracking.to_owned())
    }

    #[test]
    fn a_change_seen_twice_is_one_change() {
        let now = Instant::now();
        let news = OrderNews::default();
        let shipped = [change(4, "AAAA-BBBB", "shipped", "SF1")];
        let once = news
            .with(&shipped, now)
            .expect("a new order's look is news");
        assert_eq!(once.version, 1);
        assert_eq!(
            once.look("AAAA-BBBB").map(|l| l.to_string()),
            Some(app::live::order_look("shipped", "SF1"))
        );
        assert!(once.with(&shipped, now).is_none(), "read again: no news");
        let completed = [change(5, "AAAA-BBBB", "completed", "SF1")];
        assert_eq!(once.with(&completed, now).map(|n| n.version), Some(2));
        assert!(once.look("CCCC-DDDD").is_none());
    }
}
