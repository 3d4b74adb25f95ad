//! `surge`: a first surge benchmark. Starts a real Holdfast server (fresh SQLite file, port 0),
//! fires N concurrent shoppers at `POST /api/place_order` for one product over real HTTP, prints
//! throughput, latency and answers by kind, then audits the database: oversold and lost must be 0.
//!
//! cargo run --release -p server --bin surge -- --shoppers 2000 --concurrency 200 --stock 100
//!
//! `--mix P` makes P % of the shoppers view the product page (server-rendered HTML) instead of
//! ordering: the "90 % browsing, 10 % buying" surge is `--mix 90`.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use server::{Application, Config};
use sqlx::sqlite::SqlitePool;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    shoppers: usize,
    concurrency: usize,
    stock: i64,
    quantity: i64,
    max_seconds: u64,
    mix: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        shoppers: 2000,
        concurrency: 200,
        stock: 100,
        quantity: 1,
        max_seconds: 60,
        mix: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--shoppers" => args.shoppers = value()?.parse()?,
            "--concurrency" => args.concurrency = value()?.parse()?,
            "--stock" => args.stock = value()?.parse()?,
            "--quantity" => args.quantity = value()?.parse()?,
            "--max-seconds" => args.max_seconds = value()?.parse()?,
            "--mix" => args.mix = value()?.parse()?,
            "-h" | "--help" => {
                println!("surge [--shoppers N] [--concurrency C] [--stock S] [--quantity Q] [--max-seconds T] [--mix PERCENT_PAGE_VIEWS]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    if args.concurrency == 0 || args.shoppers == 0 {
        bail!("--shoppers and --concurrency must be positive");
    }
    if args.mix > 100 {
        bail!("--mix is a percentage (0 to 100)");
    }
    Ok(args)
}

#[derive(Default)]
struct Tally {
    /// Order requests only.
    latencies: Vec<Duration>,
    page_latencies: Vec<Duration>,
    by_kind: BTreeMap<String, usize>,
    acknowledged: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let dir = tempfile::tempdir().context("temp dir")?;
    let data_dir = dir.path().display().to_string();
    let config = Config::from_lookup(|k| match k {
        "HOLDFAST_ADDR" => Some("127.0.0.1:0".to_owned()),
        "HOLDFAST_DATA_DIR" => Some(data_dir.clone()),
        "HOLDFAST_MAX_ORDERS_IN_FLIGHT" => Some((args.concurrency * 2).to_string()),
        // every simulated shopper connects from 127.0.0.1: per-client limits would refuse them
        "HOLDFAST_RATE_LIMIT_PER_SEC" => Some("0".to_owned()),
        _ => None,
    })?;
    let db_url = config.database_url();
    let app = Application::build(config).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = tokio::spawn(app.run_until_stopped());

    let db = SqlitePool::connect(&db_url).await?;
    let (product, slug): (i64, String) =
        sqlx::query_as("SELECT id, slug FROM products WHERE flash_sale = 1 LIMIT 1")
            .fetch_one(&db)
            .await?;
    // direct checkout of the hot product: no waiting room, no limit
    sqlx::query("DELETE FROM sales WHERE product_id = ?")
        .bind(product)
        .execute(&db)
        .await?;
    sqlx::query("UPDATE products SET stock = ? WHERE id = ?")
        .bind(args.stock)
        .bind(product)
        .execute(&db)
        .await?;

    println!(
        "surge: {} shoppers, {} at a time, product {product} with {} units, {} each, {} % page views (SQLite, synchronous=FULL)",
        args.shoppers, args.concurrency, args.stock, args.quantity, args.mix
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let gate = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..args.shoppers {
        let permit = gate.clone().acquire_owned().await?;
        if Instant::now() > deadline {
            println!(
                "stopped issuing after {} s (--max-seconds)",
                args.max_seconds
            );
            break;
        }
        let client = client.clone();
        let page_view = i % 100 < args.mix;
        let page_url = format!("{base}/p/{slug}");
        let url = format!("{base}/api/place_order");
        let body = json!({
            "idempotency_key": format!("surge-{i:012}"),
            "lines": [{"product_id": product, "quantity": args.quantity}],
            "customer": {"name": format!("Shopper {i}"), "phone": format!("+1555{i:07}"), "address": "1 Harbour Row, Porthaven"}
        });
        set.spawn(async move {
            let t = Instant::now();
            if page_view {
                let outcome = match client.get(page_url).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        match (status, r.bytes().await) {
                            (200, Ok(_)) => Ok(None),
                            (200, Err(_)) => Err("page_connection_error".to_owned()),
                            (s, _) => Err(format!("page_http_{s}")),
                        }
                    }
                    Err(_) => Err("page_connection_error".to_owned()),
                };
                drop(permit);
                return (t.elapsed(), outcome);
            }
            let res = client.post(url).json(&body).send().await;
            let outcome = match res {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    match (status, v["kind"].as_str()) {
                        (200, _) => Ok(Some(
                            v["order_code"].as_str().unwrap_or_default().to_owned(),
                        )),
                        (_, Some(kind)) => Err(kind.to_owned()),
                        (s, None) => Err(format!("http_{s}")),
                    }
                }
                Err(e) => Err(if e.is_timeout() {
                    "timeout".into()
                } else {
                    "connection_error".into()
                }),
            };
            drop(permit);
            (t.elapsed(), outcome)
        });
    }
    let mut tally = Tally::default();
    while let Some(done) = set.join_next().await {
        let (latency, outcome) = done?;
        match outcome {
            Ok(None) => {
                tally.page_latencies.push(latency);
                *tally.by_kind.entry("page_viewed".into()).or_default() += 1;
            }
            Ok(Some(code)) => {
                tally.latencies.push(latency);
                *tally.by_kind.entry("acknowledged".into()).or_default() += 1;
                tally.acknowledged.push(code);
            }
            Err(kind) => {
                if kind.starts_with("page_") {
                    tally.page_latencies.push(latency);
                } else {
                    tally.latencies.push(latency);
                }
                *tally.by_kind.entry(kind).or_default() += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    report(&tally, elapsed);
    let ok = audit(&db, product, args.stock, args.quantity, &tally.acknowledged).await?;
    server.abort();

    // the same client, concurrency and request count against a bare axum JSON endpoint, so the
    // ratio says how much of the machine's HTTP capacity durable checkout keeps
    let answers = tally.latencies.len() + tally.page_latencies.len();
    let bare = bare_endpoint_rps(&client, args.concurrency, answers).await?;
    let answers_per_sec = answers as f64 / elapsed.as_secs_f64().max(1e-9);
    println!("bare axum JSON   {bare:.0} requests/s (same run, same client)");
    println!(
        "ratio            {:.2} (answers/s ÷ bare requests/s)",
        answers_per_sec / bare
    );
    if !ok {
        bail!("the audit failed");
    }
    Ok(())
}

/// Requests per second a do-nothing axum JSON handler answers with this client and concurrency.
async fn bare_endpoint_rps(
    client: &reqwest::Client,
    concurrency: usize,
    requests: usize,
) -> anyhow::Result<f64> {
    let router = axum::Router::new().route(
        "/bare",
        axum::routing::get(|| async { axum::Json(json!({"ok": true})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/bare", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..requests.max(1) {
        let permit = gate.clone().acquire_owned().await?;
        let (client, url) = (client.clone(), url.clone());
        set.spawn(async move {
            let ok = client.get(url).send().await.is_ok();
            drop(permit);
            ok
        });
    }
    let mut ok = 0_usize;
    while let Some(r) = set.join_next().await {
        ok += usize::from(r?);
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    server.abort();
    Ok(ok as f64 / secs)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(tally: &Tally, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let answers = tally.latencies.len() + tally.page_latencies.len();
    println!("elapsed          {secs:.2} s");
    println!("requests/s       {:.0}", answers as f64 / secs);
    println!(
        "orders/s         {:.0} (acknowledged orders per second)",
        tally.acknowledged.len() as f64 / secs
    );
    latency_line("order latency", &tally.latencies);
    if !tally.page_latencies.is_empty() {
        println!(
            "page views/s     {:.0}",
            tally.page_latencies.len() as f64 / secs
        );
        latency_line("page latency", &tally.page_latencies);
    }
    for (kind, n) in &tally.by_kind {
        println!("  {kind:<16} {n}");
    }
}

fn latency_line(label: &str, latencies: &[Duration]) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    println!(
        "{label:<16} p50 {:.1} ms   p95 {:.1} ms   p99 {:.1} ms   max {:.1} ms",
        ms(percentile(&sorted, 50.0)),
        ms(percentile(&sorted, 95.0)),
        ms(percentile(&sorted, 99.0)),
        ms(sorted.last().copied().unwrap_or_default())
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Checks the database against what shoppers were told.
async fn audit(
    db: &SqlitePool,
    product: i64,
    initial: i64,
    quantity: i64,
    acknowledged: &[String],
) -> anyhow::Result<bool> {
    let stock: i64 = sqlx::query_scalar("SELECT stock FROM products WHERE id = ?")
        .bind(product)
        .fetch_one(db)
        .await?;
    let sold: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(quantity), 0) FROM order_lines WHERE product_id = ?",
    )
    .bind(product)
    .fetch_one(db)
    .await?;
    let stored: HashSet<String> = sqlx::query_scalar("SELECT code FROM orders")
        .fetch_all(db)
        .await?
        .into_iter()
        .collect();
    let lost = acknowledged.iter().filter(|c| !stored.contains(*c)).count();
    let oversold = (sold - initial).max(0);
    let acked_units = acknowledged.len() as i64 * quantity;
    println!("audit            stock left {stock}, units sold {sold}, initial {initial}");
    println!("  oversold       {oversold}");
    println!("  lost           {lost} (acknowledged but not stored)");
    println!("  stock + sold = initial: {}", stock + sold == initial);
    println!("  sold = acknowledged units: {}", sold == acked_units);
    Ok(oversold == 0 && lost == 0 && stock + sold == initial && sold == acked_units)
}
