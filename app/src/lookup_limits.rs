//! Limits on looking orders up (`order_status`, `my_order`, and the pages that call them): per
//! client, so nobody walks through codes, and per order code, so nobody with a code walks
//! through phone numbers. Checked inside the server functions, so the pages that render them on
//! the server are limited too, not only the API.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Who is asking, as the server's edge worked it out (the peer, or behind a trusted proxy the
/// address it saw). Put in each request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

pub struct LookupLimits {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    per_code: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

/// Lookups of one order code a minute, from anyone (a shopper refreshing her order page fits).
pub const PER_CODE_PER_MIN: u32 = 20;

impl LookupLimits {
    /// `per_client_per_min` lookups a minute for one client (bursts of the same size).
    pub fn new(per_client_per_min: u32) -> LookupLimits {
        let quota = |n: u32| {
            let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
            Quota::per_minute(n).allow_burst(n)
        };
        LookupLimits {
            per_client: RateLimiter::keyed(quota(per_client_per_min)),
            per_code: RateLimiter::keyed(quota(PER_CODE_PER_MIN)),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds to wait)` when this client, or this code, has been looked up too often.
    pub fn check(&self, client: Option<IpAddr>, code: &str) -> Result<(), u32> {
        self.forget_the_quiet();
        let wait = |not_until: governor::NotUntil<_>| {
            let secs = not_until.wait_time_from(self.clock.now()).as_secs() + 1;
            u32::try_from(secs).unwrap_or(u32::MAX)
        };
        if let Some(client) = client {
            self.per_client.check_key(&client).map_err(wait)?;
        }
        self.per_code.check_key(&code.to_owned()).map_err(wait)
    }

    /// Keeps memory bounded: keys back at a full allowance carry no information.
    fn forget_the_quiet(&self) {
        if self.per_client.len() > 50_000 {
            self.per_client.retain_recent();
        }
        if self.per_code.len() > 50_000 {
            self.per_code.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_looked_up_too_often_waits_whoever_asks_and_other_codes_do_not() {
        let limits = LookupLimits::new(1000);
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        for n in 0..PER_CODE_PER_MIN {
            let client = if n % 2 == 0 { a } else { b };
            assert_eq!(limits.check(Some(client), "K7M3Q9PX"), Ok(()));
        }
        assert!(limits.check(Some(a), "K7M3Q9PX").is_err());
        assert!(limits.check(None, "K7M3Q9PX").is_err(), "nor anonymously");
        assert_eq!(limits.check(Some(a), "ABCD2345"), Ok(()));
    }

    #[test]
    fn one_client_looking_up_many_codes_waits() {
        let limits = LookupLimits::new(5);
        let a: IpAddr = [192, 0, 2, 1].into();
        for n in 0..5 {
            assert_eq!(limits.check(Some(a), &format!("CODE{n}")), Ok(()));
        }
        assert!(limits.check(Some(a), "CODE9").is_err());
        assert_eq!(limits.check(Some([192, 0, 2, 3].into()), "CODE9"), Ok(()));
    }
}
