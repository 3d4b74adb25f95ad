//! (h) `live`: pages listening live while the stock changes; orders/s with and without them.

use super::*;

/// The demo's mug: a plain product the `live` scenario's orders buy (its listeners watch
/// [`DIRECT`]).
pub(crate) const MUG: i64 = 3;

/// (h) Pages listening live: `--shoppers` (10,000) pages of one product each hold a live stream
/// on one server; the product's stock changes by a commit once a second, 20 times (its badge
/// "only 3 left" and "only 4 left" in turn): from each commit to each page hearing it, pages that
/// missed a change, the server's memory and CPU. Then orders/s at 64 connections for another
/// product, with nobody listening and with every page listening while the badge changes four
/// times a second.
pub(crate) async fn scenario_live(args: &Args, servers: usize) -> anyhow::Result<bool> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let listeners = args.shoppers;
    // room for the product pages and then the waiting pages (a closed page is noticed at its
    // stream's next write), all from 127.0.0.1 (one client, as behind a carrier's NAT)
    let (cap, conns) = (
        (2 * listeners + 100).to_string(),
        (2 * listeners + 2_000).to_string(),
    );
    let env = [
        ("HOLDFAST_MAX_LIVE", cap.as_str()),
        ("HOLDFAST_MAX_LIVE_PER_CLIENT", cap.as_str()),
        ("HOLDFAST_MAX_CONNECTIONS", conns.as_str()),
    ];
    let server = Server::start(None, args.postgres.as_deref(), &env).await?;
    // with several servers (Postgres) the pages are spread over them; orders go to the first
    let mut others = Vec::new();
    for _ in 1..servers {
        others.push(server.beside(&env).await?);
    }
    let shop: Vec<&Server> = std::iter::once(&server).chain(others.iter()).collect();
    let addrs: Vec<String> = shop
        .iter()
        .map(|s| s.base.trim_start_matches("http://").to_owned())
        .collect();
    server
        .exec(&format!(
            "UPDATE products SET stock = 4 WHERE id = {DIRECT}"
        ))
        .await?;
    server
        .exec(&format!(
            "UPDATE products SET stock = 100000000 WHERE id = {MUG}"
        ))
        .await?;
    let on = if servers == 1 {
        "one server".to_owned()
    } else {
        format!("{servers} servers, spread evenly, orders to the first")
    };
    heading(&format!(
        "(h) {listeners} pages listening live to one product, {on}"
    ));
    let seconds = args.seconds.min(10);
    // the stock changes four times a second in both runs: listeners are the only difference
    let toggling = toggle_stock(&server.db);
    let (alone, alone_cpu) = orders_per_sec(&server, 64, seconds, "alone").await?;
    toggling.stop().await?;
    println!(
        "  orders alone     {alone:.0}/s (64 connections, {seconds} s, the stock changing 4 times a second, nobody listening); server CPU {:.0} µs an order",
        alone_cpu * 1e6
    );
    let (idle_mib, _) = shop_memory_mib(&shop);

    let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let connected = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut pages = tokio::task::JoinSet::new();
    for i in 0..listeners {
        let (addr, tx, connected) = (
            addrs[i % addrs.len()].clone(),
            tx.clone(),
            connected.clone(),
        );
        pages.spawn(async move { listen_live(&addr, tx, connected).await });
        // a surge arrives over seconds, not in one instant: 1,000 new pages a tenth of a second
        if pages.len() % 1_000 == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    while connected.load(Ordering::Relaxed) < listeners
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open = connected.load(Ordering::Relaxed);
    println!(
        "  listening        {open} of {listeners} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // the first news each page is told on connecting
    tokio::time::sleep(Duration::from_secs(1)).await;
    while heard.try_recv().is_ok() {}

    let cpu_before = shop_cpu_secs(&shop);
    let rounds = 20;
    let round_started = Instant::now();
    let mut latencies = Vec::with_capacity(open * rounds);
    let mut missed = 0_usize;
    for round in 0..rounds {
        let stock = if round % 2 == 0 { 3 } else { 4 };
        server
            .exec(&format!(
                "UPDATE products SET stock = {stock} WHERE id = {DIRECT}"
            ))
            .await?;
        let committed = Instant::now();
        let mut got = 0_usize;
        let until = committed + Duration::from_millis(1_500);
        while let Ok(Some(at)) = tokio::time::timeout_at(until.into(), heard.recv()).await {
            latencies.push(at.saturating_duration_since(committed));
            got += 1;
        }
        missed += open.saturating_sub(got);
    }
    let busy = round_started.elapsed().as_secs_f64();
    let cpu = (shop_cpu_secs(&shop) - cpu_before) / busy * 100.0;
    let latencies = sorted(&latencies);
    let (rss, peak) = shop_memory_mib(&shop);
    println!(
        "  commit → page    p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over {rounds} changes × {open} pages; {missed} missed",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    println!(
        "  server(s)        RSS {idle_mib:.0} MiB before, {rss:.0} MiB listening ({:.1} KiB a page), {peak:.0} MiB peak; CPU {cpu:.0} % of a core while telling them",
        (rss - idle_mib) * 1024.0 / open.max(1) as f64
    );

    // orders while every page is told of the same four changes a second
    let toggling = toggle_stock(&server.db);
    let (with, with_cpu) = orders_per_sec(&server, 64, seconds, "with").await?;
    toggling.stop().await?;
    while heard.try_recv().is_ok() {}
    let still = pages.len();
    pages.abort_all();
    println!(
        "  orders listened  {with:.0}/s while {still} pages listened to the same changes ({:.2} × alone); server CPU {:.0} µs an order, listeners' share included ({:.2} × alone)",
        with / alone.max(1e-9),
        with_cpu * 1e6,
        with_cpu / alone_cpu.max(1e-12)
    );
    if !SPLIT_CORES.load(Ordering::Relaxed) {
        println!(
            "                   (this generator shares the server's two cores and reads every page's events: orders/s mixes its cost with the server's; CPU an order is the server's alone; --split-cores separates them)"
        );
    }
    let p99 = percentile(&latencies, 0.99);
    let met = p99 < Duration::from_secs(1)
        && rss < 250.0 * servers as f64
        && missed == 0
        && open == listeners;
    println!(
        "  target           p99 under 1 s, RSS under 250 MiB a server, none missed: {}; orders/s not worse than alone: {}",
        if met { "met" } else { "NOT met" },
        if with >= alone { "met" } else { "NOT met" }
    );
    // the waiting pages on servers of their own: the memory they show is theirs alone
    drop(shop);
    drop(others);
    drop(server);
    let server = Server::start(None, args.postgres.as_deref(), &env).await?;
    let mut others = Vec::new();
    for _ in 1..servers {
        others.push(server.beside(&env).await?);
    }
    let shop: Vec<&Server> = std::iter::once(&server).chain(others.iter()).collect();
    live_line_pages(&shop, listeners).await?;
    Ok(open == listeners)
}

/// Waiting pages listening live: `n` shoppers join the hoodie's line while the owner has it
/// paused (nobody admitted), each page holding a `/live/line` stream; the owner resumes with
/// stock for half of them, and one admission round tells half their turn and the other half
/// their new place. From the resume's commit to each page hearing it (the usher's tick and the
/// feed's reading of the 10,000-long line included).
pub(crate) async fn live_line_pages(shop: &[&Server], n: usize) -> anyhow::Result<bool> {
    use futures::StreamExt;
    let server = shop[0];
    heading(&format!(
        "(h) {n} waiting pages listening to their place in one line, {} server(s)",
        shop.len()
    ));
    server
        .exec(&format!(
            "INSERT INTO brakes (product_id, paused_at, paused_by) \
             VALUES ({QUEUED}, '2026-01-01T00:00:00.000Z', 'surge')"
        ))
        .await?;
    server
        .exec(&format!(
            "UPDATE products SET stock = {} WHERE id = {QUEUED}",
            n / 2
        ))
        .await?;
    let http = client(64)?;
    let (fresh_mib, _) = shop_memory_mib(shop);
    let joined_at = Instant::now();
    let tickets: Vec<String> = futures::stream::iter(0..n)
        .map(|i| {
            let (http, base) = (http.clone(), server.base.clone());
            async move {
                let (_, status) = send(
                    "join",
                    http.post(format!("{base}/api/queue/join")).json(
                        &json!({"product_id": QUEUED, "quantity": 1, "phone": format!("+4478{i:08}")}),
                    ),
                )
                .await;
                (status["state"] == "waiting")
                    .then(|| status["ticket"].as_str().map(str::to_owned))
                    .flatten()
            }
        })
        .buffer_unordered(64)
        .filter_map(|t| async move { t })
        .collect()
        .await;
    let (joined_mib, _) = shop_memory_mib(shop);
    println!(
        "  joined           {} of {n} waiting in {:.1} s (the line paused); RSS {joined_mib:.0} MiB",
        tickets.len(),
        joined_at.elapsed().as_secs_f64()
    );
    let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel::<(Instant, bool)>();
    let connected = Arc::new(AtomicUsize::new(0));
    let addrs: Vec<String> = shop
        .iter()
        .map(|s| s.base.trim_start_matches("http://").to_owned())
        .collect();
    let mut pages = tokio::task::JoinSet::new();
    for (i, ticket) in tickets.iter().enumerate() {
        let (addr, tx, connected, ticket) = (
            addrs[i % addrs.len()].clone(),
            tx.clone(),
            connected.clone(),
            ticket.clone(),
        );
        pages.spawn(async move { listen_line(&addr, &ticket, tx, connected).await });
        if pages.len() % 1_000 == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let started = Instant::now();
    while connected.load(Ordering::Relaxed) < tickets.len()
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open = connected.load(Ordering::Relaxed);
    println!(
        "  listening        {open} of {} waiting pages in {:.1} s",
        tickets.len(),
        started.elapsed().as_secs_f64()
    );
    let (listening_mib, _) = shop_memory_mib(shop);
    tokio::time::sleep(Duration::from_secs(1)).await;
    while heard.try_recv().is_ok() {}

    let cpu_before = shop_cpu_secs(shop);
    server
        .exec(&format!("DELETE FROM brakes WHERE product_id = {QUEUED}"))
        .await?;
    let resumed = Instant::now();
    // when the admission round is in the database (what the pages are told after)
    let round = {
        let db = server.db.clone();
        let half = i64::try_from(n / 2).unwrap_or(i64::MAX);
        tokio::spawn(async move {
            while resumed.elapsed() < Duration::from_secs(30) {
                let admitted = db
                    .scalar(
                        "SELECT COUNT(*) FROM queue_tickets WHERE product_id = $1 AND state = 'admitted'",
                        QUEUED,
                    )
                    .await
                    .unwrap_or(0);
                if admitted >= half {
                    return Some(resumed.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            None
        })
    };
    let (mut turns, mut places) = (Vec::new(), Vec::new());
    let until = resumed + Duration::from_secs(10);
    while turns.len() + places.len() < open {
        let Ok(Some((at, turn))) = tokio::time::timeout_at(until.into(), heard.recv()).await else {
            break;
        };
        let took = at.saturating_duration_since(resumed);
        if turn {
            turns.push(took);
        } else {
            places.push(took);
        }
    }
    let cpu = (shop_cpu_secs(shop) - cpu_before) / resumed.elapsed().as_secs_f64() * 100.0;
    let (rss, _) = shop_memory_mib(shop);
    let missed = open.saturating_sub(turns.len() + places.len());
    match round.await.ok().flatten() {
        Some(took) => println!(
            "  admission round  {} admitted, in the database {:.0} ms after the resume (seen by polling every 20 ms)",
            n / 2,
            ms(took)
        ),
        None => println!("  admission round  not seen in the database within 30 s"),
    }
    for (what, got) in [("turn", &mut turns), ("place", &mut places)] {
        let got = sorted(got);
        println!(
            "  resume → {what:<6}  {} pages: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            got.len(),
            ms(percentile(&got, 0.50)),
            ms(percentile(&got, 0.99)),
            ms(got.last().copied().unwrap_or_default()),
        );
    }
    println!(
        "  server(s)        RSS {fresh_mib:.0} MiB fresh, {listening_mib:.0} MiB with {n} waiting and {open} pages listening, {rss:.0} MiB after the round; CPU {cpu:.0} % of a core until the last page heard; {missed} pages heard nothing in 10 s"
    );
    pages.abort_all();
    let mut all: Vec<Duration> = turns.iter().chain(places.iter()).copied().collect();
    all.sort();
    let met = missed == 0
        && open == tickets.len()
        && tickets.len() == n
        && percentile(&all, 0.99) < Duration::from_secs(1)
        && rss < 250.0 * shop.len() as f64;
    println!(
        "  target           p99 under 1 s, RSS under 250 MiB a server, none missed: {}",
        if met { "met" } else { "NOT met" }
    );
    Ok(met)
}

/// Changes [`DIRECT`]'s stock (3, 4, 3, …) four times a second until stopped.
pub(crate) struct Toggling {
    pub(crate) stop: Arc<std::sync::atomic::AtomicBool>,
    pub(crate) task: tokio::task::JoinHandle<()>,
    pub(crate) db: BenchDb,
}

pub(crate) fn toggle_stock(db: &BenchDb) -> Toggling {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let task = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            for round in 0_u64.. {
                tick.tick().await;
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let stock = if round % 2 == 0 { 3 } else { 4 };
                let _ = db
                    .exec(&format!(
                        "UPDATE products SET stock = {stock} WHERE id = {DIRECT}"
                    ))
                    .await;
            }
        })
    };
    Toggling {
        stop,
        task,
        db: db.clone(),
    }
}

impl Toggling {
    /// Stops after the change in progress and leaves the stock at 4.
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.db
            .exec(&format!(
                "UPDATE products SET stock = 4 WHERE id = {DIRECT}"
            ))
            .await
    }
}

/// The servers' resident memory now and at peak, in MiB, added up.
pub(crate) fn shop_memory_mib(shop: &[&Server]) -> (f64, f64) {
    shop.iter()
        .map(|s| s.memory_mib())
        .fold((0.0, 0.0), |(a, b), (c, d)| (a + c, b + d))
}

/// The servers' CPU seconds, added up.
pub(crate) fn shop_cpu_secs(shop: &[&Server]) -> f64 {
    shop.iter().map(|s| s.cpu_secs()).sum()
}

/// One waiting page listening to its line: counted in `connected` once its ticket is read and
/// it follows its place; the arrival of its first `place` (false) or `turn` (true) goes to
/// `heard`, then the next ones.
pub(crate) async fn listen_line(
    addr: &str,
    ticket: &str,
    heard: tokio::sync::mpsc::UnboundedSender<(Instant, bool)>,
    connected: Arc<AtomicUsize>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    let ask = format!(
        "GET /live/line?t={ticket} HTTP/1.1\r\nHost: shop\r\nAccept: text/event-stream\r\n\r\n"
    );
    if stream.write_all(ask.as_bytes()).await.is_err() {
        return;
    }
    let mut lines = tokio::io::BufReader::with_capacity(1024, stream).lines();
    // listening once its ticket has been read: the stream's first word after that (the head
    // goes before the read)
    let mut counted = false;
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim_end();
        if !counted {
            if line.starts_with("HTTP/1.1 ") && !line.starts_with("HTTP/1.1 200") {
                eprintln!("  a waiting page was answered {line}");
                return;
            }
            if line == ": busy" {
                eprintln!("  a waiting page's ticket was not read (busy)");
                return;
            }
            if line == ": listening" || line.starts_with("event: ") {
                connected.fetch_add(1, Ordering::Relaxed);
                counted = true;
            }
        }
        let turn = match line {
            "event: turn" => true,
            "event: place" => false,
            _ => continue,
        };
        if heard.send((Instant::now(), turn)).is_err() {
            return;
        }
    }
}

/// One page listening live to [`DIRECT`] over its own connection: each `stock` event's arrival
/// time goes to `heard`.
pub(crate) async fn listen_live(
    addr: &str,
    heard: tokio::sync::mpsc::UnboundedSender<Instant>,
    connected: Arc<AtomicUsize>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    let ask = format!(
        "GET /live/products?ids={DIRECT} HTTP/1.1\r\nHost: shop\r\nAccept: text/event-stream\r\n\r\n"
    );
    if stream.write_all(ask.as_bytes()).await.is_err() {
        return;
    }
    let mut lines = tokio::io::BufReader::with_capacity(1024, stream).lines();
    let mut counted = false;
    while let Ok(Some(line)) = lines.next_line().await {
        if !counted && line.starts_with("HTTP/1.1 200") {
            connected.fetch_add(1, Ordering::Relaxed);
            counted = true;
        }
        if line.trim_end() == "event: stock" && heard.send(Instant::now()).is_err() {
            return;
        }
    }
}

/// Orders/s over `seconds` at `concurrency` connections, each for one [`MUG`], and the server's
/// CPU seconds per order meanwhile.
pub(crate) async fn orders_per_sec(
    server: &Server,
    concurrency: usize,
    seconds: u64,
    label: &'static str,
) -> anyhow::Result<(f64, f64)> {
    let cpu_before = server.cpu_secs();
    let http = client(concurrency)?;
    let base = server.base.clone();
    let (tally, elapsed) = run_load(
        Crowd::new(concurrency, usize::MAX, Duration::from_secs(seconds)),
        move |i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let key = format!("surge-{label}-{i:012}");
                let s = plain_order(&http, &base, key, MUG, &format!("+86137{i:08}")).await;
                (vec![s], None)
            }
        },
    )
    .await?;
    let orders = tally.acknowledged().len() as f64;
    let cpu = server.cpu_secs() - cpu_before;
    Ok((
        orders / elapsed.as_secs_f64().max(1e-9),
        cpu / orders.max(1.0),
    ))
}
