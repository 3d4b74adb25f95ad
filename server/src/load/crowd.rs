//! A crowd of simulated shoppers: `total` of them, at most `concurrency` under way at once,
//! arriving all at once or spread over a window, until every one is done, the deadline passes or
//! the run is stopped. One loop lets them in as they arrive; each shopper is a task of her own.

use super::answer::{Sample, Tally};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a crowd arrives, and when it is called off.
#[derive(Debug, Clone)]
pub struct Crowd {
    pub concurrency: usize,
    pub total: usize,
    /// No shopper starts after this long.
    pub deadline: Duration,
    /// Shopper `i` arrives at `arrival × i / total` (zero: all at once).
    pub arrival: Duration,
    /// Set it to stop: no new shopper starts (those under way finish their journey).
    pub stop: Arc<AtomicBool>,
    /// Shoppers whose journey is over.
    pub done: Arc<AtomicUsize>,
}

impl Crowd {
    pub fn new(concurrency: usize, total: usize, deadline: Duration) -> Crowd {
        Crowd {
            concurrency: concurrency.max(1),
            total,
            deadline,
            arrival: Duration::ZERO,
            stop: Arc::new(AtomicBool::new(false)),
            done: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn arrives_at(&self, i: usize) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        self.arrival
            .mul_f64(i as f64 / self.total as f64)
            .min(self.arrival)
    }
}

/// Runs `shopper(i)` for every shopper of the crowd, each as she arrives and a worker is free;
/// gives every answer and the time it took.
pub async fn run_load<F, Fut>(crowd: Crowd, shopper: F) -> anyhow::Result<(Tally, Duration)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Vec<Sample>, Option<Duration>)> + Send + 'static,
{
    let shopper = Arc::new(shopper);
    let workers = Arc::new(tokio::sync::Semaphore::new(crowd.concurrency));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let mut tally = Tally::default();
    for i in 0..crowd.total {
        if started.elapsed() >= crowd.deadline
            || !pause_until(started + crowd.arrives_at(i), &crowd.stop).await
        {
            break;
        }
        let worker = workers.clone().acquire_owned().await?;
        if crowd.stop.load(Ordering::Relaxed) || started.elapsed() >= crowd.deadline {
            break;
        }
        let (shopper, done) = (shopper.clone(), crowd.done.clone());
        set.spawn(async move {
            let answered = shopper(i).await;
            done.fetch_add(1, Ordering::Relaxed);
            drop(worker);
            answered
        });
        while let Some(finished) = set.try_join_next() {
            let (samples, journey) = finished?;
            tally.samples.extend(samples);
            tally.journeys.extend(journey);
        }
    }
    while let Some(finished) = set.join_next().await {
        let (samples, journey) = finished?;
        tally.samples.extend(samples);
        tally.journeys.extend(journey);
    }
    Ok((tally, started.elapsed()))
}

/// Sleeps until `until`, waking early when `stop` is set: whether it slept the whole time.
pub async fn pause_until(until: Instant, stop: &AtomicBool) -> bool {
    const STEP: Duration = Duration::from_millis(250);
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let Some(left) = until.checked_duration_since(Instant::now()) else {
            return true;
        };
        tokio::time::sleep(left.min(STEP)).await;
    }
}

/// An HTTP client for `concurrency` connections: answers measured as given (a 303 is the
/// answer, not the page after it), none waited on longer than 30 s.
pub fn client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_spread_evenly_over_the_window() {
        let mut crowd = Crowd::new(4, 100, Duration::from_secs(60));
        assert_eq!(
            crowd.arrives_at(50),
            Duration::ZERO,
            "all at once by default"
        );
        crowd.arrival = Duration::from_secs(10);
        assert_eq!(crowd.arrives_at(0), Duration::ZERO);
        assert_eq!(crowd.arrives_at(50), Duration::from_secs(5));
        assert!(crowd.arrives_at(99) < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn every_shopper_runs_once_and_a_stop_ends_the_crowd() -> anyhow::Result<()> {
        let crowd = Crowd::new(8, 500, Duration::from_secs(30));
        let done = crowd.done.clone();
        let (tally, _) = run_load(crowd, |i| async move {
            (
                vec![Sample::new("page", &i.to_string(), Instant::now())],
                None,
            )
        })
        .await?;
        let mut seen: Vec<usize> = tally
            .samples
            .iter()
            .filter_map(|s| s.kind.parse().ok())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..500).collect::<Vec<_>>());
        assert_eq!(done.load(Ordering::Relaxed), 500);

        let crowd = Crowd::new(2, 1_000_000, Duration::from_secs(30));
        let stop = crowd.stop.clone();
        let (tally, _) = run_load(crowd, move |i| {
            let stop = stop.clone();
            async move {
                if i == 10 {
                    stop.store(true, Ordering::Relaxed);
                }
                (
                    vec![Sample::new("page", "page_viewed", Instant::now())],
                    None,
                )
            }
        })
        .await?;
        assert!(
            tally.samples.len() < 20,
            "stopped after {}",
            tally.samples.len()
        );
        Ok(())
    }
}
