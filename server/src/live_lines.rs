//! The waiting lines, for waiting shoppers' open pages: the ranks still waiting in each line
//! that some page listens to, read once per line every tick of the live feed (not once per
//! shopper), from which each page's stream tells its own place in line — and its turn, when its
//! rank is no longer among those waiting.

use crate::store::DeskStore;
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
    ranks: Arc<Vec<i64>>,
}

/// Where a ticket stands in what was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Its line has not been read (since the page came).
    Unknown,
    /// Its place in line, from 1.
    At(u64),
    /// It is no longer waiting: admitted, or told it is sold out, or gone.
    Gone,
}

impl LineNews {
    /// Where the ticket of `rank` in `product_id`'s line stands. Its absence counts only in a
    /// reading begun after `since` (when its page started listening and the ticket was read as
    /// waiting): an older reading may be from before it joined.
    pub fn place(&self, product_id: i64, rank: i64, since: Instant) -> Place {
        let Some(line) = self.lines.get(&product_id) else {
            return Place::Unknown;
        };
        match line.ranks.binary_search(&rank) {
            Ok(at) => Place::At(u64::try_from(at).unwrap_or(u64::MAX).saturating_add(1)),
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

/// Reads each watched line; publishes when one changed.
pub async fn read(watched: &Watched, ports: &DeskStore, tx: &watch::Sender<Arc<LineNews>>) {
    let products = watched.products();
    let current = tx.borrow().clone();
    let mut lines = HashMap::with_capacity(products.len());
    let mut changed = products.len() != current.lines.len();
    for product_id in products {
        let read_at = Instant::now();
        let ranks = match ports.waiting_ranks(product_id).await {
            Ok(ranks) => ranks,
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
            Some(line) if *line.ranks == ranks => {
                lines.insert(product_id, line.clone());
            }
            _ => {
                changed = true;
                lines.insert(
                    product_id,
                    Line {
                        read_at,
                        ranks: Arc::new(ranks),
                    },
                );
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_place_is_counted_from_the_ranks_and_the_turn_only_from_a_fresh_reading() {
        let before = Instant::now();
        let later = before + Duration::from_secs(1);
        let news = LineNews {
            version: 1,
            lines: HashMap::from([(
                7,
                Line {
                    read_at: later,
                    ranks: Arc::new(vec![10, 25, 31]),
                },
            )]),
        };
        assert_eq!(news.place(7, 25, before), Place::At(2));
        assert_eq!(news.place(7, 10, before), Place::At(1));
        assert_eq!(news.place(7, 12, before), Place::Gone, "read after it came");
        assert_eq!(
            news.place(7, 12, later + Duration::from_secs(1)),
            Place::Unknown,
            "a reading from before the page came may be from before it joined"
        );
        assert_eq!(news.place(8, 1, before), Place::Unknown);
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
