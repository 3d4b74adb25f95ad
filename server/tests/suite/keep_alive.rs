//! Keep-alive connections, spoken raw over TCP against the real server: between requests the
//! server parks a connection outside hyper (to keep 10,000 idle phones cheap), so every way a
//! client can use one connection must still get each answer once, whole and in order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{key, order_body, spawn_app, spawn_app_with, TestApp};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// One answer read off the connection: its status and body. Panics if the connection closes
/// first or nothing whole arrives within 10 s.
struct Reader {
    buffered: Vec<u8>,
}

impl Reader {
    fn new() -> Self {
        Reader {
            buffered: Vec::new(),
        }
    }

    async fn fill(&mut self, stream: &mut TcpStream) {
        let mut buf = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        assert!(n > 0, "the server closed the connection");
        self.buffered.extend_from_slice(&buf[..n]);
    }

    async fn answer(&mut self, stream: &mut TcpStream) -> (u16, Vec<u8>, String) {
        let head_end = loop {
            if let Some(at) = self.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            self.fill(stream).await;
        };
        let head = String::from_utf8(self.buffered.drain(..head_end).collect()).unwrap();
        let status: u16 = head[9..12].parse().unwrap();
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
        };
        let body = if let Some(len) = header("content-length") {
            let len: usize = len.parse().unwrap();
            while self.buffered.len() < len {
                self.fill(stream).await;
            }
            self.buffered.drain(..len).collect()
        } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(at) = self.buffered.windows(2).position(|w| w == b"\r\n") {
                        break at;
                    }
                    self.fill(stream).await;
                };
                let size_line =
                    String::from_utf8(self.buffered.drain(..line_end + 2).collect()).unwrap();
                let size = usize::from_str_radix(size_line.trim(), 16).unwrap();
                while self.buffered.len() < size + 2 {
                    self.fill(stream).await;
                }
                body.extend(self.buffered.drain(..size));
                self.buffered.drain(..2);
                if size == 0 {
                    break body;
                }
            }
        } else {
            Vec::new()
        };
        (status, body, head)
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: shop\r\nAccept: text/html\r\n\r\n")
}

fn post_json(path: &str, json: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_answers_pages_health_checks_and_orders_in_turn() {
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    let mut reader = Reader::new();
    let sold_before = app.units_sold(3).await;
    for round in 0..10 {
        stream.write_all(get("/healthz").as_bytes()).await.unwrap();
        let (status, _, _) = reader.answer(&mut stream).await;
        assert_eq!(status, 200, "round {round}: health check");

        stream.write_all(get("/").as_bytes()).await.unwrap();
        let (status, page, _) = reader.answer(&mut stream).await;
        assert_eq!(status, 200, "round {round}: the catalogue");
        assert!(String::from_utf8_lossy(&page).contains("</html>"));

        // a pause long enough for the connection to be parked between requests
        tokio::time::sleep(Duration::from_millis(30)).await;
        let order = order_body(&key(round), 3, 1).to_string();
        stream
            .write_all(post_json("/api/place_order", &order).as_bytes())
            .await
            .unwrap();
        let (status, body, _) = reader.answer(&mut stream).await;
        assert_eq!(
            status,
            200,
            "round {round}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    assert_eq!(app.units_sold(3).await, sold_before + 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_sent_in_one_write_are_answered_in_order() {
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    let order = order_body(&key(1), 3, 2).to_string();
    let last = get("/healthz");
    // four whole requests and the start of a fifth in one write: the server answers four,
    // then parks the connection holding the fifth's first bytes, which must not be lost
    let (last_start, last_rest) = last.split_at(9);
    let first = [
        get("/healthz"),
        get("/no-such-page"),
        post_json("/api/place_order", &order),
        get("/healthz"),
        last_start.to_owned(),
    ]
    .concat();
    stream.write_all(first.as_bytes()).await.unwrap();
    let mut reader = Reader::new();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(reader.answer(&mut stream).await.0);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(last_rest.as_bytes()).await.unwrap();
    statuses.push(reader.answer(&mut stream).await.0);
    assert_eq!(statuses, [200, 404, 200, 200, 200]);
    assert_eq!(app.orders().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_arriving_in_pieces_on_a_parked_connection_is_answered_once() {
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    let mut reader = Reader::new();
    stream.write_all(get("/healthz").as_bytes()).await.unwrap();
    assert_eq!(reader.answer(&mut stream).await.0, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // the next request's head in two pieces, then its body in two more
    let order = order_body(&key(7), 3, 1).to_string();
    let whole = post_json("/api/place_order", &order);
    let (head, body) = whole.split_at(whole.find("\r\n\r\n").unwrap() + 4);
    let (head_a, head_b) = head.split_at(20);
    let (body_a, body_b) = body.split_at(body.len() / 2);
    for piece in [head_a, head_b, body_a, body_b] {
        stream.write_all(piece.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, answer, _) = reader.answer(&mut stream).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(app.orders().await, 1);

    // and the same connection still serves the next
    stream.write_all(get("/healthz").as_bytes()).await.unwrap();
    assert_eq!(reader.answer(&mut stream).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_asks_to_close_is_closed_after_its_answer() {
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reader = Reader::new();
    assert_eq!(reader.answer(&mut stream).await.0, 200);
    let mut rest = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cut_off_by_an_unread_body_does_not_leave_the_body_to_be_read_as_a_request() {
    // the server refuses a body too large before reading it: what the client goes on sending
    // must never be taken for a request of its own
    let app = spawn_app_with(&[]).await;
    let mut stream = connect(&app).await;
    let request = format!(
        "POST /api/place_order HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        4 * 1024 * 1024
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // the body carries what would be a request if it were parsed as one
    let smuggled = get("/healthz");
    let _ = stream.write_all(smuggled.as_bytes()).await;
    let mut reader = Reader::new();
    let (status, _, _) = reader.answer(&mut stream).await;
    assert_eq!(status, 413);
    // whatever follows is the end of the connection, never a second answer
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut rest)).await;
    assert!(
        !String::from_utf8_lossy(&rest).contains("HTTP/1.1"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
    assert_eq!(app.orders().await, 0);
}
