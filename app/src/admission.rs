//! Who may start placing an order right now: admission by the wait a shopper would have.
//!
//! The order desk measures its own pace (time per job, from the batches it commits: [`Pace`]).
//! An order is admitted when everything already in flight plus it would be answered within the
//! wait budget at that pace; beyond the budget the shop answers "busy, try again in N s" at once
//! rather than keep a shopper waiting longer than she would wait. A fixed cap (the old way)
//! turned away 2,120 of 3,300 shoppers racing for 100 units although the desk could answer them
//! all in a fraction of a second.
//!
//! Until the desk has committed a batch big enough to measure, the pace is unknown and only the
//! ceiling applies (the first batch of a surge measures it within milliseconds). A desk stuck on
//! one batch for longer than the budget (a database away, a disk stalled) admits nobody new.
//! Plain Rust and atomics: no lock on the order path.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Batches smaller than this do not measure the desk's pace: one order alone costs a whole
/// commit, which says how idle the shop is, not how fast it can go.
const MEASURED_BATCH: usize = 16;

/// How long after a failed batch the desk's writes count as failing, unless a write commits.
pub const FAILING_FOR: Duration = Duration::from_secs(10);

/// The order desk's measured pace: a moving average of the time per job over recent batches of
/// at least [`MEASURED_BATCH`] jobs, and when the batch in progress began.
#[derive(Debug)]
pub struct Pace {
    /// Nanoseconds per job (0: not measured yet).
    per_job_nanos: AtomicU64,
    /// When the batch being written started, in nanoseconds since `epoch` + 1 (0: none).
    busy_since: AtomicU64,
    epoch: Instant,
    /// Whether the desk's writes are failing, as last told (a full disk, a database away).
    failing: std::sync::atomic::AtomicBool,
    /// When a batch last failed, as `busy_since` (0: none since the last write committed).
    last_failure: AtomicU64,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            per_job_nanos: AtomicU64::new(0),
            busy_since: AtomicU64::new(0),
            epoch: Instant::now(),
            failing: std::sync::atomic::AtomicBool::new(false),
            last_failure: AtomicU64::new(0),
        }
    }
}

impl Pace {
    pub fn new() -> Arc<Pace> {
        Arc::new(Pace::default())
    }

    fn since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX - 1)
            + 1
    }

    /// The desk starts writing a batch.
    pub fn batch_started(&self, at: Instant) {
        self.busy_since
            .store(self.since_epoch(at), Ordering::Relaxed);
    }

    /// The desk finished a batch of `jobs` that took `took` (committed or not).
    pub fn batch_done(&self, jobs: usize, took: Duration) {
        self.busy_since.store(0, Ordering::Relaxed);
        if jobs < MEASURED_BATCH {
            return;
        }
        let sample = u64::try_from(took.as_nanos() / jobs as u128).unwrap_or(u64::MAX);
        let old = self.per_job_nanos.load(Ordering::Relaxed);
        // a third of the way towards each new sample: a few batches follow a change of pace
        let new = if old == 0 {
            sample
        } else {
            old - old / 3 + sample / 3
        };
        self.per_job_nanos.store(new.max(1), Ordering::Relaxed);
    }

    /// Notes how the batch just finished went: committed or not, and whether it changed the
    /// database. Its writes are failing from a failed batch until a batch that changed
    /// something commits (an empty commit proves nothing: a full disk takes it). Answers the
    /// new condition when it changed (`Some(true)`: failing now), so it is told once per change.
    pub fn batch_outcome(&self, committed: bool, wrote: bool) -> Option<bool> {
        if !committed {
            self.last_failure
                .store(self.since_epoch(Instant::now()), Ordering::Relaxed);
            return (!self.failing.swap(true, Ordering::Relaxed)).then_some(true);
        }
        if wrote {
            self.last_failure.store(0, Ordering::Relaxed);
            return self.failing.swap(false, Ordering::Relaxed).then_some(false);
        }
        None
    }

    /// Whether the desk's writes are failing: a batch failed in the last [`FAILING_FOR`] and
    /// none that changed something has committed since. Bounded in time, so that a server
    /// whose disk has room again but gets no orders (a load balancer took it out) is not
    /// reported unhealthy for ever: it is let back in, and the next failure says so again.
    pub fn writes_failing(&self) -> bool {
        match self.last_failure.load(Ordering::Relaxed) {
            0 => false,
            at => {
                self.since_epoch(Instant::now()).saturating_sub(at)
                    < u64::try_from(FAILING_FOR.as_nanos()).unwrap_or(u64::MAX)
            }
        }
    }

    /// The measured time per job, once a batch big enough has been committed.
    pub fn per_job(&self) -> Option<Duration> {
        match self.per_job_nanos.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// How long the batch in progress has been running, at `now`.
    pub fn busy_for(&self, now: Instant) -> Option<Duration> {
        match self.busy_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(Duration::from_nanos(
                self.since_epoch(now).saturating_sub(since),
            )),
        }
    }
}

/// The admission gate for orders (one per server).
#[derive(Debug)]
pub struct Admission {
    in_flight: Arc<AtomicUsize>,
    ceiling: usize,
    budget: Duration,
    pace: Arc<Pace>,
}

/// An admitted order: holds its place in flight until dropped.
#[derive(Debug)]
pub struct Admitted {
    in_flight: Arc<AtomicUsize>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why an order was not admitted: come back in this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub retry_after_secs: u32,
}

impl Admission {
    /// At most `ceiling` orders in flight; fewer when the desk's pace says they would wait longer
    /// than `budget`.
    pub fn new(ceiling: usize, budget: Duration, pace: Arc<Pace>) -> Admission {
        Admission {
            in_flight: Arc::new(AtomicUsize::new(0)),
            ceiling: ceiling.max(1),
            budget,
            pace,
        }
    }

    /// Orders being placed right now.
    /// The desk's pace (and whether its writes are failing).
    pub fn pace(&self) -> Arc<Pace> {
        self.pace.clone()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// How strained the desk is: the wait of the orders in flight over the budget (0 idle, 1 at
    /// the budget); while its pace is unknown, the orders in flight over the ceiling.
    pub fn strain(&self) -> f64 {
        let n = self.in_flight();
        match self.pace.per_job() {
            Some(per_job) => per_job.as_secs_f64() * n as f64 / self.budget.as_secs_f64().max(1e-3),
            None => n as f64 / self.ceiling as f64,
        }
    }

    /// Admits one more order, or says when to come back.
    pub fn enter(&self) -> Result<Admitted, Busy> {
        self.enter_at(Instant::now())
    }

    fn enter_at(&self, now: Instant) -> Result<Admitted, Busy> {
        let ahead = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let admitted = Admitted {
            in_flight: self.in_flight.clone(),
        };
        match self.wait_for(ahead + 1, now) {
            Ok(()) => Ok(admitted),
            // dropping `admitted` gives the place back
            Err(busy) => Err(busy),
        }
    }

    /// Whether the `n`-th order in flight would be answered in time.
    fn wait_for(&self, n: usize, now: Instant) -> Result<(), Busy> {
        if n > self.ceiling {
            return Err(Busy {
                retry_after_secs: 2,
            });
        }
        if let Some(stuck) = self.pace.busy_for(now).filter(|b| *b > self.budget) {
            tracing::debug!(?stuck, "the order desk is stuck on a batch; shedding");
            return Err(Busy {
                retry_after_secs: 2,
            });
        }
        let Some(per_job) = self.pace.per_job() else {
            return Ok(());
        };
        let expected = per_job.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        if expected <= self.budget {
            return Ok(());
        }
        // by then the orders ahead of the budget's worth have been answered
        let over = (expected - self.budget).as_secs_f64().ceil();
        Err(Busy {
            retry_after_secs: (over as u32).clamp(1, 30),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_fail_from_a_failed_batch_until_a_batch_that_changed_something_commits() {
        let pace = Pace::default();
        assert!(!pace.writes_failing());
        assert_eq!(pace.batch_outcome(false, false), Some(true), "told once");
        assert_eq!(pace.batch_outcome(false, false), None, "not again");
        assert!(pace.writes_failing());
        // an empty commit (nothing to admit) proves nothing
        assert_eq!(pace.batch_outcome(true, false), None);
        assert!(pace.writes_failing());
        assert_eq!(pace.batch_outcome(true, true), Some(false), "told once");
        assert_eq!(pace.batch_outcome(true, true), None);
        assert!(!pace.writes_failing());
    }

    fn gate(ceiling: usize, budget_ms: u64) -> (Admission, Arc<Pace>) {
        let pace = Pace::new();
        (
            Admission::new(ceiling, Duration::from_millis(budget_ms), pace.clone()),
            pace,
        )
    }

    #[test]
    fn before_the_pace_is_known_only_the_ceiling_limits() {
        let (gate, _) = gate(3, 2000);
        let held: Vec<_> = (0..3).map(|_| gate.enter().unwrap()).collect();
        assert_eq!(gate.enter().unwrap_err().retry_after_secs, 2);
        assert_eq!(gate.in_flight(), 3, "a refused order gives its place back");
        drop(held);
        assert_eq!(gate.in_flight(), 0);
        assert!(gate.enter().is_ok());
    }

    #[test]
    fn orders_are_admitted_while_the_expected_wait_is_within_the_budget() {
        let (gate, pace) = gate(100_000, 2000);
        // 256 orders in 25.6 ms: 0.1 ms each, so 20,000 fit in 2 s
        pace.batch_done(256, Duration::from_micros(25_600));
        assert_eq!(pace.per_job(), Some(Duration::from_micros(100)));
        let held: Vec<_> = (0..20_000).map(|_| gate.enter().unwrap()).collect();
        let busy = gate.enter().unwrap_err();
        assert_eq!(busy.retry_after_secs, 1);
        assert_eq!(held.len(), 20_000);
        assert!((gate.strain() - 1.0).abs() < 1e-6, "{}", gate.strain());
        drop(held);
        assert_eq!(gate.strain(), 0.0);
    }

    #[test]
    fn a_slow_desk_admits_fewer_and_says_when_to_come_back() {
        let (gate, pace) = gate(100_000, 2000);
        // 10 ms per order: 200 in two seconds
        pace.batch_done(100, Duration::from_secs(1));
        let held: Vec<_> = (0..200).map(|_| gate.enter().unwrap()).collect();
        assert!(gate.enter().is_err());
        drop(held);
        // 700 ahead at 10 ms is 7 s: 5 s past the budget
        let busy = gate.wait_for(700, Instant::now()).unwrap_err();
        assert_eq!(busy.retry_after_secs, 5);
    }

    #[test]
    fn small_batches_do_not_measure_and_big_ones_move_the_average() {
        let pace = Pace::new();
        pace.batch_done(1, Duration::from_millis(5));
        assert_eq!(pace.per_job(), None, "a lone order's commit is no pace");
        pace.batch_done(100, Duration::from_millis(100));
        pace.batch_done(100, Duration::from_millis(400));
        // 1 ms, then a third of the way to 4 ms
        assert_eq!(pace.per_job(), Some(Duration::from_millis(2)));
    }

    #[test]
    fn a_desk_stuck_on_one_batch_past_the_budget_admits_nobody_new() {
        let (gate, pace) = gate(1000, 2000);
        let start = Instant::now();
        pace.batch_started(start);
        assert!(gate.enter_at(start + Duration::from_secs(1)).is_ok());
        assert!(gate.enter_at(start + Duration::from_secs(3)).is_err());
        pace.batch_done(1, Duration::from_secs(3));
        assert!(gate.enter_at(start + Duration::from_secs(3)).is_ok());
    }
}
