//! What every scenario prints: headings, figures, the bare-axum ratio, the audit.

use super::*;

pub(crate) fn heading(text: &str) {
    println!("\n== {text}");
}

pub(crate) fn memory(server: &Server) {
    let (now, peak) = server.memory_mib();
    println!("  server memory    RSS {now:.0} MiB now, {peak:.0} MiB peak");
}

/// The end of a load scenario: the server's memory, then the server stopped and the bare endpoint
/// measured with the same concurrency for the ratio.
pub(crate) async fn stop_and_compare(
    server: Server,
    tally: &Tally,
    elapsed: Duration,
    concurrency: usize,
) -> anyhow::Result<()> {
    memory(&server);
    drop(server);
    bare_ratio(
        concurrency,
        Duration::from_secs(5),
        tally.samples.len(),
        elapsed,
    )
    .await
}

/// The bare endpoint, same client settings and concurrency, measured now; prints the ratio of the
/// scenario's answers per second to it.
pub(crate) async fn bare_ratio(
    concurrency: usize,
    duration: Duration,
    answers: usize,
    elapsed: Duration,
) -> anyhow::Result<()> {
    let router = axum::Router::new().route(
        "/bare",
        axum::routing::get(|| async { axum::Json(json!({"ok": true})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/bare", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let http = client(concurrency)?;
    let (bare, bare_elapsed) = run_load(Crowd::new(concurrency, usize::MAX, duration), move |_| {
        let (http, url) = (http.clone(), url.clone());
        async move { (vec![send("bare", http.get(url)).await.0], None) }
    })
    .await?;
    server.abort();
    let bare_rps = bare.samples.len() as f64 / bare_elapsed.as_secs_f64().max(1e-9);
    let rps = answers as f64 / elapsed.as_secs_f64().max(1e-9);
    println!("  bare axum JSON   {bare_rps:.0} requests/s (same client and concurrency, measured just after)");
    println!(
        "  ratio            {:.2} (this scenario's answers/s ÷ bare requests/s)",
        rps / bare_rps
    );
    Ok(())
}

pub(crate) fn report(tally: &Tally, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!("  elapsed          {secs:.2} s");
    println!(
        "  requests/s       {:.0}",
        tally.samples.len() as f64 / secs
    );
    println!(
        "  orders/s         {:.0} (acknowledged, durable)",
        tally.acknowledged().len() as f64 / secs
    );
    for what in ["order", "join", "status", "page", "login", "login-owner"] {
        let lat: Vec<Duration> = tally
            .samples
            .iter()
            .filter(|s| s.what == what)
            .map(|s| s.latency)
            .collect();
        if lat.is_empty() {
            continue;
        }
        let lat = sorted(&lat);
        println!(
            "  {what:<7} latency  p50 {:.1} ms   p95 {:.1} ms   p99 {:.1} ms   max {:.1} ms   ({} requests)",
            ms(percentile(&lat, 50.0)),
            ms(percentile(&lat, 95.0)),
            ms(percentile(&lat, 99.0)),
            ms(lat.last().copied().unwrap_or_default()),
            lat.len()
        );
    }
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for s in &tally.samples {
        *kinds.entry(format!("{}:{}", s.what, s.kind)).or_default() += 1;
    }
    println!("  answers by kind");
    for (kind, n) in &kinds {
        println!("    {kind:<24} {n}");
    }
    let errors: usize = tally.samples.iter().filter(|s| s.is_error()).count();
    let shed = tally
        .samples
        .iter()
        .filter(|s| s.kind == "overloaded")
        .count();
    println!("  5xx / errors     {errors} (besides {shed} deliberate 503 overloaded)");
}

/// Checks the database against what shoppers were told: stock + sold + held = initial, nothing
/// oversold, every acknowledged order stored.
pub(crate) async fn audit(
    server: &Server,
    product: i64,
    initial: i64,
    acknowledged: &[String],
) -> anyhow::Result<bool> {
    let db = &server.db;
    let stock = db
        .scalar("SELECT stock FROM products WHERE id = $1", product)
        .await?;
    let sold = db
        .scalar(
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM order_lines WHERE product_id = $1",
            product,
        )
        .await?;
    let held = db
        .scalar(
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM holds \
             WHERE product_id = $1 AND state = 'live'",
            product,
        )
        .await?;
    let stored = db.codes().await?;
    let lost = acknowledged.iter().filter(|c| !stored.contains(*c)).count();
    let oversold = (sold - initial).max(0);
    let balanced = stock + sold + held == initial;
    let all_acked = sold == acknowledged.len() as i64;
    println!("  audit            stock {stock} + sold {sold} + held {held} = {} (initial {initial}): {balanced}", stock + sold + held);
    println!("  oversold         {oversold}");
    println!("  lost             {lost} (acknowledged but not stored)");
    println!("  sold = acknowledged units: {all_acked}");
    Ok(oversold == 0 && lost == 0 && balanced && all_acked)
}
