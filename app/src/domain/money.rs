//! Money in integer minor units (cents). Never a float.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of the shop's currency in minor units (cents), never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// A non-negative amount of cents; `None` for a negative one.
    pub fn from_cents(cents: i64) -> Option<Money> {
        (cents >= 0).then_some(Money(cents))
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    /// The most a price may be: $1,000,000.00.
    pub const MAX: Money = Money(100_000_000);

    /// An amount as an owner types it — `12`, `12.5`, `12.50`, `$1,250.00` — exactly, with no
    /// float in between; at most [`Money::MAX`].
    pub fn parse_amount(text: &str) -> Result<Money, String> {
        let bad = || format!("“{}” is not an amount like 12.50.", text.trim());
        let t = text.trim();
        let t = t.strip_prefix('$').unwrap_or(t).trim();
        let (grouped, fraction) = match t.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (t, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        // commas only as thousands separators: 1,250 and 12,500,000, never 12,5
        let mut groups = grouped.split(',');
        let first = groups.next().unwrap_or_default();
        let grouped_ok = !grouped.contains(',')
            || ((1..=3).contains(&first.len()) && groups.all(|g| g.len() == 3));
        let whole = grouped.replace(',', "");
        let fraction = match fraction {
            None => "",
            Some(f) if digits(f) && f.len() <= 2 => f,
            Some(_) => return Err(bad()),
        };
        if !digits(&whole) || !grouped_ok {
            return Err(bad());
        }
        if whole.len() > 7 {
            return Err("The most a price may be is $1,000,000.00.".to_owned());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let cents: i64 = match fraction.len() {
            0 => 0,
            1 => fraction.parse::<i64>().map_err(|_| bad())? * 10,
            _ => fraction.parse().map_err(|_| bad())?,
        };
        let amount = whole * 100 + cents;
        if amount > Self::MAX.0 {
            return Err("The most a price may be is $1,000,000.00.".to_owned());
        }
        Ok(Money(amount))
    }

    /// The amount as an owner would type it back: `1250.00`.
    pub fn plain(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_mul(self, times: u32) -> Option<Money> {
        self.0.checked_mul(i64::from(times)).map(Money)
    }
}

impl fmt::Display for Money {
    /// The demo shop prices in US dollars: `$12.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 100;
        let cents = self.0 % 100;
        let mut digits = whole.to_string();
        // thousands separators, so "$1,250.00" reads at a glance on a phone
        let mut grouped = String::new();
        while digits.len() > 3 {
            let tail = digits.split_off(digits.len() - 3);
            grouped = format!(",{tail}{grouped}");
        }
        write!(f, "${digits}{grouped}.{cents:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_exactly_as_typed() {
        let cents = |t: &str| Money::parse_amount(t).map(Money::cents);
        assert_eq!(cents("12"), Ok(1200));
        assert_eq!(cents("12.5"), Ok(1250));
        assert_eq!(cents("12.05"), Ok(1205));
        assert_eq!(cents(" $1,250.00 "), Ok(125_000));
        assert_eq!(cents("0.10"), Ok(10));
        assert_eq!(cents("0"), Ok(0));
        assert_eq!(cents("1000000"), Ok(100_000_000));
        for bad in [
            "",
            "-1",
            "12.345",
            "1e3",
            "12,5.",
            ".5",
            "abc",
            "1000000.01",
            "99999999",
            "12,5",
            "1,2345",
            "12.",
            "1.2.3",
            "$$5",
        ] {
            assert!(Money::parse_amount(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_amount_reads_back_as_itself() {
        for c in [0, 1, 9, 10, 99, 100, 101, 1250, 99_999, 100_000_000] {
            let m = Money::from_cents(c).unwrap_or(Money::ZERO);
            assert_eq!(Money::parse_amount(&m.plain()), Ok(m));
            assert_eq!(Money::parse_amount(&m.to_string()), Ok(m));
        }
    }

    #[test]
    fn a_negative_amount_is_rejected() {
        assert_eq!(Money::from_cents(-1), None);
        assert_eq!(Money::from_cents(0), Some(Money::ZERO));
    }

    #[test]
    fn money_displays_as_dollars_and_cents() {
        let m = |c| Money::from_cents(c).map(|m| m.to_string());
        assert_eq!(m(0).as_deref(), Some("$0.00"));
        assert_eq!(m(5).as_deref(), Some("$0.05"));
        assert_eq!(m(1250).as_deref(), Some("$12.50"));
        assert_eq!(m(123_456_789).as_deref(), Some("$1,234,567.89"));
    }

    #[test]
    fn arithmetic_overflow_is_caught_not_wrapped() {
        let big = Money::from_cents(i64::MAX - 1);
        assert!(big.and_then(|b| b.checked_add(Money(2))).is_none());
        assert!(big.and_then(|b| b.checked_mul(2)).is_none());
        assert_eq!(Money(250).checked_mul(3), Some(Money(750)));
    }

    #[test]
    fn the_line_total_of_any_price_and_small_quantity_is_exact() {
        // a property over a grid of values: multiplication agrees with repeated addition
        for cents in [0_i64, 1, 99, 100, 1999, 123_456, 9_999_999] {
            for q in 1..=99_u32 {
                let by_mul = Money(cents).checked_mul(q);
                let by_add = (0..q).try_fold(Money::ZERO, |acc, _| acc.checked_add(Money(cents)));
                assert_eq!(by_mul, by_add);
            }
        }
    }
}
