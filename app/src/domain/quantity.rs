//! How many units of one product a shopper asks for.

use super::problem::Problem;
use serde::{Deserialize, Serialize};

/// A quantity of one product on one order line: 1 to [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    /// No single line may ask for more than this: a shop for people, not resellers.
    pub const MAX: u32 = 99;

    pub fn parse(value: i64) -> Result<Quantity, Problem> {
        if value < 1 {
            return Err(Problem::QuantityBelowOne);
        }
        if value > i64::from(Self::MAX) {
            return Err(Problem::OneItemAtMost { max: Self::MAX });
        }
        u32::try_from(value)
            .map(Quantity)
            .map_err(|_| Problem::QuantityOutOfRange)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// Two quantities of the same product merged, if the sum is still allowed.
    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        Quantity::parse(i64::from(self.0) + i64::from(other.0)).ok()
    }
}

impl TryFrom<i64> for Quantity {
    type Error = Problem;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Quantity::parse(value)
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantity_of_zero_is_rejected() {
        assert!(Quantity::parse(0).is_err());
    }

    #[test]
    fn a_negative_quantity_is_rejected() {
        assert!(Quantity::parse(-3).is_err());
    }

    #[test]
    fn a_quantity_above_the_maximum_is_rejected() {
        assert!(Quantity::parse(100).is_err());
        assert!(Quantity::parse(i64::MAX).is_err());
        assert_eq!(Quantity::parse(99).map(Quantity::get), Ok(99));
    }

    #[test]
    fn merged_quantities_respect_the_maximum() {
        let q = |n| Quantity::parse(n).ok();
        assert_eq!(
            q(40).and_then(|a| q(50).and_then(|b| a.checked_add(b))),
            q(90)
        );
        assert_eq!(
            q(50).and_then(|a| q(50).and_then(|b| a.checked_add(b))),
            None
        );
    }

    #[test]
    fn json_with_a_bad_quantity_does_not_deserialize() {
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert!(serde_json::from_str::<Quantity>("-1").is_err());
        assert!(serde_json::from_str::<Quantity>("2.5").is_err());
        assert_eq!(
            serde_json::from_str::<Quantity>("2")
                .map(Quantity::get)
                .ok(),
            Some(2)
        );
    }
}
