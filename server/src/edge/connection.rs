//! One shopper's connection, from its first byte to its close. hyper serves it while a request
//! is being answered; between requests the connection is *parked*: hyper and its two 8 KiB
//! buffers are dropped, and only the socket waits for the next request's first byte (or for the
//! idle deadline). A phone that opened the shop and is reading the page costs a socket and a
//! small task, not 16 KiB — 10,000 such phones fit in a small server's memory.
//!
//! hyper does not say when a connection has gone idle, so this watches it from outside: every
//! request handed to the shop has been read whole and its answer dropped by hyper, everything
//! written has been flushed, and hyper is waiting to read. Then it is asked to shut down
//! gracefully *without* closing the socket, and gives back the socket and any bytes it read but
//! did not parse (a pipelined next request), which the next hyper instance reads first. If the
//! watch is ever wrong, the cost is bounded: hyper finishes the exchange in progress and the
//! connection is closed instead of parked — nothing is answered twice or lost.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::Router;
use futures::FutureExt;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower::ServiceExt;

/// What a connection needs to answer requests, shared by the accept loop.
pub struct Connection {
    pub router: Router,
    pub peer: SocketAddr,
    pub builder: Arc<http1::Builder>,
    /// For the first byte of the next request (and, in hyper, for the rest of its headers).
    pub header_timeout: Duration,
    /// For a request's body, before what its bytes earn ([`crate::edge::body::Pace`]).
    pub body_timeout: Duration,
    /// Closed when the shop stops: connections finish what is in flight and close.
    pub stop: watch::Sender<()>,
}

impl Connection {
    pub async fn serve(self, mut stream: TcpStream) {
        let mut unread = Bytes::new();
        loop {
            if unread.is_empty() && !self.next_request_arrives(&stream).await {
                return;
            }
            let exchanges = Arc::new(Exchanges::default());
            let io = Watched {
                io: TokioIo::new(stream),
                unread,
                exchanges: exchanges.clone(),
            };
            let mut hyper = Box::new(self.builder.serve_connection(
                io,
                Answering {
                    router: self.router.clone(),
                    peer: self.peer,
                    exchanges: exchanges.clone(),
                    body_timeout: self.body_timeout,
                },
            ));
            if !self.serve_until_idle(&mut hyper, &exchanges).await {
                return;
            }
            let parts = hyper.into_parts();
            let Watched {
                io, unread: left, ..
            } = parts.io;
            stream = io.into_inner();
            // what hyper read but did not parse comes before what it left unread of ours
            unread = if left.is_empty() {
                parts.read_buf
            } else {
                [parts.read_buf, left].concat().into()
            };
        }
    }

    /// Parked: waits for the next request's first byte. False if the client closed, the idle
    /// deadline passed or the shop is stopping.
    async fn next_request_arrives(&self, stream: &TcpStream) -> bool {
        let mut first = [0u8; 1];
        tokio::select! {
            peeked = tokio::time::timeout(self.header_timeout, stream.peek(&mut first)) => {
                matches!(peeked, Ok(Ok(1..)))
            }
            () = self.stop.closed() => false,
        }
    }

    /// Runs hyper until the connection is idle (true: park it) or over (false: close it).
    async fn serve_until_idle(&self, hyper: &mut HyperConnection, exchanges: &Exchanges) -> bool {
        let mut stopping = pin!(self.stop.closed());
        let mut shop_stopping = false;
        let mut parking = false;
        poll_fn(|cx| loop {
            if !shop_stopping && stopping.as_mut().poll(cx).is_ready() {
                shop_stopping = true;
                Pin::new(&mut *hyper).graceful_shutdown();
            }
            match hyper.poll_without_shutdown(cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(parking && !shop_stopping),
                Poll::Ready(Err(e)) => {
                    tracing::trace!(error = %e, "connection ended with an error");
                    return Poll::Ready(false);
                }
                Poll::Pending if !parking && !shop_stopping && exchanges.idle() => {
                    // hyper is idle too: this ends it at once, keeping the socket open
                    parking = true;
                    Pin::new(&mut *hyper).graceful_shutdown();
                }
                Poll::Pending => return Poll::Pending,
            }
        })
        .await
    }
}

type HyperConnection = http1::Connection<Watched, Answering>;

/// The shop's router as hyper's service, counting each exchange.
struct Answering {
    router: Router,
    peer: SocketAddr,
    exchanges: Arc<Exchanges>,
    body_timeout: Duration,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Answering {
    type Response = hyper::Response<Answer>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        let exchanges = self.exchanges.clone();
        exchanges.started.fetch_add(1, Relaxed);
        let mut req = req.map(|body| {
            let whole = body.is_end_stream();
            if whole {
                exchanges.read_whole.fetch_add(1, Relaxed);
            }
            Body::new(Request {
                body,
                exchanges: exchanges.clone(),
                whole,
                // its clock runs from now: the head is in (a GET's empty body needs none)
                pace: (!whole).then(|| crate::edge::body::Pace::start(self.body_timeout)),
            })
        });
        // a target that is not a path never reaches the app's routing, nor an error a link
        // carries a page (taken off before the page cache: such a link is answered from it)
        if let Some(refused) = crate::edge::request_target::screen(&mut req) {
            return Box::pin(async move { Ok(refused.map(|body| Answer { body, exchanges })) });
        }
        req.extensions_mut().insert(ConnectInfo(self.peer));
        // a live stream lasts: its head must not pin hyper's read buffer (other answers are
        // over before hyper reads again)
        if req.uri().path().starts_with("/live/") {
            req = head_of_its_own(req);
        }
        let answer = self.router.clone().oneshot(req);
        Box::pin(async move {
            // a handler that panics is answered 500 (and logged in one line), not a dropped
            // connection; caught here, with no layer (and no boxed body) on every answer
            let response = match std::panic::AssertUnwindSafe(answer).catch_unwind().await {
                Ok(Ok(response)) => response,
                Err(panic) => crate::ops::telemetry::caught(panic),
            };
            Ok(response.map(|body| Answer { body, exchanges }))
        })
    }
}

/// The request with its URI and header values copied out of hyper's read buffer. hyper hands
/// them over as slices of the 8 KiB buffer it read them into; while any of them lives, hyper
/// cannot reuse that buffer and reserves another when it reads again, which a live stream's
/// connection does at once (to notice the phone leaving). Measured with heaptrack on 10,000
/// waiting pages: the second buffer gone; RSS 313 → 289 MiB. The copy is a few hundred bytes.
fn head_of_its_own(req: axum::http::Request<Body>) -> axum::http::Request<Body> {
    use axum::http::{HeaderMap, HeaderValue, Uri};
    let (mut parts, body) = req.into_parts();
    if let Ok(uri) = Uri::try_from(parts.uri.to_string()) {
        parts.uri = uri;
    }
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let copied = HeaderValue::from_bytes(value.as_bytes()).map(|mut v| {
            v.set_sensitive(value.is_sensitive());
            v
        });
        headers.append(name.clone(), copied.unwrap_or_else(|_| value.clone()));
    }
    parts.headers = headers;
    axum::http::Request::from_parts(parts, body)
}

/// A request's body, noting when it has been read to its end, and refusing to wait for it past
/// its deadline ([`crate::edge::body::Pace`]: every route's body, whoever reads it).
struct Request {
    body: Incoming,
    exchanges: Arc<Exchanges>,
    whole: bool,
    pace: Option<crate::edge::body::Pace>,
}

impl HttpBody for Request {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => self.body.is_end_stream(),
            _ => false,
        };
        if ended && !self.whole {
            self.whole = true;
            self.exchanges.read_whole.fetch_add(1, Relaxed);
        }
        if ended {
            self.pace = None;
        } else if let Some(pace) = self.pace.as_mut() {
            match &polled {
                Poll::Ready(Some(Ok(frame))) => {
                    pace.received(frame.data_ref().map_or(0, Bytes::len));
                }
                Poll::Pending if pace.expired(cx) => {
                    return Poll::Ready(Some(Err(Box::new(crate::edge::body::TooSlow))));
                }
                _ => {}
            }
        }
        polled.map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// An answer's body, noting when hyper is done with it.
pub struct Answer {
    body: Body,
    exchanges: Arc<Exchanges>,
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.exchanges.answered.fetch_add(1, Relaxed);
    }
}

/// Counts of one hyper instance's exchanges, and what it last did with the socket.
#[derive(Default)]
struct Exchanges {
    /// Requests handed to the shop.
    started: AtomicU64,
    /// Of those, the ones whose body has been read to its end.
    read_whole: AtomicU64,
    /// Answers hyper is done with (it drops the body once it has written it).
    answered: AtomicU64,
    /// hyper's last read found nothing to read.
    read_waiting: AtomicBool,
    /// Written since the last completed flush.
    unflushed: AtomicBool,
}

impl Exchanges {
    fn idle(&self) -> bool {
        let started = self.started.load(Relaxed);
        started > 0
            && self.read_whole.load(Relaxed) == started
            && self.answered.load(Relaxed) == started
            && self.read_waiting.load(Relaxed)
            && !self.unflushed.load(Relaxed)
    }
}

/// The socket as hyper sees it: first the bytes an earlier instance read but did not parse,
/// then the socket itself; noting whether hyper is waiting to read and whether all it wrote has
/// been flushed.
pub struct Watched {
    io: TokioIo<TcpStream>,
    unread: Bytes,
    exchanges: Arc<Exchanges>,
}

impl Read for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.unread.is_empty() && buf.remaining() > 0 {
            let n = self.unread.len().min(buf.remaining());
            let first = self.unread.split_to(n);
            buf.put_slice(&first);
            self.exchanges.read_waiting.store(false, Relaxed);
            return Poll::Ready(Ok(()));
        }
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        self.exchanges
            .read_waiting
            .store(polled.is_pending(), Relaxed);
        polled
    }
}

impl Write for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.exchanges.unflushed.store(true, Relaxed);
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.exchanges.unflushed.store(true, Relaxed);
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.io).poll_flush(cx);
        if matches!(flushed, Poll::Ready(Ok(()))) {
            self.exchanges.unflushed.store(false, Relaxed);
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, Request};

    #[test]
    fn a_live_streams_head_is_copied_whole() {
        let read = Bytes::from_static(b"/live/line?t=abc.def");
        let mut req = Request::builder()
            .uri(axum::http::Uri::from_maybe_shared(read).unwrap())
            .header("accept-language", "zh-CN,zh;q=0.9")
            .header("x-request-id", "r-1")
            .header("x-request-id", "r-2")
            .body(Body::empty())
            .unwrap();
        let mut secret = HeaderValue::from_static("session=1");
        secret.set_sensitive(true);
        req.headers_mut().insert("cookie", secret);
        let before = (req.uri().clone(), req.headers().clone());
        let after = head_of_its_own(req);
        assert_eq!(after.uri(), &before.0);
        assert_eq!(after.headers(), &before.1);
        let ids: Vec<_> = after.headers().get_all("x-request-id").iter().collect();
        assert_eq!(ids, ["r-1", "r-2"]);
        assert!(after.headers()["cookie"].is_sensitive());
    }
}
