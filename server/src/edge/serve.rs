//! The accept loop. Like `axum::serve`, with what a public shop needs that it lacks: a client
//! must send its request headers within a deadline (and an idle keep-alive connection is closed
//! after it), so one sending a byte a minute is closed; and the connections open at once are
//! capped, beyond which a new one gets a one-line 503 and is closed at once — cheap for the
//! server, while the shoppers already connected keep being served. One client (an address, an
//! IPv6 client by its /64) may hold at most its share of them ([`ClientSlots`]), so a single
//! machine cannot fill the shop with connections it keeps open. Stops accepting at the
//! shutdown signal and lets requests in flight finish. Each connection is served by
//! [`crate::edge::connection`], which parks it outside hyper between requests.

use crate::edge::connection::Connection;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// For a request's headers to arrive, and for an idle connection's next request.
    pub header_timeout: Duration,
    /// For a request's body to arrive, before what its bytes earn ([`crate::edge::body`]).
    pub body_timeout: Duration,
    /// The connection slots (as many as connections may be open at once), shared with the
    /// pages: without JavaScript they refresh less often while the server is nearly full.
    pub connections: Arc<app::strain::Strain>,
    /// How many of them one client may hold; `None` behind a trusted proxy, whose own address
    /// every connection comes from (the proxy caps its clients: docs/deploy.md).
    pub per_client: Option<usize>,
}

/// The connections each client holds, counted at accept and given back at close.
#[derive(Clone)]
pub struct ClientSlots {
    most: usize,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place in its client's count.
pub struct ClientSlot {
    client: IpAddr,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ClientSlots {
    pub fn new(most: usize) -> ClientSlots {
        ClientSlots {
            most,
            held: Arc::default(),
        }
    }

    /// A place for one more connection from `peer`, unless its client holds its share already.
    pub fn take(&self, peer: IpAddr) -> Option<ClientSlot> {
        let client = crate::edge::rate_limit::client_key(peer);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(client).or_insert(0);
        if *count >= self.most {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            client,
            held: self.held.clone(),
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.client);
            }
        }
    }
}

/// What a connection over the cap is told before it is closed.
const FULL: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\n\
Content-Length: 49\r\nConnection: close\r\n\r\nThe shop is very busy. Please try again in 5 s.\r\n";

pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let open = limits.connections.slots();
    let per_client = limits.per_client.map(ClientSlots::new);
    let crowded = crowded_answer();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let builder = Arc::new(builder);
    // dropped at shutdown: every connection starts closing gracefully
    let (stop_tx, stop_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(stop_rx);
    });
    // each connection holds a receiver: when all are dropped, every connection has finished
    let (done_tx, done_rx) = watch::channel(());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop_tx.closed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // out of file descriptors, or the peer gave up while queued: wait a moment
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let client_slot = match &per_client {
            Some(slots) => match slots.take(peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    metrics::counter!("holdfast_connections_refused_total").increment(1);
                    tracing::debug!(client = %peer.ip(), "a client over its share of connections");
                    refuse(stream, &crowded);
                    continue;
                }
            },
            None => None,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            metrics::counter!("holdfast_connections_refused_total").increment(1);
            refuse(stream, FULL);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            peer,
            builder: builder.clone(),
            header_timeout: limits.header_timeout,
            body_timeout: limits.body_timeout,
            stop: stop_tx.clone(),
        };
        let done = done_rx.clone();
        tokio::spawn(async move {
            connection.serve(stream).await;
            drop(permit);
            drop(client_slot);
            drop(done);
        });
    }
    drop(listener);
    drop(done_rx);
    done_tx.closed().await;
}

/// Tells a connection over a cap to come back later, without reading from it or waiting for
/// it (a full send buffer just means it is closed without the message).
fn refuse(stream: TcpStream, answer: &[u8]) {
    let _ = stream.try_write(answer);
    drop(stream);
}

/// What a connection over its client's share is told (429; in both the shop's languages, as
/// nothing of the request has been read).
fn crowded_answer() -> Vec<u8> {
    use app::language::Language;
    let text = format!(
        "{}\r\n{}\r\n",
        app::tr!(Language::ZhCn, refusal_too_many_connections),
        app::tr!(Language::En, refusal_too_many_connections)
    );
    format!(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    )
    .into_bytes()
}
