//! What a rehearsal found, in numbers (kept as JSON) and in plain words: when the units sold out,
//! how fast orders went, what shoppers were answered and how soon, the longest line and wait,
//! what the second shop used, the audit of its copy, and advice drawn from all of it.

use super::plan::Plan;
use crate::load::{Sample, Spread};
use app::language::Language;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub product_id: i64,
    pub product_name: String,
    pub plan: Plan,
    pub waiting_room: bool,
    pub started_at: app::domain::At,
    pub seconds: f64,
    pub cancelled: bool,
    /// Shoppers whose journey ended (all of them, unless cancelled).
    pub shoppers_done: usize,
    /// Units free to take when the doors opened.
    pub units_available: i64,
    pub units_sold: i64,
    /// When the last unit sold, from the doors opening; none if some were left.
    pub sold_out_after_secs: Option<f64>,
    /// Orders a second while units lasted.
    pub orders_per_sec: f64,
    /// How each shopper's visit ended: ordered, sold_out, gave_up, busy, …
    pub outcomes: BTreeMap<String, usize>,
    /// Every answer, by request and kind, with how long it took.
    pub answers: Vec<Answers>,
    pub longest_line: u64,
    pub longest_wait_secs: f64,
    /// The second shop's peak resident memory and the CPU it used.
    pub peak_memory_mib: f64,
    pub cpu_secs: f64,
    pub audit: Audit,
    pub advice: Vec<Advice>,
    /// Units left each second from the doors opening (the burn-down; empty in reports kept
    /// before it was).
    #[serde(default)]
    pub left: Vec<i64>,
    /// What the rehearsal's shop counted itself (its `/metrics`), beside what the phones saw.
    #[serde(default)]
    pub counted: Option<super::counted::Counted>,
}

/// One kind of answer to one kind of request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answers {
    /// "order", "join", "status", "page", "leave".
    pub request: String,
    /// "acknowledged", "sold_out", "overloaded", "rate_limited", "waiting", …
    pub kind: String,
    pub count: usize,
    pub latency: Spread,
}

/// The copy checked after the run: nothing oversold, nothing lost, every unit accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// Units free or held when the doors opened.
    pub initial: i64,
    pub stock: i64,
    pub sold: i64,
    pub held: i64,
    /// Units that came back from orders cancelled meanwhile (unpaid ones running out).
    pub restocked: i64,
    /// Units sold beyond what there was.
    pub oversold: i64,
    /// Orders shoppers were told about that the copy does not hold.
    pub lost: i64,
    /// stock + sold + held = initial + restocked.
    pub balanced: bool,
}

impl Audit {
    pub fn holds(&self) -> bool {
        self.oversold == 0 && self.lost == 0 && self.balanced
    }
}

/// Advice drawn from what the rehearsal saw (in words: [`Advice::words`], in the owner's
/// language on her pages, in English on the command line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "advice", rename_all = "snake_case")]
pub enum Advice {
    /// The audit failed: do not run the sale.
    AuditFailed,
    /// There was nothing to sell.
    NoStock,
    /// Every shopper got an answer that was the truth, checkout this fast.
    Held {
        shoppers: usize,
        checkout_p95_ms: f64,
    },
    /// Shoppers told "busy"; with or without the waiting room on.
    Busy {
        shoppers: usize,
        percent: f64,
        waiting_room: bool,
    },
    /// Answers of "too many requests".
    RateLimited { answers: usize },
    /// Requests that failed (server errors, timeouts, dropped connections).
    Errors { requests: usize },
    /// Shoppers still waiting when the rehearsal ended.
    StillWaiting { shoppers: usize },
    /// Units still held by shoppers who walked away; back in stock when their holds run out.
    HoldsLeft { units: i64, hold_seconds: i64 },
    /// The shop's own count: the order desk's commits were slow, and paced the sale.
    SlowDesk {
        commit_p95_ms: f64,
        orders_per_sec: f64,
    },
}

/// A desk slower than this to commit one batch (95 in 100) paces a sale: worth telling.
const SLOW_COMMIT_MS: f64 = 100.0;

impl Advice {
    /// The advice in words, in `lang` (the texts live in `app/locales`).
    pub fn words(&self, lang: Language) -> String {
        match self {
            Advice::AuditFailed => app::tr!(lang, admin_rehearsal_advice_audit_failed),
            Advice::NoStock => app::tr!(lang, admin_rehearsal_advice_no_stock),
            Advice::Held {
                shoppers,
                checkout_p95_ms,
            } => app::tr!(
                lang,
                admin_rehearsal_advice_held,
                shoppers = shoppers,
                ms = format!("{checkout_p95_ms:.0}")
            ),
            Advice::Busy {
                shoppers,
                percent,
                waiting_room: false,
            } => app::tr!(
                lang,
                admin_rehearsal_advice_busy,
                shoppers = shoppers,
                percent = format!("{percent:.1}")
            ),
            Advice::Busy {
                shoppers, percent, ..
            } => app::tr!(
                lang,
                admin_rehearsal_advice_busy_in_line,
                shoppers = shoppers,
                percent = format!("{percent:.1}")
            ),
            Advice::RateLimited { answers } => {
                app::tr!(lang, admin_rehearsal_advice_rate_limited, answers = answers)
            }
            Advice::Errors { requests } => {
                app::tr!(lang, admin_rehearsal_advice_errors, requests = requests)
            }
            Advice::StillWaiting { shoppers } => {
                app::tr!(
                    lang,
                    admin_rehearsal_advice_still_waiting,
                    shoppers = shoppers
                )
            }
            Advice::HoldsLeft {
                units,
                hold_seconds,
            } => app::tr!(
                lang,
                admin_rehearsal_advice_holds_left,
                units = units,
                secs = hold_seconds
            ),
            Advice::SlowDesk {
                commit_p95_ms,
                orders_per_sec,
            } => app::tr!(
                lang,
                admin_rehearsal_advice_slow_desk,
                ms = format!("{commit_p95_ms:.0}"),
                orders = format!("{orders_per_sec:.0}")
            ),
        }
    }
}

/// What the run gave, for the report.
pub struct Run<'a> {
    pub samples: &'a [Sample],
    pub opened: Instant,
    pub elapsed: Duration,
    pub cancelled: bool,
    pub longest_line: u64,
    pub peak_memory_mib: f64,
    pub cpu_secs: f64,
    pub hold_seconds: Option<i64>,
    /// Units left each second.
    pub left: Vec<i64>,
    /// The shop's own figures (its `/metrics`), if they could be read.
    pub counted: Option<super::counted::Counted>,
}

impl Report {
    /// Figures and advice from the run's answers and the audit.
    pub fn new(
        plan: &Plan,
        product_name: &str,
        waiting_room: bool,
        started_at: app::domain::At,
        run: &Run<'_>,
        audit: Audit,
    ) -> Report {
        let answered = |s: &&Sample| s.what != "outcome" && s.what != "wait";
        let mut by_kind: BTreeMap<(&str, &str), Vec<Duration>> = BTreeMap::new();
        for s in run.samples.iter().filter(answered) {
            by_kind
                .entry((s.what, &s.kind))
                .or_default()
                .push(s.latency);
        }
        let answers = by_kind
            .into_iter()
            .map(|((request, kind), latencies)| Answers {
                request: request.to_owned(),
                kind: kind.to_owned(),
                count: latencies.len(),
                latency: Spread::of(&latencies),
            })
            .collect();
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for s in run.samples.iter().filter(|s| s.what == "outcome") {
            *outcomes.entry(s.kind.clone()).or_default() += 1;
        }
        let shoppers_done = outcomes.values().sum();
        let last_sale = run
            .samples
            .iter()
            .filter(|s| s.order_code.is_some())
            .map(|s| s.at.saturating_duration_since(run.opened))
            .max();
        let units_sold = audit.sold;
        let sold_out = audit.initial + audit.restocked > 0 && audit.stock == 0 && audit.held == 0;
        let selling = last_sale.unwrap_or(run.elapsed).as_secs_f64().max(1e-3);
        let longest_wait = run
            .samples
            .iter()
            .filter(|s| s.what == "wait")
            .map(|s| s.latency)
            .max()
            .unwrap_or_default();
        let mut report = Report {
            product_id: plan.product_id,
            product_name: product_name.to_owned(),
            plan: plan.clone(),
            waiting_room,
            started_at,
            seconds: round(run.elapsed.as_secs_f64()),
            cancelled: run.cancelled,
            shoppers_done,
            units_available: audit.initial,
            units_sold,
            sold_out_after_secs: last_sale
                .filter(|_| sold_out)
                .map(|d| round(d.as_secs_f64())),
            orders_per_sec: round(units_sold as f64 / selling),
            outcomes,
            answers,
            longest_line: run.longest_line,
            longest_wait_secs: round(longest_wait.as_secs_f64()),
            peak_memory_mib: round(run.peak_memory_mib),
            cpu_secs: round(run.cpu_secs),
            audit,
            advice: Vec::new(),
            left: run.left.clone(),
            counted: run.counted.clone(),
        };
        report.advice = report.advise(run);
        report
    }

    fn advise(&self, run: &Run<'_>) -> Vec<Advice> {
        let mut advice = Vec::new();
        if !self.audit.holds() {
            advice.push(Advice::AuditFailed);
        }
        if self.audit.initial == 0 {
            advice.push(Advice::NoStock);
        }
        let outcome = |kind: &str| self.outcomes.get(kind).copied().unwrap_or(0);
        let busy = outcome("busy");
        if busy > 0 {
            advice.push(Advice::Busy {
                shoppers: busy,
                percent: round(busy as f64 * 100.0 / self.shoppers_done.max(1) as f64),
                waiting_room: self.waiting_room,
            });
        }
        let limited = self.count(|a| a.kind == "rate_limited");
        if limited > 0 {
            advice.push(Advice::RateLimited { answers: limited });
        }
        let errors = run
            .samples
            .iter()
            .filter(|s| s.what != "outcome" && s.is_error())
            .count();
        if errors > 0 {
            advice.push(Advice::Errors { requests: errors });
        }
        if outcome("still_waiting") > 0 {
            advice.push(Advice::StillWaiting {
                shoppers: outcome("still_waiting"),
            });
        }
        if self.audit.held > 0 {
            advice.push(Advice::HoldsLeft {
                units: self.audit.held,
                hold_seconds: run.hold_seconds.unwrap_or(0),
            });
        }
        if let Some(commit_p95_ms) = self
            .counted
            .as_ref()
            .and_then(|c| c.desk_commit_p95_ms)
            .filter(|ms| *ms > SLOW_COMMIT_MS)
        {
            advice.push(Advice::SlowDesk {
                commit_p95_ms,
                orders_per_sec: self.orders_per_sec,
            });
        }
        if busy == 0 && errors == 0 && self.audit.holds() && !self.cancelled {
            let orders: Vec<Duration> = run
                .samples
                .iter()
                .filter(|s| s.what == "order")
                .map(|s| s.latency)
                .collect();
            advice.insert(
                0,
                Advice::Held {
                    shoppers: self.shoppers_done,
                    checkout_p95_ms: Spread::of(&orders).p95_ms,
                },
            );
        }
        advice
    }

    fn count(&self, which: impl Fn(&Answers) -> bool) -> usize {
        self.answers
            .iter()
            .filter(|a| which(a))
            .map(|a| a.count)
            .sum()
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The report in plain words, for the command line.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Rehearsal of {} — {} shoppers{}, {}{}",
            self.product_name,
            self.plan.shoppers,
            if self.plan.arrive_over_secs == 0 {
                " arriving all at once".to_owned()
            } else {
                format!(" arriving over {} s", self.plan.arrive_over_secs)
            },
            if self.waiting_room {
                "through the waiting room"
            } else {
                "straight to checkout"
            },
            if self.cancelled { " (cancelled)" } else { "" }
        )?;
        writeln!(
            f,
            "  started {} UTC, ran {:.1} s; {} shoppers done",
            self.started_at, self.seconds, self.shoppers_done
        )?;
        match self.sold_out_after_secs {
            Some(s) => writeln!(
                f,
                "  all {} units sold out {s:.1} s after the doors opened",
                self.units_sold
            )?,
            None => writeln!(
                f,
                "  {} of {} units sold",
                self.units_sold, self.units_available
            )?,
        }
        writeln!(
            f,
            "  orders per second while units lasted: {:.0}",
            self.orders_per_sec
        )?;
        writeln!(f, "  how shoppers' visits ended:")?;
        for (kind, n) in &self.outcomes {
            writeln!(f, "    {kind:<16} {n}")?;
        }
        writeln!(f, "  answers (count, p50 / p95 / p99 ms):")?;
        for a in &self.answers {
            writeln!(
                f,
                "    {:<7} {:<16} {:>7}   {:.1} / {:.1} / {:.1}",
                a.request, a.kind, a.count, a.latency.p50_ms, a.latency.p95_ms, a.latency.p99_ms
            )?;
        }
        if self.waiting_room {
            writeln!(
                f,
                "  longest line {} shoppers; longest wait {:.1} s",
                self.longest_line, self.longest_wait_secs
            )?;
        }
        writeln!(
            f,
            "  the second shop: peak memory {:.0} MiB, {:.1} CPU seconds",
            self.peak_memory_mib, self.cpu_secs
        )?;
        if let Some(c) = &self.counted {
            let answers: Vec<String> = c
                .checkout_answers
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(kind, n)| format!("{kind} {n}"))
                .collect();
            writeln!(
                f,
                "  the shop's own count (/metrics): order answers {}; rate limited {}; connections turned away {}",
                if answers.is_empty() { "none".to_owned() } else { answers.join(", ") },
                c.rate_limited,
                c.connections_refused
            )?;
            writeln!(
                f,
                "    order desk: {} batches, {:.1} jobs a batch; commit p95 {}; checkout p95 {}",
                c.desk_batches,
                c.jobs_per_batch(),
                c.desk_commit_p95_ms
                    .map_or("—".to_owned(), |ms| format!("{ms} ms")),
                c.checkout_p95_ms
                    .map_or("—".to_owned(), |ms| format!("{ms} ms")),
            )?;
        }
        let a = &self.audit;
        writeln!(
            f,
            "  audit: stock {} + sold {} + held {} = {} (initial {} + restocked {}); oversold {}, lost {}: {}",
            a.stock, a.sold, a.held, a.stock + a.sold + a.held, a.initial, a.restocked, a.oversold, a.lost,
            if a.holds() { "ok" } else { "FAILED" }
        )?;
        for advice in &self.advice {
            writeln!(f, "  → {}", advice.words(Language::En))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rehearsal::counted::Counted;

    fn report_with(commit_p95_ms: Option<f64>) -> Report {
        let plan = Plan::new(1, 1000, 0, 0, Some(100)).unwrap();
        let counted = Counted {
            desk_commit_p95_ms: commit_p95_ms,
            ..Counted::default()
        };
        let run = Run {
            samples: &[],
            opened: Instant::now(),
            elapsed: Duration::from_secs(40),
            cancelled: false,
            longest_line: 0,
            peak_memory_mib: 100.0,
            cpu_secs: 10.0,
            hold_seconds: None,
            left: vec![100, 0],
            counted: Some(counted),
        };
        let audit = Audit {
            initial: 100,
            stock: 0,
            sold: 100,
            held: 0,
            restocked: 0,
            oversold: 0,
            lost: 0,
            balanced: true,
        };
        Report::new(
            &plan,
            "Hoodie",
            true,
            app::domain::At::parse("2026-12-05T00:00:00Z").unwrap(),
            &run,
            audit,
        )
    }

    #[test]
    fn a_slow_order_desk_is_advised_on_in_both_languages() {
        let slow = report_with(Some(402.4));
        let said = slow
            .advice
            .iter()
            .find(|a| matches!(a, Advice::SlowDesk { .. }))
            .expect("slow commits are advised on");
        assert!(
            said.words(Language::En).contains("402 ms"),
            "{}",
            said.words(Language::En)
        );
        assert!(said.words(Language::ZhCn).contains("下单台"));
        for fast in [Some(13.6), None] {
            assert!(!report_with(fast)
                .advice
                .iter()
                .any(|a| matches!(a, Advice::SlowDesk { .. })));
        }
    }
}
