//! The waiting lines, for waiting shoppers' open pages: each line that some page listens to is
//! read once every tick of the live feed (not once per shopper) — who is still waiting, the free
//! stock and the live holds — and each page's stream tells from it its own place in line and
//! earliest turn ([`app::rules::earliest_turn_secs`], as the waiting page counts it), and its
//! turn, when its rank is no longer among those waiting.

use crate::store::{DeskStore, LineReading};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::watch;

/// Each watched line's waiting ranks, as last read.
#[derive(Debug, Default)]
pub struct LineNews {
    pub version: u64,
    lines: HashMap<i64, Line>,
}

#[derive(Debug, Clone)]
struct Line {
    /// When the reading began.
    read_at: Instant,
    reading: Arc<LineReading>,
    /// The units wanted by everyone ahead of each waiting ticket.
    units_ahead: Arc<Vec<i64>>,
}

impl Line {
    fn new(read_at: Instant, reading: LineReading) -> Line {
        let mut units = 0_i64;
        let units_ahead = reading
            .waiting
            .iter()
            .map(|(_, quantity)| {
                let ahead = units;
                units = units.saturating_add(*quantity);
                ahead
            })
            .collect();
        Line {
            read_at,
            reading: Arc::new(reading),
            units_ahead: Arc::new(units_ahead),
        }
    }
}

/// Where a ticket stands in what was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Its line has not been read (since the page came).
    Unknown,
    /// Its place in line, from 1, and the earliest its turn can come, in seconds from now.
    At { position: u64, eta_secs: u64 },
    /// It is no longer waiting: admitted, or told it is sold out, or gone.
    Gone,
}

impl LineNews {
    /// Where the ticket of `rank` in `product_id`'s line stands. Its absence counts only in a
    /// reading begun after `since` (when its page started listening and the ticket was read as
    /// waiting): an older reading may be from before it joined.
    pub fn place(&self, product_id: i64, rank: i64, since: Instant) -> Place {
        self.place_at(product_id, rank, since, Instant::now())
    }

    fn place_at(&self, product_id: i64, rank: i64, since: Instant, now: Instant) -> Place {
        let Some(line) = self.lines.get(&product_id) else {
            return Place::Unknown;
        };
        let waiting = &line.reading.waiting;
        match waiting.binary_search_by_key(&rank, |(rank, _)| *rank) {
            Ok(at) => {
                let quantity = waiting[at].1;
                let ahead = line.units_ahead.get(at).copied().unwrap_or(0);
                // the holds' time runs on after the reading
                let gone = now.saturating_duration_since(line.read_at).as_secs();
                let eta = app::rules::earliest_turn_secs(
                    ahead,
                    quantity,
                    line.reading.stock,
                    &line.reading.hold_secs,
                );
                Place::At {
                    position: u64::try_from(at).unwrap_or(u64::MAX).saturating_add(1),
                    eta_secs: eta.saturating_sub(gone).max(1),
                }
            }
            Err(_) if line.read_at >= since => Place::Gone,
            Err(_) => Place::Unknown,
        }
    }
}

/// The lines some page listens to, with how many pages each.
#[derive(Debug, Default, Clone)]
pub struct Watched(Arc<Mutex<HashMap<i64, usize>>>);

impl Watched {
    /// A page watches `product_id`'s line until the guard drops.
    pub fn watch(&self, product_id: i64) -> LineWatch {
        *self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(product_id)
            .or_default() += 1;
        LineWatch {
            watched: self.clone(),
            product_id,
        }
    }

    fn products(&self) -> Vec<i64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }
}

pub struct LineWatch {
    watched: Watched,
    product_id: i64,
}

impl Drop for LineWatch {
    fn drop(&mut self) {
        let mut map = self
            .watched
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.product_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.product_id);
            }
        }
    }
}

/// Reads each watched line; publishes when one changed (who waits, the stock or the holds).
pub async fn read(watched: &Watched, ports: &DeskStore, tx: &watch::Sender<Arc<LineNews>>) {
    let products = watched.products();
    let current = tx.borrow().clone();
    let mut lines = HashMap::with_capacity(products.len());
    let mut changed = products.len() != current.lines.len();
    for product_id in products {
        let read_at = Instant::now();
        let reading = match ports.line_reading(product_id).await {
            Ok(reading) => reading,
            Err(e) => {
                tracing::debug!(error = %e, "live news: a waiting line not read");
                // the pages keep the last reading; the next tick tries again
                if let Some(line) = current.lines.get(&product_id) {
                    lines.insert(product_id, line.clone());
                }
                continue;
            }
        };
        match current.lines.get(&product_id) {
            Some(line) if same_line(&line.reading, &reading) => {
                lines.insert(product_id, line.clone());
            }
            _ => {
                changed = true;
                lines.insert(product_id, Line::new(read_at, reading));
            }
        }
    }
    if changed {
        tx.send_replace(Arc::new(LineNews {
            version: current.version + 1,
            lines,
        }));
    }
}

/// The same line as before: the same shoppers waiting for the same units, the same stock, the
/// same holds (their seconds left are counted on from the first reading).
fn same_line(before: &LineReading, now: &LineReading) -> bool {
    before.waiting == now.waiting && before.stock == now.stock && before.holds == now.holds
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn reading(waiting: &[(i64, i64)], stock: i64, holds: &[(i64, i64)]) -> LineReading {
        LineReading {
            waiting: waiting.to_vec(),
            stock,
            holds: holds
                .iter()
                .map(|(units, secs)| (*units, app::domain::At::from_millis(secs * 1000)))
                .collect(),
            hold_secs: app::rules::holds_by_expiry(holds.iter().copied()),
        }
    }

    #[test]
    fn a_place_is_counted_from_the_ranks_and_the_turn_only_from_a_fresh_reading() {
        let before = Instant::now();
        let later = before + Duration::from_secs(1);
        let news = LineNews {
            version: 1,
            lines: HashMap::from([(
                7,
                Line::new(later, reading(&[(10, 1), (25, 2), (31, 1)], 2, &[])),
            )]),
        };
        let at = |rank, since| news.place_at(7, rank, since, later);
        assert_eq!(
            at(25, before),
            Place::At {
                position: 2,
                eta_secs: 1
            }
        );
        assert_eq!(
            at(10, before),
            Place::At {
                position: 1,
                eta_secs: 1
            }
        );
        assert_eq!(at(12, before), Place::Gone, "read after it came");
        assert_eq!(
            at(12, later + Duration::from_secs(1)),
            Place::Unknown,
            "a reading from before the page came may be from before it joined"
        );
        assert_eq!(news.place(8, 1, before), Place::Unknown);
    }

    #[test]
    fn the_earliest_turn_counts_the_units_ahead_and_the_holds_running_out() {
        let read_at = Instant::now();
        // 1 unit free; holds of 2 units for 60 s and 3 units for 120 s
        let line = Line::new(
            read_at,
            reading(&[(1, 1), (2, 2), (3, 1), (4, 4)], 1, &[(2, 60), (3, 120)]),
        );
        let news = LineNews {
            version: 1,
            lines: HashMap::from([(7, line)]),
        };
        let eta = |rank, after_secs| match news.place_at(
            7,
            rank,
            read_at,
            read_at + Duration::from_secs(after_secs),
        ) {
            Place::At { eta_secs, .. } => eta_secs,
            other => panic!("{other:?}"),
        };
        assert_eq!(eta(1, 0), 1, "the free unit covers the head");
        assert_eq!(eta(2, 0), 61, "2 short: the first hold covers it");
        assert_eq!(eta(3, 0), 121, "3 short: both holds");
        assert_eq!(eta(4, 0), 121, "more than all holds: the last one");
        assert_eq!(eta(2, 45), 16, "the holds' time runs on after the reading");
        assert!(!same_line(
            &news.lines[&7].reading,
            &reading(&[(2, 2)], 1, &[])
        ));
    }

    #[test]
    fn a_line_is_watched_while_a_page_listens() {
        let watched = Watched::default();
        let a = watched.watch(3);
        let b = watched.watch(3);
        assert_eq!(watched.products(), vec![3]);
        drop(a);
        assert_eq!(watched.products(), vec![3]);
        drop(b);
        assert!(watched.products().is_empty());
    }
}
