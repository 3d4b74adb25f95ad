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
    sweeps: Sweeps,
}

/// When a keyed limiter was last swept. Sweeping scans every key, so it happens at most every
/// few seconds, never per request: a flood from ever-new addresses must not make each of its
/// requests (and everyone else's) pay for a scan of all the others.
#[derive(Default)]
pub struct Sweeps {
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

/// Keys a limiter may hold before quiet ones are forgotten.
const SWEEP_ABOVE: usize = 50_000;
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

impl Sweeps {
    /// Forgets the limiter's keys that are back at a full allowance (they carry no
    /// information), when it holds many and the last sweep was a while ago.
    pub fn keep_bounded<K>(&self, limiter: &DefaultKeyedRateLimiter<K>)
    where
        K: std::hash::Hash + Eq + Clone,
    {
        if limiter.len() <= SWEEP_ABOVE {
            return;
        }
        let now = std::time::Instant::now();
        let Ok(mut last) = self.last.try_lock() else {
            return; // another request is sweeping
        };
        if last.is_some_and(|at| now.duration_since(at) < SWEEP_EVERY) {
            return;
        }
        *last = Some(now);
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
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
            sweeps: Sweeps::default(),
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
        self.sweeps.keep_bounded(&self.per_client);
        self.sweeps.keep_bounded(&self.per_code);
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
