//! What the rehearsal's shop counted itself: its `/metrics` (the figures Prometheus and the
//! control room read) read once when the crowd has gone, so the report sets the shop's own count
//! beside what the simulated phones saw.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The second shop's own figures at the end of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counted {
    /// Order attempts answered, by kind (`ordered`, `sold_out`, `shed`, `rate_limited`, …).
    pub checkout_answers: BTreeMap<String, u64>,
    /// Requests refused because their client was over its allowance.
    pub rate_limited: u64,
    /// Connections turned away because the server had its maximum open.
    pub connections_refused: u64,
    /// Batches the order desk committed, and jobs (orders, joins, admission rounds) in them.
    pub desk_batches: u64,
    pub desk_jobs: u64,
    /// 95 in 100 batches committed within this (from the histogram's buckets).
    pub desk_commit_p95_ms: Option<f64>,
    /// 95 in 100 placed orders took at most this, request to durable commit, in the shop.
    pub checkout_p95_ms: Option<f64>,
}

/// One sample line: its name, its labels as written, its value.
fn sample(line: &str) -> Option<(&str, &str, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse::<f64>().ok()?;
    match series.split_once('{') {
        Some((name, labels)) => Some((name, labels.trim_end_matches('}'), value)),
        None => Some((series, "", value)),
    }
}

/// A label's value in labels written as `a="x",b="y"`.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.split(',').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

/// The value below which `q` of a histogram's observations fall, in its unit, interpolated
/// within the bucket (as Prometheus' `histogram_quantile` does); past the last finite bound,
/// that bound.
fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let mut buckets = buckets.to_vec();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for (le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower);
            }
            let within = (count - below).max(1e-12);
            return Some(lower + (le - lower) * ((rank - below) / within));
        }
        (lower, below) = (le, count);
    }
    None
}

impl Counted {
    /// Reads the figures out of a `/metrics` page in Prometheus' text format.
    pub fn parse(text: &str) -> Counted {
        let mut counted = Counted::default();
        let mut commit = Vec::new();
        let mut checkout = Vec::new();
        for (name, labels, value) in text.lines().filter_map(sample) {
            let whole = value.max(0.0) as u64;
            match name {
                "holdfast_checkout_answers_total" => {
                    if let Some(answer) = label(labels, "answer") {
                        *counted
                            .checkout_answers
                            .entry(answer.to_owned())
                            .or_default() += whole;
                    }
                }
                "holdfast_rate_limited_total" => counted.rate_limited += whole,
                "holdfast_connections_refused_total" => counted.connections_refused += whole,
                "holdfast_desk_batch_jobs_count" => counted.desk_batches += whole,
                "holdfast_desk_batch_jobs_sum" => counted.desk_jobs += whole,
                "holdfast_desk_commit_seconds_bucket" | "holdfast_checkout_seconds_bucket" => {
                    let le = match label(labels, "le") {
                        Some("+Inf") => f64::INFINITY,
                        Some(le) => match le.parse() {
                            Ok(le) => le,
                            Err(_) => continue,
                        },
                        None => continue,
                    };
                    if name.starts_with("holdfast_desk") {
                        commit.push((le, value));
                    } else {
                        checkout.push((le, value));
                    }
                }
                _ => {}
            }
        }
        counted.desk_commit_p95_ms = quantile(&commit, 0.95).map(|s| round(s * 1000.0));
        counted.checkout_p95_ms = quantile(&checkout, 0.95).map(|s| round(s * 1000.0));
        counted
    }

    /// Jobs the desk committed together, on average.
    pub fn jobs_per_batch(&self) -> f64 {
        self.desk_jobs as f64 / self.desk_batches.max(1) as f64
    }

    /// Reads them from the second shop's `/metrics`.
    pub async fn read(http: &reqwest::Client, url: &str) -> anyhow::Result<Counted> {
        let text = http
            .get(url)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(Counted::parse(&text))
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"# HELP holdfast_checkout_answers_total Answers to order attempts
# TYPE holdfast_checkout_answers_total counter
holdfast_checkout_answers_total{answer="ordered"} 100
holdfast_checkout_answers_total{answer="sold_out"} 7
holdfast_checkout_answers_total{answer="shed"} 0
holdfast_rate_limited_total 3
holdfast_connections_refused_total 0
# TYPE holdfast_desk_commit_seconds histogram
holdfast_desk_commit_seconds_bucket{le="0.001"} 10
holdfast_desk_commit_seconds_bucket{le="0.005"} 90
holdfast_desk_commit_seconds_bucket{le="0.01"} 100
holdfast_desk_commit_seconds_bucket{le="+Inf"} 100
holdfast_desk_commit_seconds_sum 0.3
holdfast_desk_commit_seconds_count 100
holdfast_desk_batch_jobs_bucket{le="1"} 50
holdfast_desk_batch_jobs_bucket{le="+Inf"} 100
holdfast_desk_batch_jobs_sum 400
holdfast_desk_batch_jobs_count 100
holdfast_checkout_seconds_bucket{le="0.05"} 100
holdfast_checkout_seconds_bucket{le="+Inf"} 101
"#;

    #[test]
    fn the_shops_own_figures_are_read_from_its_metrics() {
        let c = Counted::parse(PAGE);
        assert_eq!(c.checkout_answers.get("ordered"), Some(&100));
        assert_eq!(c.checkout_answers.get("sold_out"), Some(&7));
        assert_eq!(c.checkout_answers.get("shed"), Some(&0));
        assert_eq!((c.rate_limited, c.connections_refused), (3, 0));
        assert_eq!((c.desk_batches, c.desk_jobs), (100, 400));
        assert!((c.jobs_per_batch() - 4.0).abs() < 1e-9);
        // 95 of 100 fall in the (5 ms, 10 ms] bucket, halfway through it
        assert_eq!(c.desk_commit_p95_ms, Some(7.5));
        // 95.95 of 101 within the first bucket's 0–50 ms
        assert_eq!(c.checkout_p95_ms, Some(48.0));
        assert_eq!(Counted::parse("garbage\n{}\n"), Counted::default());
    }

    #[test]
    fn quantiles_past_every_bound_give_the_last_bound() {
        assert_eq!(
            quantile(&[(0.1, 0.0), (f64::INFINITY, 4.0)], 0.95),
            Some(0.1)
        );
        assert_eq!(quantile(&[], 0.95), None);
        assert_eq!(quantile(&[(0.1, 0.0), (f64::INFINITY, 0.0)], 0.95), None);
    }
}
