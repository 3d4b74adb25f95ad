//! Money in integer minor units (cents, fen). Never a float. Which currency the amounts are in is
//! the shop's setting ([`Currency`]): every currency offered has two minor digits, so an amount
//! means the same number of minor units whichever the shop chooses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of the shop's currency in minor units (cents, fen), never negative.
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

    /// The most a price may be: 1,000,000.00.
    pub const MAX: Money = Money(100_000_000);

    /// An amount as an owner types it — `12`, `12.5`, `12.50`, `$1,250.00`, `¥19` — exactly,
    /// with no float in between; at most [`Money::MAX`].
    pub fn parse_amount(text: &str) -> Result<Money, super::Problem> {
        let bad = || super::Problem::NotAnAmount {
            typed: text.trim().to_owned(),
        };
        let t = text.trim();
        let t = t
            .strip_prefix(|c| matches!(c, '$' | '¥' | '￥' | '€'))
            .unwrap_or(t)
            .trim();
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
            return Err(super::Problem::PriceTooHigh);
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let cents: i64 = match fraction.len() {
            0 => 0,
            1 => fraction.parse::<i64>().map_err(|_| bad())? * 10,
            _ => fraction.parse().map_err(|_| bad())?,
        };
        let amount = whole * 100 + cents;
        if amount > Self::MAX.0 {
            return Err(super::Problem::PriceTooHigh);
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

    /// The amount as a shopper reads it in `currency`: `¥1,250.00`, `$12.50`, `€0.05`.
    pub fn show(self, currency: Currency) -> String {
        let whole = self.0 / 100;
        let cents = self.0 % 100;
        let mut digits = whole.to_string();
        // thousands separators, so "¥1,250.00" reads at a glance on a phone
        let mut grouped = String::new();
        while digits.len() > 3 {
            let tail = digits.split_off(digits.len() - 3);
            grouped = format!(",{tail}{grouped}");
        }
        format!("{}{digits}{grouped}.{cents:02}", currency.symbol())
    }
}

/// The currencies a shop may price in. Each has two minor digits (fen, cents), so amounts stored
/// in minor units keep their meaning when the owner picks another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Currency {
    /// Renminbi, `¥`: the default of a Chinese shop.
    #[default]
    Cny,
    Usd,
    Eur,
}

impl Currency {
    pub const ALL: [Currency; 3] = [Currency::Cny, Currency::Usd, Currency::Eur];

    /// The ISO 4217 code, as stored: `CNY`.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Cny => "CNY",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
        }
    }

    pub fn parse(code: &str) -> Option<Currency> {
        Currency::ALL.into_iter().find(|c| c.code() == code.trim())
    }

    /// The sign put before an amount.
    pub fn symbol(self) -> &'static str {
        match self {
            Currency::Cny => "¥",
            Currency::Usd => "$",
            Currency::Eur => "€",
        }
    }

    /// Digits after the decimal point: the minor units in one major unit is 10 to this power.
    pub fn minor_digits(self) -> u32 {
        2
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.symbol(), self.code())
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
            for currency in Currency::ALL {
                assert_eq!(Money::parse_amount(&m.show(currency)), Ok(m));
            }
        }
    }

    #[test]
    fn a_negative_amount_is_rejected() {
        assert_eq!(Money::from_cents(-1), None);
        assert_eq!(Money::from_cents(0), Some(Money::ZERO));
    }

    #[test]
    fn money_is_shown_in_the_shops_currency() {
        let table = [
            (0, Currency::Cny, "¥0.00"),
            (5, Currency::Cny, "¥0.05"),
            (1900, Currency::Cny, "¥19.00"),
            (1900, Currency::Usd, "$19.00"),
            (1900, Currency::Eur, "€19.00"),
            (1250, Currency::Usd, "$12.50"),
            (99_999, Currency::Cny, "¥999.99"),
            (100_000, Currency::Eur, "€1,000.00"),
            (123_456_789, Currency::Usd, "$1,234,567.89"),
            (100_000_000, Currency::Cny, "¥1,000,000.00"),
        ];
        for (cents, currency, shown) in table {
            let m = Money::from_cents(cents).map(|m| m.show(currency));
            assert_eq!(m.as_deref(), Some(shown), "{cents} {currency:?}");
        }
    }

    #[test]
    fn currencies_are_read_back_from_their_codes_only() {
        for c in Currency::ALL {
            assert_eq!(Currency::parse(c.code()), Some(c));
            assert_eq!(c.minor_digits(), 2);
        }
        assert_eq!(Currency::default(), Currency::Cny);
        for bad in ["", "cny", "RMB", "¥", "GBP", "JPY"] {
            assert_eq!(Currency::parse(bad), None, "{bad:?}");
        }
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
