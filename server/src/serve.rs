//! The accept loop. Like `axum::serve`, with what a public shop needs that it lacks: a client
//! must send its request headers within a deadline (and an idle keep-alive connection is closed
//! after it), so one sending a byte a minute is closed; and the connections open at once are
//! capped, beyond which a new one gets a one-line 503 and is closed at once — cheap for the
//! server, while the shoppers already connected keep being served. Stops accepting at the
//! shutdown signal and lets requests in flight finish. Each connection is served by
//! [`crate::connection`], which parks it outside hyper between requests.

use crate::connection::Connection;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// For a request's headers to arrive, and for an idle connection's next request.
    pub header_timeout: Duration,
    /// The connection slots (as many as connections may be open at once), shared with the
    /// pages: without JavaScript they refresh less often while the server is nearly full.
    pub connections: Arc<app::strain::Strain>,
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
        let Ok(permit) = open.clone().try_acquire_owned() else {
            refuse(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            peer,
            builder: builder.clone(),
            header_timeout: limits.header_timeout,
            stop: stop_tx.clone(),
        };
        let done = done_rx.clone();
        tokio::spawn(async move {
            connection.serve(stream).await;
            drop(permit);
            drop(done);
        });
    }
    drop(listener);
    drop(done_rx);
    done_tx.closed().await;
}

/// Tells a connection over the cap to come back later, without reading from it or waiting for
/// it (a full send buffer just means it is closed without the message).
fn refuse(stream: TcpStream) {
    metrics::counter!("holdfast_connections_refused_total").increment(1);
    let _ = stream.try_write(FULL);
    drop(stream);
}
