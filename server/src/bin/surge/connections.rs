//! (d) `connections`: 10,000 idle connections held open.

use super::*;

/// Sends `ask` on `stream` and reads the answer to its end (by its Content-Length).
pub(crate) async fn whole_answer(stream: &mut tokio::net::TcpStream, ask: &[u8]) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if stream.write_all(ask).await.is_err() {
        return false;
    }
    let mut got = Vec::with_capacity(16 * 1024);
    let mut buf = [0_u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        match length {
            Some(length) if got.len() >= end + 4 + length => {
                return head.starts_with("http/1.1 200")
            }
            Some(_) => continue,
            // a chunked answer: not what the cached page sends; count it as answered once the
            // head is here
            None => return head.starts_with("http/1.1 200"),
        }
    }
}

/// (d) Many phones holding connections open: the server keeps every one and still answers.
pub(crate) async fn scenario_connections(args: &Args) -> anyhow::Result<bool> {
    // this process holds one end of every connection too
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        println!("  (could not raise this process's open-file limit: {e})");
    }
    let server = Server::start(Some(512), args.postgres.as_deref(), &[]).await?;
    heading(&format!("(d) {} open idle connections", args.connections));
    let (idle_mib, _) = server.memory_mib();
    let addr = server.base.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let mut open = Vec::with_capacity(args.connections);
    let mut refused = 0_usize;
    for _ in 0..args.connections {
        match tokio::net::TcpStream::connect(&addr).await {
            Ok(stream) => open.push(stream),
            Err(_) => refused += 1,
        }
    }
    println!(
        "  opened           {} in {:.2} s ({refused} refused)",
        open.len(),
        started.elapsed().as_secs_f64()
    );
    // like a phone that opened the shop's link and keeps the connection for the next click:
    // one keep-alive request for the front page on each (read whole), then silence
    let mut answered = 0_usize;
    let ask = b"GET / HTTP/1.1\r\nHost: shop\r\nAccept: text/html\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n";
    for stream in &mut open {
        if tokio::time::timeout(Duration::from_secs(5), whole_answer(stream, ask))
            .await
            .is_ok_and(|whole| whole)
        {
            answered += 1;
        }
    }
    println!("  one request each {answered} answered in whole (GET /, brotli accepted)");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (now, peak) = server.memory_mib();
    let per_conn_kib = (now - idle_mib) * 1024.0 / open.len().max(1) as f64;
    println!("  server memory    RSS {idle_mib:.0} MiB before, {now:.0} MiB with them open ({per_conn_kib:.1} KiB each), {peak:.0} MiB peak");
    let http = client(4)?;
    let (page, _) = send("page", http.get(format!("{}/p/{DIRECT_SLUG}", server.base))).await;
    let body = order_body(
        "surge-connections-order".into(),
        DIRECT,
        "+15550000001",
        None,
    );
    let (order, _) = send(
        "order",
        http.post(format!("{}/api/place_order", server.base))
            .json(&body),
    )
    .await;
    println!(
        "  while open       page view {} in {:.1} ms, order {} in {:.1} ms",
        page.kind,
        ms(page.latency),
        order.kind,
        ms(order.latency)
    );
    // are they all still there?
    let mut alive = 0_usize;
    for stream in &open {
        // drain what is left of the answer; open means "nothing more to read" but no end of stream
        let mut buf = [0_u8; 4096];
        loop {
            match stream.try_read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    alive += 1;
                    break;
                }
                Err(_) => break,
            }
        }
    }
    println!("  still open       {alive} of {}", open.len());
    // each phone clicks again: the idle connections must still serve a next request whole
    let mut again = 0_usize;
    for stream in &mut open {
        if tokio::time::timeout(Duration::from_secs(5), whole_answer(stream, ask))
            .await
            .is_ok_and(|whole| whole)
        {
            again += 1;
        }
    }
    let (after, _) = server.memory_mib();
    println!(
        "  a second request {again} answered in whole on the same connections (RSS {after:.0} MiB)"
    );
    drop(open);
    Ok(page.kind == "page_viewed"
        && order.kind == "acknowledged"
        && refused == 0
        && answered == args.connections
        && again == args.connections)
}
