//! The shop's clock: one reading (`Now`) per decision; and where readings come from (`Clock`):
//! the system clock in the live shop, a clock a test sets and moves in tests, so nothing has to
//! sleep to see a hold or a sale run out.

use crate::domain::At;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One reading of the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    pub at: DateTime<Utc>,
}

impl Now {
    pub fn at(at: DateTime<Utc>) -> Now {
        Now { at }
    }

    /// The reading as the shop's instant type.
    pub fn instant(&self) -> At {
        At::from(self.at)
    }

    /// Whole seconds from now until `at` (negative if past; rounded up, so "1 s" means not
    /// yet).
    pub fn secs_until(&self, at: At) -> i64 {
        self.instant().secs_until(at)
    }

    /// `secs` seconds from now.
    pub fn plus_secs(&self, secs: i64) -> At {
        self.instant().plus_secs(secs)
    }
}

/// Where the shop reads the time: the system clock, or one set by a test (shared by every clone,
/// so moving it moves the desk's, the usher's and the pages' time together).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds since the epoch, when a test has set the time.
    set: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock: what the live shop uses.
    pub fn system() -> Clock {
        Clock { set: None }
    }

    /// A clock that reads `at` until it is moved with [`Clock::advance`] or [`Clock::set`].
    pub fn stopped_at(at: DateTime<Utc>) -> Clock {
        Clock {
            set: Some(Arc::new(AtomicI64::new(at.timestamp_millis()))),
        }
    }

    pub fn now(&self) -> Now {
        Now::at(self.instant())
    }

    pub fn instant(&self) -> DateTime<Utc> {
        match &self.set {
            None => Utc::now(),
            Some(ms) => DateTime::from_timestamp_millis(ms.load(Ordering::SeqCst))
                .unwrap_or(DateTime::UNIX_EPOCH),
        }
    }

    /// Moves a set clock forward; the system clock moves by itself and ignores this.
    pub fn advance(&self, by: Duration) {
        if let Some(ms) = &self.set {
            let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            ms.fetch_add(by, Ordering::SeqCst);
        }
    }

    /// Sets a set clock to `at`; the system clock ignores this.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(ms) = &self.set {
            ms.store(at.timestamp_millis(), Ordering::SeqCst);
        }
    }

    /// Whether a test set this clock.
    pub fn is_set(&self) -> bool {
        self.set.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_clock_stands_still_until_moved_and_every_clone_moves_with_it() {
        let start = DateTime::parse_from_rfc3339("2026-12-03T09:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let clock = Clock::stopped_at(start);
        let shared = clock.clone();
        assert_eq!(
            clock.now().instant().to_string(),
            "2026-12-03T09:00:00.000Z"
        );
        shared.advance(Duration::from_millis(1500));
        assert_eq!(
            clock.now().instant().to_string(),
            "2026-12-03T09:00:01.500Z"
        );
        assert_eq!(
            Now::at(start).secs_until(At::from_millis(start.timestamp_millis() + 1001)),
            2,
            "rounded up: 1.001 s is not yet 1 s"
        );
        assert_eq!(
            Now::at(start).plus_secs(60).to_string(),
            "2026-12-03T09:01:00.000Z"
        );
    }

    #[test]
    fn the_system_clock_ignores_being_moved() {
        let clock = Clock::system();
        let before = clock.instant();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.instant() - before < chrono::Duration::minutes(1));
    }
}
