//! `surge`: the surge benchmark. Starts the real `server` binary as its own process (fresh SQLite
//! file, `synchronous=FULL`, port 0) for each scenario, drives it over real HTTP from this
//! process, prints throughput, latency percentiles, answers by kind and the server's memory, audits
//! the database (oversold and lost must be 0), and measures a bare axum JSON endpoint with the same
//! client and concurrency in the same run, so the ratio is printed.
//!
//! `scripts/surge` builds in release mode and runs every scenario:
//!   a. `queue`     — 10,000 shoppers race for 100 units through the waiting room
//!   b. `orders`    — the order desk alone (no HTTP, 100,000 orders), then sustained orders over
//!      HTTP with ample stock, 64 then 512 connections, 20 s each
//!   c. `mixed`     — 90 % product page views, 10 % orders, 256 connections, 20 s
//!   d. `connections` — 10,000 open connections held idle: server memory, and a page view and an
//!      order still answered; then a second request on each idle connection
//!   e. `login-flood` — checkout at 64 connections alone, then again while 600 connections flood
//!      the owner's login with wrong passwords from ever-new addresses (half at her email, half at
//!      ever-new ones); the owner logs in from her known phone meanwhile
//!   f. `pages`     — new visitors' page views: the catalogue and every product page, asked for as a
//!      phone does (brotli accepted, no cookie), 256 connections, 20 s
//!   g. `race`      — 3,000 shoppers and 300 re-sends of their orders at the same instant for 100
//!      units of a plain product, on the server's defaults: how many got a definitive answer (an
//!      order or sold out) and how soon, how many were told "busy"; on Postgres also with 3
//!      servers of one shop
//!   h. `live`      — 10,000 pages listening live to one product on one server while its stock
//!      changes once a second: from each commit to each page hearing it (p50/p99/max), pages that
//!      missed one, server memory and CPU; then orders/s with nobody listening and with all of
//!      them listening while the badge changes four times a second
//!
//! `surge [--scenario all|race|live|queue|orders|mixed|connections|login-flood|pages] [--seconds S] [--shoppers N] [--stock S] [--server PATH]`
//!
//! `--server PATH` runs another build of the server binary (an older commit's, to compare before
//! and after in one sitting); by default the `server` beside this binary.
//!
//! `--postgres ADMIN_URL` runs them on Postgres instead (a fresh database per scenario, dropped
//! after) and adds a naive one-transaction-per-order baseline to `orders`.
//!
//! `--split-cores` runs the server(s) on the first core and this generator on the second
//! (`taskset`), so what the generator's own work (reading 10,000 streams) costs does not show up
//! as the server's: the server has one core, and every figure is for one core.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use server::load::{
    client, ms, order_body, percentile, process, run_load, send, sorted, Crowd, Sample, Tally,
};
use sqlx::sqlite::SqlitePool;
use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo's hot products: the hoodie drop (waiting room) and the caramels (direct checkout).
const QUEUED: i64 = 1;
const DIRECT: i64 = 2;
const DIRECT_SLUG: &str = "sea-salt-caramels";

struct Args {
    scenario: String,
    seconds: u64,
    shoppers: usize,
    stock: i64,
    connections: usize,
    /// An admin URL of a Postgres server: run on Postgres (a fresh database per scenario).
    postgres: Option<String>,
}

/// `--split-cores`: the servers run on core 0 (this generator moved itself to core 1).
static SPLIT_CORES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The server binary to run (`--server`), when not the one beside this binary.
static SERVER_BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

const SCENARIOS: [&str; 9] = [
    "all",
    "race",
    "live",
    "queue",
    "orders",
    "mixed",
    "connections",
    "login-flood",
    "pages",
];

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        scenario: "all".into(),
        seconds: 20,
        shoppers: 10_000,
        stock: 100,
        connections: 10_000,
        postgres: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--scenario" => args.scenario = value()?,
            "--seconds" => args.seconds = value()?.parse()?,
            "--shoppers" => args.shoppers = value()?.parse()?,
            "--stock" => args.stock = value()?.parse()?,
            "--connections" => args.connections = value()?.parse()?,
            "--postgres" => args.postgres = Some(value()?),
            "--split-cores" => split_cores()?,
            "--server" => {
                let path = std::path::PathBuf::from(value()?);
                if !path.is_file() {
                    bail!("--server {}: no such file", path.display());
                }
                let _ = SERVER_BIN.set(path);
            }
            "-h" | "--help" => {
                println!("surge [--scenario {}] [--seconds S] [--shoppers N] [--stock S] [--connections N] [--postgres ADMIN_URL] [--server PATH] [--split-cores]", SCENARIOS.join("|"));
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    if !SCENARIOS.contains(&args.scenario.as_str()) {
        bail!("--scenario is one of {}", SCENARIOS.join(", "));
    }
    if args.seconds == 0 || args.seconds > 300 || args.shoppers == 0 {
        bail!("--seconds must be 1–300 and --shoppers positive");
    }
    Ok(args)
}

/// Moves this generator (all its threads) to the second core; servers started later go to the
/// first.
fn split_cores() -> anyhow::Result<()> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        bail!("--split-cores needs two cores");
    }
    let done = Command::new("taskset")
        .args(["-a", "-p", "-c", "1", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .context("--split-cores runs taskset (util-linux)")?;
    if !done.success() {
        bail!("taskset could not move this generator to core 1");
    }
    SPLIT_CORES.store(true, Ordering::Relaxed);
    Ok(())
}

mod connections;
mod live;
mod login_flood;
mod orders;
mod pages;
mod queue;
mod race;
mod report;
mod shop;

use connections::*;
use live::*;
use login_flood::*;
use orders::*;
use pages::*;
use queue::*;
use race::*;
use report::*;
use shop::*;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let database = match &args.postgres {
        Some(_) => "Postgres (synchronous_commit on, a fresh database per scenario)",
        None => "SQLite (WAL, synchronous=FULL)",
    };
    if SPLIT_CORES.load(Ordering::Relaxed) {
        println!("surge: Holdfast on {database}, server(s) on core 0 and load generator on core 1");
    } else {
        println!(
            "surge: Holdfast on {database}, {} cores, server and load generator on one machine",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    let pg = args.postgres.as_deref();
    let mut ok = true;
    let s = args.scenario.as_str();
    if s == "all" || s == "queue" {
        ok &= scenario_queue(&args, 512).await?;
    }
    if s == "all" || s == "race" {
        ok &= scenario_race(&args, 1).await?;
        if pg.is_some() {
            ok &= scenario_race(&args, 3).await?;
        }
    }
    if s == "all" || s == "live" {
        ok &= scenario_live(&args, 1).await?;
        if pg.is_some() {
            ok &= scenario_live(&args, 3).await?;
        }
    }
    if s == "all" || s == "orders" {
        ok &= desk_alone(100_000, pg).await?;
        ok &= scenario_orders(&args, 64, 0).await?.0;
        let (fine, at_512) = scenario_orders(&args, 512, 0).await?;
        ok &= fine;
        if let Some(admin) = pg {
            let naive = naive_postgres(admin, 512, args.seconds).await?;
            println!(
                "  ratio            {:.1} × (Holdfast over HTTP at 512 connections ÷ naive at 512 clients)",
                at_512 / naive.max(1e-9)
            );
        }
    }
    if s == "all" || s == "mixed" {
        ok &= scenario_orders(&args, 256, 90).await?.0;
    }
    if s == "all" || s == "connections" {
        ok &= scenario_connections(&args).await?;
    }
    if s == "all" || s == "login-flood" {
        ok &= scenario_login_flood(&args).await?;
    }
    if s == "all" || s == "pages" {
        ok &= scenario_pages(&args, 256).await?;
    }
    if !ok {
        bail!("an audit failed");
    }
    println!("\nall audits passed: 0 oversold, 0 lost");
    Ok(())
}
