//! (f) `pages`: new visitors' page views, as a phone asks for them.

use super::*;

/// (f) New visitors looking: the catalogue and every product page, as a phone asks for them
/// (brotli accepted, no cookie), at `concurrency` connections. Every answer must be a whole page.
pub(crate) async fn scenario_pages(args: &Args, concurrency: usize) -> anyhow::Result<bool> {
    let server = Server::start(Some(concurrency * 2), args.postgres.as_deref(), &[]).await?;
    heading(&format!(
        "(f) page views: the catalogue and the product pages, brotli accepted, {concurrency} connections, {} s",
        args.seconds
    ));
    let http = client(concurrency)?;
    let products: Vec<Value> = http
        .get(format!("{}/api/products", server.base))
        .send()
        .await?
        .json()
        .await?;
    let mut paths = vec!["/".to_owned()];
    paths.extend(
        products
            .iter()
            .filter_map(|p| p["slug"].as_str())
            .map(|slug| format!("/p/{slug}")),
    );
    println!(
        "  pages            {} (the catalogue and {} products)",
        paths.len(),
        paths.len() - 1
    );
    let base = server.base.clone();
    let paths = Arc::new(paths);
    let (tally, elapsed) = run_load(
        Crowd::new(concurrency, usize::MAX, Duration::from_secs(args.seconds)),
        move |i| {
            let (http, base, paths) = (http.clone(), base.clone(), paths.clone());
            async move {
                let path = &paths[i % paths.len()];
                let s = send(
                    "page",
                    http.get(format!("{base}{path}"))
                        .header("accept-encoding", "gzip, deflate, br")
                        .header("accept", "text/html"),
                )
                .await
                .0;
                (vec![s], None)
            }
        },
    )
    .await?;
    report(&tally, elapsed);
    stop_and_compare(server, &tally, elapsed, concurrency).await?;
    let failed = tally
        .samples
        .iter()
        .filter(|s| s.kind != "page_viewed")
        .count();
    println!("  not a page       {failed}");
    Ok(failed == 0)
}
