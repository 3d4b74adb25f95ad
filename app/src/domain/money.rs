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
