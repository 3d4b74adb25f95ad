//! A request's body: how long it may take to arrive, and reading it whole within a size limit.
//!
//! The time is kept for every route at once, where hyper hands a request over
//! (`connection.rs` wraps each body in a [`Pace`]): a body must arrive within the body timeout
//! (`HOLDFAST_BODY_TIMEOUT_SECS`), plus one second for every [`MIN_RATE`] bytes it has
//! delivered, so an owner's 8 MB photo on a slow phone link gets the time it needs while a
//! client dripping a byte at a time, or sending nothing after its headers, is cut off at the
//! timeout. A reader whose body ran out of time gets [`TooSlow`] as the body's error; a route that
//! never reads its body does not wait for it (hyper closes the connection after the answer).

use axum::body::{Body, Bytes};
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The slowest a body may keep arriving once its first allowance is spent: 2 KiB a second
/// (16 kbit/s, below a poor 2G link), so a 64 KiB form takes at most 32 s beyond the timeout.
pub const MIN_RATE: u64 = 2 * 1024;

/// The body did not arrive in time.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct TooSlow;

/// The clock of one body's arrival. Its timer is made the first time the body is waited for:
/// a body that arrives with its head (an order, a form) costs no timer at all.
pub struct Pace {
    started: Instant,
    allowance: Duration,
    received: u64,
    deadline: Option<Pin<Box<Sleep>>>,
    expired: bool,
}

impl Pace {
    /// A body whose head has just arrived, with `allowance` for its first bytes.
    pub fn start(allowance: Duration) -> Pace {
        Pace {
            started: Instant::now(),
            allowance,
            received: 0,
            deadline: None,
            expired: false,
        }
    }

    fn deadline(&self) -> Instant {
        let earned = Duration::from_millis(self.received.saturating_mul(1000) / MIN_RATE);
        self.started + self.allowance.saturating_add(earned)
    }

    /// `n` more bytes arrived: the deadline moves on by their share of [`MIN_RATE`].
    pub fn received(&mut self, n: usize) {
        self.received = self.received.saturating_add(n as u64);
        let deadline = self.deadline();
        if let Some(timer) = self.deadline.as_mut() {
            timer.as_mut().reset(deadline);
        }
    }

    /// True once the deadline has passed (and from then on); else the task is woken then.
    pub fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.expired {
            return true;
        }
        let deadline = self.deadline();
        let timer = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        self.expired = timer.as_mut().poll(cx).is_ready();
        self.expired
    }
}

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Over the route's limit.
    TooLarge,
    /// It did not arrive in time ([`TooSlow`]).
    TooSlow,
    /// The connection broke or sent something that is not a body.
    Broken,
}

/// The body, whole, if it is at most `limit` bytes and arrives in time.
pub async fn read_whole(body: Body, limit: usize) -> Result<Bytes, Refused> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| refused_by(&e))
}

/// What a failed body read means.
pub fn refused_by(error: &(dyn StdError + 'static)) -> Refused {
    if caused_by::<TooSlow>(error) {
        Refused::TooSlow
    } else if caused_by::<http_body_util::LengthLimitError>(error) {
        Refused::TooLarge
    } else {
        Refused::Broken
    }
}

fn caused_by<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<T>() {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Frame;
    use std::task::Poll;

    /// A body that sends `chunks` (each after `gap`) through a [`Pace`], as `connection.rs`
    /// does, then never ends.
    fn dripping(chunks: Vec<&'static [u8]>, gap: Duration, allowance: Duration) -> Body {
        let stream = futures::stream::unfold(
            (chunks.into_iter(), Pace::start(allowance)),
            move |(mut chunks, mut pace)| async move {
                let next = chunks.next();
                let wait = tokio::time::sleep(if next.is_some() {
                    gap
                } else {
                    Duration::from_secs(3600)
                });
                tokio::pin!(wait);
                let expired = std::future::poll_fn(|cx| {
                    if wait.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(false);
                    }
                    if pace.expired(cx) {
                        return Poll::Ready(true);
                    }
                    Poll::Pending
                })
                .await;
                if expired {
                    return Some((Err(TooSlow), (chunks, pace)));
                }
                let chunk = next?;
                pace.received(chunk.len());
                Some((Ok(Frame::data(Bytes::from_static(chunk))), (chunks, pace)))
            },
        );
        Body::new(http_body_util::StreamBody::new(stream))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_is_refused_as_too_slow() {
        let body = dripping(
            vec![b"{\"a\":"],
            Duration::from_secs(1),
            Duration::from_secs(30),
        );
        let started = Instant::now();
        assert_eq!(read_whole(body, 1024).await, Err(Refused::TooSlow));
        // the first allowance, and the few milliseconds the 5 bytes earned
        assert!(started.elapsed() < Duration::from_secs(31));
        assert!(started.elapsed() >= Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_steady_upload_earns_its_time_and_a_drip_does_not() {
        const KIB: &[u8] = &[b'x'; 1024];
        // 60 KiB at 4 KiB a second: 15 s of sending plus the time after the last chunk, all
        // within the 30 s allowance plus what 60 KiB earned (30 s)
        let steady = dripping(
            vec![KIB; 60],
            Duration::from_millis(250),
            Duration::from_secs(30),
        );
        let started = Instant::now();
        assert_eq!(read_whole(steady, 1 << 20).await, Err(Refused::TooSlow));
        let lasted = started.elapsed();
        assert!(lasted >= Duration::from_secs(59), "{lasted:?}");
        assert!(lasted <= Duration::from_secs(61), "{lasted:?}");
        // a byte a second earns half a millisecond a byte: cut off at the allowance
        let drip = dripping(
            vec![b"x"; 100],
            Duration::from_secs(1),
            Duration::from_secs(10),
        );
        let started = Instant::now();
        assert_eq!(read_whole(drip, 1 << 20).await, Err(Refused::TooSlow));
        assert!(started.elapsed() < Duration::from_secs(11));
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_too_large() {
        let body = Body::from(vec![0u8; 2048]);
        assert_eq!(read_whole(body, 1024).await, Err(Refused::TooLarge));
        let body = Body::from(vec![0u8; 1024]);
        assert_eq!(read_whole(body, 1024).await.map(|b| b.len()), Ok(1024));
    }
}
