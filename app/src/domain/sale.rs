//! Flash sales: a window with a sale price, an optional per-customer limit, and optionally a
//! waiting room that hands out timed holds.

use super::time::At;
use serde::{Deserialize, Serialize};

/// Where a sale is in time, as of when the view was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SalePhase {
    /// Announced: orders are refused until it starts (the waiting room already takes names).
    Upcoming,
    Live,
    /// Over: the product sells at its normal price again, without limit or waiting room.
    Ended,
}

/// A product's flash sale as shown to shoppers and the JSON API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleView {
    /// RFC 3339, UTC (its one text form: see [`At`]).
    pub starts_at: At,
    pub ends_at: At,
    pub sale_price_cents: i64,
    /// Units one phone number may buy during the sale.
    pub per_customer_limit: Option<u32>,
    /// Shoppers queue and get a timed hold instead of racing to check out.
    pub waiting_room: bool,
    /// How long an admitted shopper's units are held for them.
    pub hold_seconds: u32,
    /// Orders placed during the sale and still unpaid this long after are cancelled and their
    /// units go back on sale.
    pub pay_seconds: u32,
    pub phase: SalePhase,
    /// Seconds from when this view was made until the start (0 once started).
    pub starts_in_secs: i64,
    /// Seconds from when this view was made until the end (0 once ended).
    pub ends_in_secs: i64,
}

impl SalePhase {
    /// Where a sale running from `starts_at` until `ends_at` is at `now`: the one definition
    /// the shop, the API and the owner's pages use.
    pub fn at(starts_at: At, ends_at: At, now: At) -> SalePhase {
        if now < starts_at {
            SalePhase::Upcoming
        } else if now < ends_at {
            SalePhase::Live
        } else {
            SalePhase::Ended
        }
    }
}

impl SaleView {
    pub fn is_live(&self) -> bool {
        self.phase == SalePhase::Live
    }

    /// Whether shoppers go through the waiting room right now (or will, once it starts).
    pub fn queues(&self) -> bool {
        self.waiting_room && self.phase != SalePhase::Ended
    }
}

/// A countdown's units in one language (`d`, `h`, `min`, `s`; `天`, `小时`, `分`, `秒`), from the
/// locale files: a countdown island is given them by its page, so the browser's bundle carries
/// no translations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountdownUnits {
    pub days: String,
    pub hours: String,
    pub minutes: String,
    pub seconds: String,
}

impl CountdownUnits {
    pub fn of(lang: crate::language::Language) -> CountdownUnits {
        CountdownUnits {
            days: crate::tr!(lang, countdown_unit_days),
            hours: crate::tr!(lang, countdown_unit_hours),
            minutes: crate::tr!(lang, countdown_unit_minutes),
            seconds: crate::tr!(lang, countdown_unit_seconds),
        }
    }
}

/// "1 h 05 min", "4:07", "12 s": a countdown a shopper reads at a glance.
pub fn countdown_text(secs: i64, units: &CountdownUnits) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let u = units;
    if h == 0 && m > 0 {
        format!("{m}:{s:02}")
    } else if h >= 24 {
        format!("{} {} {} {}", h / 24, u.days, h % 24, u.hours)
    } else if h > 0 {
        format!("{h} {} {m:02} {}", u.hours, u.minutes)
    } else {
        format!("{s} {}", u.seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sale_is_upcoming_before_its_start_live_until_its_end_and_ended_from_then() {
        let time = |t: &str| At::parse(t).unwrap_or(At::from_millis(0));
        let (start, end) = (
            time("2026-12-03T09:00:00.000Z"),
            time("2026-12-03T10:00:00Z"),
        );
        let at = |now: &str| SalePhase::at(start, end, time(now));
        assert_eq!(at("2026-12-03T08:59:59.999Z"), SalePhase::Upcoming);
        assert_eq!(
            at("2026-12-03T09:00:00Z"),
            SalePhase::Live,
            "live from its first millisecond"
        );
        assert_eq!(at("2026-12-03T09:59:59.999Z"), SalePhase::Live);
        assert_eq!(
            at("2026-12-03T10:00:00.000Z"),
            SalePhase::Ended,
            "over at its end"
        );
        // by value, not by text: the same instants written in Shanghai's offset
        assert_eq!(at("2026-12-03T17:00:00+08:00"), SalePhase::Live);
        assert_eq!(at("2026-12-03T16:59:59.999+08:00"), SalePhase::Upcoming);
    }

    #[test]
    fn countdowns_read_naturally() {
        use crate::language::Language::{En, ZhCn};
        let table = [
            (-3, "0 s", "0 秒"),
            (12, "12 s", "12 秒"),
            (247, "4:07", "4:07"),
            (3900, "1 h 05 min", "1 小时 05 分"),
            (2 * 86400 + 7200, "2 d 2 h", "2 天 2 小时"),
        ];
        let (en_units, zh_units) = (CountdownUnits::of(En), CountdownUnits::of(ZhCn));
        for (secs, en, zh) in table {
            assert_eq!(countdown_text(secs, &en_units), en);
            assert_eq!(countdown_text(secs, &zh_units), zh);
        }
    }
}
