//! A phone number's allowance during a sale with a per-customer limit: the units it bought or
//! holds count against it; units given back — a hold that ran out or was released, an order the
//! owner cancelled — come off it.

/// What the phone number has after `returned` units come back: never below nothing (an order
/// placed before the owner set a limit was never counted, and cancelling it gives nothing back).
pub fn allowance_after_return(units: i64, returned: i64) -> i64 {
    units.saturating_sub(returned).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_given_back_come_off_the_count_but_never_below_nothing() {
        assert_eq!(allowance_after_return(3, 2), 1);
        assert_eq!(allowance_after_return(2, 2), 0);
        assert_eq!(
            allowance_after_return(1, 3),
            0,
            "an uncounted order gives nothing back"
        );
        assert_eq!(allowance_after_return(0, 1), 0);
    }
}
