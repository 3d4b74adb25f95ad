//! Per-client rate limits on the order and waiting-room endpoints (GCRA, from the `governor`
//! crate): a client over its allowance gets 429 with the JSON error and `Retry-After`, before any
//! work is done. Page views are never limited.
//!
//! A client is its IP address — an IPv6 client by its /64, since one phone gets a whole /64.
//! Many phones on a mobile network can share one IPv4 address (carrier-grade NAT), so the
//! allowance is generous and configurable. Behind a reverse proxy (`HOLDFAST_TRUST_PROXY`) the
//! client is the last `X-Forwarded-For` entry, the one the proxy itself added.
//!
//! Each server checks its own allowance first (cheap, in memory). With several servers on one
//! Postgres database the client's allowance is also checked across all of them
//! ([`SharedAllowance`]), so spreading requests over servers gains nothing. If that check cannot
//! be made (the database is away), the local decision stands: the request would be refused by the
//! order desk anyway.

use crate::edge::api_guard::refusal;
use app::api::Refusal;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// The endpoints a surge hammers: placing orders and the waiting room (its live stream reads the
/// ticket on every connect, as its status does).
const LIMITED: &[&str] = &[
    app::live::LINE_STREAM_PATH,
    "/api/place_order",
    "/api/checkout",
    "/api/queue/join",
    "/api/queue/join_form",
    "/api/queue/status",
    "/api/queue/leave",
    "/api/queue/checkout",
];

/// The window of the shared allowance: a client may make ten seconds' worth of its per-second
/// rate in it (the same as its local burst).
pub const SHARED_WINDOW: Duration = Duration::from_secs(10);

pub use crate::store::SharedAllowance;

pub struct ClientLimits {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    trust_proxy: bool,
    shared: Option<Arc<dyn SharedAllowance>>,
    /// Where refusals are counted for the owner's control room.
    pulse: Arc<app::pulse::Pulse>,
}

impl ClientLimits {
    /// `per_sec` requests a second with bursts of ten times that; `None` when 0 (no limits).
    /// `shared`, when given, is checked after the local allowance (several servers).
    pub fn new(
        per_sec: u32,
        trust_proxy: bool,
        shared: Option<Arc<dyn SharedAllowance>>,
        pulse: Arc<app::pulse::Pulse>,
    ) -> Option<Arc<ClientLimits>> {
        let rate = NonZeroU32::new(per_sec)?;
        let burst = NonZeroU32::new(per_sec.saturating_mul(10)).unwrap_or(rate);
        let limits = Arc::new(ClientLimits {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
            trust_proxy,
            shared,
            pulse,
        });
        // forget clients that have been quiet long enough to be back at a full allowance
        let weak = Arc::downgrade(&limits);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(limits) = weak.upgrade() else { break };
                limits.limiter.retain_recent();
                limits.limiter.shrink_to_fit();
            }
        });
        Some(limits)
    }

    /// Whole seconds to wait, if this client is over its allowance.
    fn check(&self, client: IpAddr) -> Result<(), u32> {
        self.limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            u32::try_from(wait.as_secs() + 1).unwrap_or(u32::MAX)
        })
    }

    fn refuse(&self, headers: &axum::http::HeaderMap, secs: u32) -> Response {
        self.pulse.record(app::pulse::Answer::RateLimited, None);
        metrics::counter!("holdfast_rate_limited_total").increment(1);
        refusal(headers, &Refusal::rate_limited(secs))
    }

    fn client(&self, req: &Request) -> Option<IpAddr> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| *addr);
        client_of(req.headers(), peer, self.trust_proxy)
    }
}

/// Who a request comes from, for limits: with `trust_proxy`, the last `X-Forwarded-For` entry
/// (the one the proxy added), else the peer address; an IPv6 client by its /64.
pub fn client_of(
    headers: &axum::http::HeaderMap,
    peer: Option<SocketAddr>,
    trust_proxy: bool,
) -> Option<IpAddr> {
    let forwarded = trust_proxy
        .then(|| {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .cloned()
        })
        .flatten()
        .and_then(|v| {
            v.to_str()
                .ok()?
                .rsplit(',')
                .next()?
                .trim()
                .parse::<IpAddr>()
                .ok()
        });
    let ip = forwarded.or_else(|| peer.map(|addr| addr.ip()))?;
    Some(client_key(ip))
}

/// An IPv6 address stands for its /64; IPv4 (and IPv4-mapped) addresses for themselves.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Names the client of every request ([`app::lookup_limits::ClientAddr`]) for the limits that
/// live inside server functions (order lookups).
pub async fn identify(State(trust_proxy): State<bool>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    if let Some(client) = client_of(req.headers(), peer, trust_proxy) {
        req.extensions_mut()
            .insert(app::lookup_limits::ClientAddr(client));
    }
    next.run(req).await
}

pub async fn limit(
    State(limits): State<Option<Arc<ClientLimits>>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(limits) = &limits {
        if LIMITED.contains(&req.uri().path()) {
            if let Some(client) = limits.client(&req) {
                if let Err(secs) = limits.check(client) {
                    return limits.refuse(req.headers(), secs);
                }
                if let Some(shared) = &limits.shared {
                    match shared.check(client.to_string()).await {
                        Ok(Err(secs)) => return limits.refuse(req.headers(), secs),
                        Ok(Ok(())) => {}
                        Err(e) => tracing::debug!(error = %e, "shared allowance unknown"),
                    }
                }
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_its_slash_64_and_a_mapped_ipv4_is_itself() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::V4([0; 4].into()));
        let b: IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or(IpAddr::V4([0; 4].into()));
        let c: IpAddr = "2001:db8:1:3::1"
            .parse()
            .unwrap_or(IpAddr::V4([0; 4].into()));
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7"
            .parse()
            .unwrap_or(IpAddr::V4([0; 4].into()));
        assert_eq!(client_key(mapped), IpAddr::V4([192, 0, 2, 7].into()));
    }

    fn request(forwarded: &str, peer: [u8; 4]) -> Request {
        let mut req = Request::builder()
            .uri("/api/place_order")
            .header("x-forwarded-for", forwarded)
            .body(axum::body::Body::empty())
            .unwrap_or_default();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 40_000))));
        req
    }

    #[tokio::test]
    async fn behind_a_trusted_proxy_the_client_is_the_last_forwarded_entry_and_otherwise_the_peer()
    {
        let req = request("203.0.113.9, 198.51.100.2", [10, 0, 0, 1]);
        let trusting = ClientLimits::new(1, true, None, Arc::default());
        let direct = ClientLimits::new(1, false, None, Arc::default());
        let (Some(trusting), Some(direct)) = (trusting, direct) else {
            panic!("limits on")
        };
        // the first entry is whatever the client claimed; the last is what the proxy saw
        assert_eq!(
            trusting.client(&req),
            Some(IpAddr::V4([198, 51, 100, 2].into()))
        );
        assert_eq!(direct.client(&req), Some(IpAddr::V4([10, 0, 0, 1].into())));
        let junk = request("not an address", [10, 0, 0, 2]);
        assert_eq!(
            trusting.client(&junk),
            Some(IpAddr::V4([10, 0, 0, 2].into()))
        );
    }

    #[tokio::test]
    async fn a_client_over_its_burst_waits_and_others_do_not() {
        let limits = ClientLimits::new(2, false, None, Arc::default());
        let Some(limits) = limits else {
            panic!("limits on")
        };
        let one = IpAddr::V4([192, 0, 2, 1].into());
        let other = IpAddr::V4([192, 0, 2, 2].into());
        for _ in 0..20 {
            assert_eq!(limits.check(one), Ok(()), "a burst of 10 × 2 is allowed");
        }
        let refused = limits.check(one);
        assert!(matches!(refused, Err(1)), "{refused:?}");
        assert_eq!(limits.check(other), Ok(()));
        assert!(
            ClientLimits::new(0, false, None, Arc::default()).is_none(),
            "0 turns limits off"
        );
    }
}
