//! How strained the shop is right now, for what it asks phones to do: a page without JavaScript
//! that reloads itself while it waits (the waiting page, an error that will pass) is asked to
//! wait longer while the server is near its limits, so the reloads do not add to what strains it.
//!
//! Two readings, both cheap: the connections open against the server's cap (the permits the
//! server's accept loop takes from [`Strain::slots`]) and the order desk's expected wait against
//! its budget ([`crate::admission::Admission::strain`]).

use std::sync::Arc;
use tokio::sync::Semaphore;

/// The server's connection slots: a connection holds one while it is open.
#[derive(Debug)]
pub struct Strain {
    slots: Arc<Semaphore>,
    capacity: usize,
}

impl Strain {
    /// At most `capacity` connections open at once.
    pub fn new(capacity: usize) -> Arc<Strain> {
        let capacity = capacity.clamp(1, Semaphore::MAX_PERMITS);
        Arc::new(Strain {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
        })
    }

    /// The slots a connection takes one of while it is open (none left: the server is full).
    pub fn slots(&self) -> Arc<Semaphore> {
        self.slots.clone()
    }

    /// Open connections over the cap: 0 idle, 1 full.
    pub fn connections(&self) -> f64 {
        self.open() as f64 / self.capacity as f64
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.capacity.saturating_sub(self.slots.available_permits())
    }

    /// Connections that may be open at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// How many times its usual interval a page without JavaScript waits before it loads itself
/// again, at `strain` (0 idle, 1 at a limit): 1 while the shop has room, 2 past half of it,
/// 4 past 80 %.
pub fn refresh_stretch(strain: f64) -> u64 {
    if strain >= 0.8 {
        4
    } else if strain >= 0.5 {
        2
    } else {
        1
    }
}

/// The interval a page without JavaScript is given: `usual_secs` stretched by the strain, at
/// most a minute (never shorter than usual).
pub fn refresh_secs(usual_secs: u64, strain: f64) -> u64 {
    usual_secs
        .saturating_mul(refresh_stretch(strain))
        .min(60)
        .max(usual_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_connections_are_counted_while_they_hold_a_slot() {
        let strain = Strain::new(4);
        let a = strain.slots().try_acquire_owned().unwrap();
        let b = strain.slots().try_acquire_owned().unwrap();
        assert!((strain.connections() - 0.5).abs() < 1e-9);
        drop((a, b));
        assert_eq!(strain.connections(), 0.0);
    }

    #[test]
    fn pages_wait_longer_the_more_the_shop_is_strained() {
        assert_eq!(refresh_secs(3, 0.1), 3);
        assert_eq!(refresh_secs(3, 0.5), 6);
        assert_eq!(refresh_secs(3, 0.95), 12);
        assert_eq!(refresh_secs(20, 2.0), 60, "at most a minute");
        assert_eq!(refresh_secs(90, 0.0), 90, "never shorter than usual");
    }
}
