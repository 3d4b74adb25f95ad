//! (g) `race`: thousands of shoppers and their re-sends at the same instant for 100 units.

use super::*;

/// (g) The race for a plain product: `shoppers` shoppers (3,000 by default) order at the same
/// instant, and a tenth of them send their order a second time at once (a double tap, a retry
/// after a lost answer), for `stock` units (100) — spread over `servers` servers of one shop on
/// Postgres. Every shopper should get an order or "sold out" within 3 s, and none "busy".
pub(crate) async fn scenario_race(args: &Args, servers: usize) -> anyhow::Result<bool> {
    // this process holds one end of every connection too
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    // the waiting room's default of 10,000 shoppers is this race's 3,000
    let shoppers = if args.shoppers == 10_000 {
        3_000
    } else {
        args.shoppers
    };
    let stock = args.stock;
    let resends = shoppers / 10;
    let first = Server::start(None, args.postgres.as_deref(), &[]).await?;
    let mut fleet = vec![];
    for _ in 1..servers {
        fleet.push(first.beside(&[]).await?);
    }
    first
        .exec(&format!(
            "UPDATE products SET stock = {stock} WHERE id = {DIRECT}"
        ))
        .await?;
    let bases: Vec<String> = std::iter::once(first.base.clone())
        .chain(fleet.iter().map(|s| s.base.clone()))
        .collect();
    heading(&format!(
        "(g) the race: {shoppers} shoppers + {resends} re-sends at once for {stock} units, {} server(s), server defaults",
        bases.len()
    ));
    // the catalogue read by each server at most a quarter second ago shows the new stock
    tokio::time::sleep(Duration::from_millis(600)).await;
    let http = client(shoppers + resends)?;
    let gate = Arc::new(tokio::sync::Barrier::new(shoppers + resends + 1));
    let mut set = tokio::task::JoinSet::new();
    for n in 0..shoppers + resends {
        // the re-sends are shoppers 0, 10, 20 …: same key, same order, sent again
        let i = if n < shoppers { n } else { (n - shoppers) * 10 };
        let (http, gate) = (http.clone(), gate.clone());
        let url = format!("{}/api/place_order", bases[n % bases.len()]);
        let body = order_body(
            format!("surge-race-{i:010}"),
            DIRECT,
            &format!("+86139{i:08}"),
            None,
        );
        set.spawn(async move {
            gate.wait().await;
            let (s, _) = send("order", http.post(url).json(&body)).await;
            (i, s)
        });
    }
    gate.wait().await;
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut codes_by_key: BTreeMap<usize, HashSet<String>> = BTreeMap::new();
    while let Some(done) = set.join_next().await {
        let (i, s) = done?;
        if let Some(code) = &s.order_code {
            codes_by_key.entry(i).or_default().insert(code.clone());
        }
        tally.samples.push(s);
    }
    let elapsed = started.elapsed();
    report(&tally, elapsed);
    let latencies = sorted(&tally.samples.iter().map(|s| s.latency).collect::<Vec<_>>());
    let busy = tally
        .samples
        .iter()
        .filter(|s| s.kind == "overloaded")
        .count();
    let definitive = tally
        .samples
        .iter()
        .filter(|s| s.kind == "acknowledged" || s.kind == "sold_out")
        .count();
    let last = latencies.last().copied().unwrap_or_default();
    println!(
        "  definitive       {definitive} of {} (an order or sold out); busy {busy}; last answer after {:.0} ms",
        shoppers + resends,
        ms(last)
    );
    let doubled = codes_by_key
        .values()
        .filter(|codes| codes.len() > 1)
        .count();
    println!("  keys with two orders {doubled}");
    let met = busy == 0 && definitive == shoppers + resends && last <= Duration::from_secs(3);
    println!(
        "  target           every shopper an order or sold out within 3 s, none busy: {}",
        if met { "met" } else { "NOT met" }
    );
    let acknowledged: Vec<String> = codes_by_key.values().flatten().cloned().collect();
    let ok = audit(&first, DIRECT, stock, &acknowledged).await?;
    for server in [&first].into_iter().chain(fleet.iter()) {
        memory(server);
    }
    Ok(ok && doubled == 0)
}
