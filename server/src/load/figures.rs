//! Percentiles of latencies.

use serde::{Deserialize, Serialize};
use std::time::Duration;

pub fn sorted(latencies: &[Duration]) -> Vec<Duration> {
    let mut v = latencies.to_vec();
    v.sort();
    v
}

/// The `p`th percentile of sorted latencies (nearest rank); zero for none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// How long a kind of answer took: p50, p95, p99 and the longest, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Spread {
    pub fn of(latencies: &[Duration]) -> Spread {
        let s = sorted(latencies);
        let round = |d: Duration| (ms(d) * 10.0).round() / 10.0;
        Spread {
            p50_ms: round(percentile(&s, 50.0)),
            p95_ms: round(percentile(&s, 95.0)),
            p99_ms: round(percentile(&s, 99.0)),
            max_ms: round(s.last().copied().unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let lat: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let spread = Spread::of(&lat);
        assert_eq!(spread.p50_ms, 51.0);
        assert_eq!(spread.p95_ms, 95.0);
        assert_eq!(spread.p99_ms, 99.0);
        assert_eq!(spread.max_ms, 100.0);
        assert_eq!(Spread::of(&[]), Spread::default());
    }
}
