//! This server's pulse, for the owner's control room: answers to order attempts by kind, and
//! how long placing orders took (the last few thousand, for a p95). Counting is a few atomic
//! additions and one short lock per order.

use crate::api::Refusal;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const KEPT: usize = 4096;

/// What became of one order attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ordered,
    SoldOut,
    RateLimited,
    /// Shed: the shop was too busy (503).
    Shed,
    Paused,
    /// Refused by a sale rule, a limit, a hold, or bad input.
    Refused,
    Error,
}

impl Answer {
    pub fn of(outcome: &Result<(), &Refusal>) -> Answer {
        match outcome {
            Ok(()) => Answer::Ordered,
            Err(Refusal::SoldOut { .. }) => Answer::SoldOut,
            Err(Refusal::RateLimited { .. }) => Answer::RateLimited,
            Err(Refusal::Overloaded { .. }) => Answer::Shed,
            Err(Refusal::Paused { .. }) => Answer::Paused,
            Err(Refusal::Internal | Refusal::Unreachable) => Answer::Error,
            Err(_) => Answer::Refused,
        }
    }

    pub const ALL: [Answer; 7] = [
        Answer::Ordered,
        Answer::SoldOut,
        Answer::RateLimited,
        Answer::Shed,
        Answer::Paused,
        Answer::Refused,
        Answer::Error,
    ];

    /// Its name in `/metrics` (`holdfast_checkout_answers_total{answer=…}`).
    pub fn metric(self) -> &'static str {
        match self {
            Answer::Ordered => "ordered",
            Answer::SoldOut => "sold_out",
            Answer::RateLimited => "rate_limited",
            Answer::Shed => "shed",
            Answer::Paused => "paused",
            Answer::Refused => "refused",
            Answer::Error => "error",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Answer::Ordered => "ordered",
            Answer::SoldOut => "sold out",
            Answer::RateLimited => "rate limited",
            Answer::Shed => "shed (busy)",
            Answer::Paused => "paused",
            Answer::Refused => "refused",
            Answer::Error => "errors",
        }
    }

    fn index(self) -> usize {
        Answer::ALL.iter().position(|a| *a == self).unwrap_or(0)
    }
}

#[derive(Default)]
pub struct Pulse {
    counts: [AtomicU64; 7],
    latencies: Mutex<VecDeque<(Instant, Duration)>>,
}

impl Pulse {
    /// Counts one answer (and how long a placed order took) here, for the control room, and in
    /// the process's metrics, for `/metrics`: the same events, counted at the same place.
    pub fn record(&self, answer: Answer, took: Option<Duration>) {
        self.counts[answer.index()].fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "ssr")]
        {
            metrics::counter!("holdfast_checkout_answers_total", "answer" => answer.metric())
                .increment(1);
            if let Some(took) = took {
                metrics::histogram!("holdfast_checkout_seconds").record(took.as_secs_f64());
            }
        }
        if let Some(took) = took {
            if let Ok(mut l) = self.latencies.lock() {
                if l.len() == KEPT {
                    l.pop_front();
                }
                l.push_back((Instant::now(), took));
            }
        }
    }

    /// Every kind with its count since the server started.
    pub fn answers(&self) -> Vec<(&'static str, u64)> {
        Answer::ALL
            .iter()
            .map(|a| (a.label(), self.counts[a.index()].load(Ordering::Relaxed)))
            .collect()
    }

    /// The 95th percentile of order latencies in the last minute, in milliseconds.
    pub fn p95_ms(&self) -> Option<f64> {
        let l = self.latencies.lock().ok()?;
        let mut recent: Vec<Duration> = l
            .iter()
            .filter(|(at, _)| at.elapsed() < Duration::from_secs(60))
            .map(|(_, d)| *d)
            .collect();
        if recent.is_empty() {
            return None;
        }
        recent.sort_unstable();
        let i = (recent.len() * 95).div_ceil(100).saturating_sub(1);
        recent.get(i).map(|d| d.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_by_kind_and_p95_is_the_95th_percentile() {
        let pulse = Pulse::default();
        for ms in 1..=100 {
            pulse.record(Answer::Ordered, Some(Duration::from_millis(ms)));
        }
        pulse.record(Answer::SoldOut, None);
        pulse.record(Answer::of(&Err(&Refusal::overloaded(2))), None);
        let answers = pulse.answers();
        assert_eq!(answers[0], ("ordered", 100));
        assert_eq!(answers[1], ("sold out", 1));
        assert_eq!(answers[3], ("shed (busy)", 1));
        assert_eq!(pulse.p95_ms().map(f64::round), Some(95.0));
    }
}
