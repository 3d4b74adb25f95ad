//! The sale rehearsal, end to end: the real server serving a live shop from a real SQLite file,
//! and `server rehearse` (the real binary) copying it, running a second shop on the copy and a
//! crowd of 2,000 simulated phones against it. The report's audit holds and exactly the units
//! put up are sold; the live shop's tables are unchanged row for row; live orders placed during
//! a rehearsal are served and both audits hold; a sale near, another rehearsal running or a bad
//! number refuse it with a clear message.

// in test code a panic is how a test reports failure
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::common::Fetch;

use common::shop::PgDatabase;
use common::{order_body, start_server_with};
use rusqlite::{Connection, OpenFlags};
use server::rehearsal::report::Advice;
use server::rehearsal::Report;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};

const HOODIE: i64 = 1;
const CARAMELS: i64 = 2;

/// The demo shop's sales moved to tomorrow: the rehearsal happens the day before.
fn sales_tomorrow(dir: &Path) {
    let c = Connection::open(dir.join("holdfast.db")).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let start = chrono::Utc::now() + chrono::Duration::days(1);
    let end = start + chrono::Duration::hours(2);
    c.execute(
        "UPDATE sales SET starts_at = ?1, ends_at = ?2",
        [common::stamp(start), common::stamp(end)],
    )
    .unwrap();
}

/// Every row of every shop table (all but the rehearsals' own), hashed table by table.
fn shop_tables(dir: &Path) -> Vec<(String, String)> {
    let c = Connection::open_with_flags(dir.join("holdfast.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let mut names = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT IN ('rehearsals', 'sqlite_sequence') ORDER BY name",
        )
        .unwrap();
    let names: Vec<String> = names
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    names
        .into_iter()
        .map(|table| {
            let mut rows = c.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
            let columns = rows.column_count();
            let mut all: Vec<String> = rows
                .query_map([], |r| {
                    Ok((0..columns)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            all.sort();
            let mut hash = Sha256::new();
            for row in &all {
                hash.update(row.as_bytes());
                hash.update(b"\n");
            }
            (table, format!("{} rows {:x}", all.len(), hash.finalize()))
        })
        .collect()
}

fn rehearse(dir: &Path, args: &[&str]) -> Output {
    rehearse_on(dir, None, args)
}

/// `server rehearse` for the shop in `dir`, on the Postgres database `database_url` if given.
fn rehearse_on(dir: &Path, database_url: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command
        .arg("rehearse")
        .args(args)
        .env("HOLDFAST_DATA_DIR", dir)
        .env("HOLDFAST_METRICS_ADDR", "off")
        .env_remove("HOLDFAST_RATE_LIMIT_PER_SEC")
        // everything it logs goes to standard error: its standard output stays the report alone
        // (a slow statement's warning once broke `--json` there)
        .env("RUST_LOG", "info,sqlx=info")
        .output()
        .expect("server rehearse runs")
}

/// `n` orders of one caramel each placed on the live shop, one after another: each answered
/// 200 (the test fails otherwise); their codes.
async fn live_orders(base: &str, keys: &str, n: usize) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut codes = Vec::new();
    for i in 0..n {
        let res = http
            .post(format!("{base}/api/place_order"))
            .json(&order_body(&format!("{keys}-{i:04}"), CARAMELS, 1))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 200, "a live order during the rehearsal: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        codes.push(body["order_code"].as_str().unwrap().to_owned());
    }
    codes
}

fn report_of(out: &Output) -> Report {
    assert!(
        out.status.success(),
        "rehearsal failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a report ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn rehearsal_rows(dir: &Path) -> Vec<(String, Option<String>)> {
    let c = Connection::open(dir.join("holdfast.db")).unwrap();
    let mut q = c
        .prepare("SELECT state, report FROM rehearsals ORDER BY id")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn copies_left(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("rehearsal-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_shoppers_for_a_hundred_units_buy_exactly_a_hundred_on_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (_live, base) = start_server_with(dir.path(), &[]);
    sales_tomorrow(dir.path());
    let before = shop_tables(dir.path());

    // the hoodie drop: its waiting room, holds and per-customer limit, 100 units on the copy,
    // one in ten shoppers walking away from their hold
    let out = rehearse(
        dir.path(),
        &[
            "--product",
            "anchor-hoodie",
            "--shoppers",
            "2000",
            "--stock",
            "100",
            "--give-up",
            "10",
            "--json",
        ],
    );
    let report = report_of(&out);
    eprintln!("{}", report);
    assert!(report.waiting_room, "the hoodie sells through its line");
    assert!(report.audit.holds(), "audit: {:?}", report.audit);
    assert_eq!(report.units_available, 100);
    assert_eq!(report.units_sold, 100, "exactly the units put up");
    assert_eq!(report.audit.oversold, 0);
    assert_eq!(report.audit.lost, 0);
    assert_eq!(report.shoppers_done, 2000, "every shopper's visit ended");
    assert_eq!(report.outcomes.get("ordered"), Some(&100));
    assert!(report.outcomes.get("gave_up").copied().unwrap_or(0) > 0);
    assert_eq!(
        report.outcomes.values().sum::<usize>(),
        2000,
        "{:?}",
        report.outcomes
    );
    let acknowledged: usize = report
        .answers
        .iter()
        .filter(|a| a.request == "order" && a.kind == "acknowledged")
        .map(|a| a.count)
        .sum();
    assert_eq!(acknowledged, 100);
    assert!(report.sold_out_after_secs.is_some(), "it sold out");
    assert!(report.longest_line > 0);
    assert!(report.peak_memory_mib > 0.0 && report.cpu_secs > 0.0);
    assert!(!report.advice.contains(&Advice::AuditFailed));
    // the burn-down, second by second: from the 100 down to none, never back up
    assert!(report.left.len() >= 2, "{:?}", report.left);
    assert!(
        report.left[0] <= 100 && report.left[0] > 0,
        "{:?}",
        report.left
    );
    assert_eq!(report.left.last(), Some(&0));
    assert!(
        report.left.windows(2).all(|w| w[1] <= w[0]),
        "{:?}",
        report.left
    );
    // the shop's own count (its /metrics) agrees with what the phones were told
    let counted = report.counted.as_ref().expect("the shop's metrics read");
    assert_eq!(
        counted.checkout_answers.get("ordered"),
        Some(&100),
        "{counted:?}"
    );
    assert!(
        counted.desk_batches > 0 && counted.desk_jobs >= 100,
        "{counted:?}"
    );
    assert!(counted.desk_commit_p95_ms.is_some(), "{counted:?}");

    // the live shop: not one row changed, the report kept, the copy gone, still serving
    assert_eq!(shop_tables(dir.path()), before);
    let rows = rehearsal_rows(dir.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "finished");
    let kept: Report = serde_json::from_str(rows[0].1.as_deref().unwrap()).unwrap();
    assert_eq!(kept, report);
    assert!(
        copies_left(dir.path()).is_empty(),
        "{:?}",
        copies_left(dir.path())
    );
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn live_orders_during_a_rehearsal_are_served_and_both_audits_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (_live, base) = start_server_with(dir.path(), &[]);
    sales_tomorrow(dir.path());
    let live_stock = |dir: &Path| -> (i64, i64) {
        let c = Connection::open(dir.join("holdfast.db")).unwrap();
        let stock = c
            .query_row(
                "SELECT stock FROM products WHERE id = ?1",
                [CARAMELS],
                |r| r.get(0),
            )
            .unwrap();
        let sold = c
            .query_row(
                "SELECT COALESCE(SUM(quantity), 0) FROM order_lines WHERE product_id = ?1",
                [CARAMELS],
                |r| r.get(0),
            )
            .unwrap();
        (stock, sold)
    };
    let (stock0, sold0) = live_stock(dir.path());

    let rehearsal = {
        let dir = dir.path().to_owned();
        std::thread::spawn(move || {
            rehearse(
                &dir,
                &[
                    "--product",
                    "sea-salt-caramels",
                    "--shoppers",
                    "1500",
                    "--over",
                    "4",
                    "--stock",
                    "300",
                    "--json",
                ],
            )
        })
    };
    // once it runs, shoppers of the live shop order meanwhile
    common::eventually(
        std::time::Duration::from_secs(30),
        "the rehearsal running",
        || async {
            rehearsal_rows(dir.path())
                .iter()
                .any(|(state, _)| state == "running")
                .then_some(())
        },
    )
    .await;
    let codes = live_orders(&base, "live-during-rehearsal", 20).await;
    let report = report_of(&rehearsal.join().unwrap());
    assert!(report.audit.holds(), "the copy's audit: {:?}", report.audit);
    assert!(!report.waiting_room);
    assert_eq!(report.units_sold, 300, "1,500 shoppers for 300 units");
    assert_eq!(report.shoppers_done, 1500);

    // the live shop's audit: its 20 orders kept, its stock and sales add up
    let (stock1, sold1) = live_stock(dir.path());
    assert_eq!(sold1 - sold0, 20);
    assert_eq!(stock1 + sold1, stock0 + sold0);
    let c = Connection::open(dir.path().join("holdfast.db")).unwrap();
    for code in &codes {
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM orders WHERE code = ?1", [code], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1, "live order {code} stored");
    }
    let rehearsal_orders: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM idempotency_keys WHERE key LIKE 'rehearsal-%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        rehearsal_orders, 0,
        "no rehearsal order reached the live shop"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_near_a_sale_while_another_runs_and_for_bad_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (_live, _base) = start_server_with(dir.path(), &[]);
    let refusal = |args: &[&str]| {
        let out = rehearse(dir.path(), args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // the demo's hoodie drop is running
    let (code, said) = refusal(&["--product", "sea-salt-caramels", "--shoppers", "10"]);
    assert_eq!(code, Some(3), "{said}");
    assert!(said.contains("running now"), "{said}");

    // a sale in ten minutes: inside the rehearsal's length
    sales_tomorrow(dir.path());
    let c = Connection::open(dir.path().join("holdfast.db")).unwrap();
    let soon = chrono::Utc::now() + chrono::Duration::minutes(10);
    c.execute(
        "UPDATE sales SET starts_at = ?1, ends_at = ?2 WHERE product_id = ?3",
        rusqlite::params![
            common::stamp(soon),
            common::stamp(soon + chrono::Duration::hours(1)),
            HOODIE
        ],
    )
    .unwrap();
    let (code, said) = refusal(&[
        "--product",
        "anchor-hoodie",
        "--shoppers",
        "10",
        "--over",
        "600",
    ]);
    assert_eq!(code, Some(3), "{said}");
    assert!(said.contains("starts in"), "{said}");
    sales_tomorrow(dir.path());

    // another rehearsal running (its heartbeat fresh)
    let now = common::stamp(chrono::Utc::now());
    c.execute(
        "INSERT INTO rehearsals (product_id, state, plan, started_at, beat_at) \
         VALUES (?1, 'running', '{}', ?2, ?2)",
        rusqlite::params![CARAMELS, now],
    )
    .unwrap();
    let (code, said) = refusal(&["--product", "sea-salt-caramels", "--shoppers", "10"]);
    assert_eq!(code, Some(3), "{said}");
    assert!(said.contains("another rehearsal"), "{said}");

    // bad numbers and names, before anything runs
    for args in [
        &["--product", "sea-salt-caramels", "--shoppers", "0"][..],
        &["--product", "sea-salt-caramels", "--shoppers", "50001"],
        &["--product", "sea-salt-caramels", "--give-up", "150"],
        &["--product", "sea-salt-caramels", "--shoppers", "many"],
        &["--shoppers", "10"],
    ] {
        let (code, said) = refusal(args);
        assert_eq!(code, Some(2), "{args:?}: {said}");
    }
    let (code, said) = refusal(&["--product", "no-such-thing"]);
    assert_eq!(code, Some(3), "{said}");
    assert!(said.contains("no product"), "{said}");

    // a running one that stopped beating (its process died) no longer blocks
    let long_ago = common::stamp(chrono::Utc::now() - chrono::Duration::minutes(10));
    c.execute("UPDATE rehearsals SET beat_at = ?1", [long_ago])
        .unwrap();
    let out = rehearse(
        dir.path(),
        &[
            "--product",
            "sea-salt-caramels",
            "--shoppers",
            "20",
            "--json",
        ],
    );
    let report = report_of(&out);
    assert!(report.audit.holds());
    let states: Vec<String> = rehearsal_rows(dir.path())
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(states, ["failed", "finished"]);
    assert!(copies_left(dir.path()).is_empty());
}

/// The shop's first owner, signed in through the setup page of a server started with
/// `HOLDFAST_SECRET` = [`SECRET`]: her cookie and CSRF token.
async fn owner(http: &reqwest::Client, base: &str) -> (String, String) {
    let code = server::admin::setup_code(SECRET.as_bytes());
    common::owner::first_owner_of(http, base, &code).await
}

const SECRET: &str = "rehearsal-test-secret-0123456789abcdefgh";

/// An owner's page, as her browser gets it.
async fn page_of(http: &reqwest::Client, url: &str, cookie: &str) -> String {
    http.get(url)
        .header(reqwest::header::COOKIE, cookie)
        .fetch_text()
        .await
}

/// The rehearsal's page once it has stopped refreshing itself (it is over), within 3 minutes.
async fn page_when_over(http: &reqwest::Client, url: &str, cookie: &str) -> String {
    for _ in 0..360 {
        let page = page_of(http, url, cookie).await;
        if !page.contains("http-equiv=\"refresh\"") {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("the rehearsal did not end in 3 minutes")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_starts_a_rehearsal_from_the_product_page_follows_it_and_reads_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (_live, base) = start_server_with(dir.path(), &[("HOLDFAST_SECRET", SECRET)]);
    // the owner reads English here (the demo shop's own language is Chinese)
    let mut english = reqwest::header::HeaderMap::new();
    english.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_static("en"),
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(english)
        .build()
        .unwrap();
    let (cookie, csrf) = owner(&http, &base).await;
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        http.post(format!("{base}{path}"))
            .header(reqwest::header::COOKIE, &cookie)
            .form(&form)
            .send()
    };
    let form = |shoppers: &str, over: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("shoppers", shoppers.to_owned()),
            ("over", over.to_owned()),
            ("give_up", "0".to_owned()),
            ("stock", "30".to_owned()),
            ("retry", "yes".to_owned()),
            ("browse", "yes".to_owned()),
        ]
    };

    // the demo's hoodie drop is running: refused, in words, nothing started
    let res = post("/admin/products/2/rehearse", form("300", "0"))
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("A sale is running now"));
    assert!(rehearsal_rows(dir.path()).is_empty());

    // the day before the sale: a bad number is refused, then a rehearsal runs
    sales_tomorrow(dir.path());
    let res = post("/admin/products/2/rehearse", form("0", "0"))
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("from 1 to 50000"));
    let product_page = page_of(&http, &format!("{base}/admin/products/2"), &cookie).await;
    assert!(product_page.contains("Rehearse this sale"));

    let res = post("/admin/products/2/rehearse", form("300", "0"))
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let at = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(at.starts_with("/admin/rehearsals/"), "{at}");
    // one at a time, from the page too
    let res = post("/admin/products/2/rehearse", form("300", "0"))
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Another rehearsal is running"));

    let page = page_when_over(&http, &format!("{base}{at}"), &cookie).await;
    assert!(page.contains("finished"), "{page}");
    assert!(
        page.contains("All 30 units sold out"),
        "sold out in words: {page}"
    );
    assert!(page.contains("Nothing oversold, no order lost"), "{page}");
    assert!(
        page.contains("every one of 300 shoppers") || page.contains("Every one of 300 shoppers"),
        "{page}"
    );
    assert!(
        page.contains("data-testid=\"rehearsal-burn\""),
        "the burn-down kept: {page}"
    );
    assert!(page.contains("units left, second by second"), "{page}");
    assert!(
        page.contains("What the rehearsal's shop counted itself"),
        "{page}"
    );
    assert!(
        page.contains("data-answer=\"ordered\" class=\"num\">30<"),
        "the shop counted 30 orders: {page}"
    );
    // kept, and listed on the product's page
    let product_page = page_of(&http, &format!("{base}/admin/products/2"), &cookie).await;
    assert!(product_page.contains(&format!("href=\"{at}\"")), "listed");
    assert!(copies_left(dir.path()).is_empty());

    // a long one, cancelled: it stops within seconds and keeps what it saw
    let res = post("/admin/products/2/rehearse", form("5000", "600"))
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let at = res.headers()["location"].to_str().unwrap().to_owned();
    for _ in 0..100 {
        let rows = rehearsal_rows(dir.path());
        let c = Connection::open(dir.path().join("holdfast.db")).unwrap();
        let started: Option<String> = c
            .query_row(
                "SELECT progress FROM rehearsals WHERE state = 'running'",
                [],
                |r| r.get(0),
            )
            .unwrap_or(None);
        if started.is_some() || rows.iter().all(|r| r.0 != "running") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // while it runs: the progress bar, the units left and their burn-down chart, memory now
    let running = page_of(&http, &format!("{base}{at}"), &cookie).await;
    assert!(
        running.contains("data-testid=\"rehearsal-progress\""),
        "{running}"
    );
    assert!(running.contains("Units left: "), "{running}");
    assert!(
        running.contains("data-testid=\"rehearsal-burn\""),
        "{running}"
    );
    assert!(running.contains("<polyline"), "{running}");
    assert!(running.contains("MiB of memory now"), "{running}");
    let id = at.rsplit('/').next().unwrap();
    let res = post(
        &format!("/admin/rehearsals/{id}/cancel"),
        vec![("csrf", csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let cancelled_at = std::time::Instant::now();
    let page = page_when_over(&http, &format!("{base}{at}"), &cookie).await;
    assert!(
        cancelled_at.elapsed() < std::time::Duration::from_secs(60),
        "a cancel ends it soon"
    );
    assert!(page.contains("cancelled"), "{page}");
    assert!(page.contains("Nothing oversold, no order lost"), "{page}");
    assert!(copies_left(dir.path()).is_empty());

    // one whose process died mid-run: shown as failed, not refreshing forever
    let c = Connection::open(dir.path().join("holdfast.db")).unwrap();
    let long_ago = common::stamp(chrono::Utc::now() - chrono::Duration::minutes(10));
    c.execute(
        "INSERT INTO rehearsals (product_id, state, plan, started_at, beat_at) \
         VALUES (?1, 'running', '{}', ?2, ?2)",
        rusqlite::params![CARAMELS, long_ago],
    )
    .unwrap();
    let dead = c.last_insert_rowid();
    let page = page_when_over(&http, &format!("{base}/admin/rehearsals/{dead}"), &cookie).await;
    assert!(page.contains("stopped answering"), "{page}");
}

/// Every row of every shop table on Postgres (all but the rehearsals' own), hashed table by
/// table, and every sequence's value.
async fn pg_shop_tables(pool: &sqlx::PgPool) -> Vec<(String, String)> {
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
         AND tablename <> 'rehearsals' ORDER BY tablename",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut all = Vec::new();
    for (table,) in names {
        let (rows, hash): (i64, String) = sqlx::query_as(&format!(
            "SELECT COUNT(*), md5(COALESCE(string_agg(t::text, E'\\n' ORDER BY t::text), '')) \
             FROM \"{table}\" t"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        all.push((table, format!("{rows} rows {hash}")));
    }
    let sequences: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT sequencename::text, last_value FROM pg_sequences \
         WHERE schemaname = current_schema() AND sequencename <> 'rehearsals_id_seq' \
         ORDER BY sequencename",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    all.extend(
        sequences
            .into_iter()
            .map(|(s, v)| (s, format!("sequence at {v:?}"))),
    );
    all
}

async fn pg_copies_left(pool: &sqlx::PgPool, live: &str) -> Vec<String> {
    let copies: Vec<(String,)> =
        sqlx::query_as("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{live}_rehearsal_%"))
            .fetch_all(pool)
            .await
            .unwrap();
    copies.into_iter().map(|(d,)| d).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shop_on_postgres_rehearses_on_a_copy_database_and_keeps_serving() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_live, base) = start_server_with(dir.path(), &[("DATABASE_URL", &pg.url)]);
    let live = sqlx::PgPool::connect(&pg.url).await.unwrap();
    let start = chrono::Utc::now() + chrono::Duration::days(1);
    sqlx::query("UPDATE sales SET starts_at = $1, ends_at = $2")
        .bind(app::domain::At::from(start))
        .bind(app::domain::At::from(start + chrono::Duration::hours(2)))
        .execute(&live)
        .await
        .unwrap();
    // what an earlier rehearsal's process, killed, left behind: cleared by the next one
    let admin = sqlx::PgPool::connect(&pg.admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {}_rehearsal_999", pg.name))
        .execute(&admin)
        .await
        .unwrap();
    std::fs::create_dir(dir.path().join("rehearsal-998")).unwrap();
    // an operator's own table beside the shop's: left alone, not copied
    sqlx::query("CREATE TABLE operator_notes (id BIGSERIAL PRIMARY KEY, note TEXT)")
        .execute(&live)
        .await
        .unwrap();
    sqlx::query("INSERT INTO operator_notes (note) VALUES ('backup checked')")
        .execute(&live)
        .await
        .unwrap();
    let before = pg_shop_tables(&live).await;

    let out = rehearse_on(
        dir.path(),
        Some(&pg.url),
        &[
            "--product",
            "anchor-hoodie",
            "--shoppers",
            "1000",
            "--stock",
            "60",
            "--give-up",
            "10",
            "--json",
        ],
    );
    let report = report_of(&out);
    eprintln!("{report}");
    assert!(report.waiting_room, "the hoodie sells through its line");
    assert!(report.audit.holds(), "audit: {:?}", report.audit);
    assert_eq!(report.units_available, 60);
    assert_eq!(report.units_sold, 60, "exactly the units put up");
    assert_eq!((report.audit.oversold, report.audit.lost), (0, 0));
    assert_eq!(report.shoppers_done, 1000);
    assert_eq!(report.outcomes.get("ordered"), Some(&60));
    assert_eq!(report.outcomes.values().sum::<usize>(), 1000);

    // the live database: not a row nor a sequence changed; the report kept; no copy left
    assert_eq!(pg_shop_tables(&live).await, before);
    let kept: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT state, report FROM rehearsals ORDER BY id")
            .fetch_all(&live)
            .await
            .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].0, "finished");
    let kept: Report = serde_json::from_str(kept[0].1.as_deref().unwrap()).unwrap();
    assert_eq!(kept, report);
    assert_eq!(pg_copies_left(&admin, &pg.name).await, Vec::<String>::new());
    assert!(
        copies_left(dir.path()).is_empty(),
        "{:?}",
        copies_left(dir.path())
    );

    // a second one while the live shop takes orders: both audits hold
    let caramels = |live: sqlx::PgPool| async move {
        let (stock, sold): (i64, i64) = sqlx::query_as(
            "SELECT stock, (SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM order_lines \
             WHERE product_id = $1) FROM products WHERE id = $1",
        )
        .bind(CARAMELS)
        .fetch_one(&live)
        .await
        .unwrap();
        (stock, sold)
    };
    let (stock0, sold0) = caramels(live.clone()).await;
    let rehearsal = {
        let (dir, url) = (dir.path().to_owned(), pg.url.clone());
        std::thread::spawn(move || {
            rehearse_on(
                &dir,
                Some(&url),
                &[
                    "--product",
                    "sea-salt-caramels",
                    "--shoppers",
                    "600",
                    "--over",
                    "3",
                    "--stock",
                    "100",
                    "--json",
                ],
            )
        })
    };
    for _ in 0..300 {
        let running: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM rehearsals WHERE state = 'running'")
                .fetch_one(&live)
                .await
                .unwrap();
        if running > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    live_orders(&base, "pg-live-during-rehearsal", 10).await;
    let report = report_of(&rehearsal.join().unwrap());
    assert!(report.audit.holds(), "the copy's audit: {:?}", report.audit);
    assert_eq!(report.units_sold, 100);
    let counted = report.counted.as_ref().expect("the shop's metrics read");
    assert_eq!(
        counted.checkout_answers.get("ordered"),
        Some(&100),
        "{counted:?}"
    );
    assert!(
        counted
            .checkout_answers
            .get("sold_out")
            .copied()
            .unwrap_or(0)
            > 0
    );
    let (stock1, sold1) = caramels(live.clone()).await;
    assert_eq!(sold1 - sold0, 10, "the live orders kept");
    assert_eq!(
        stock1 + sold1,
        stock0 + sold0,
        "the live shop's units add up"
    );
    let rehearsal_keys: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys WHERE key LIKE 'rehearsal-%'")
            .fetch_one(&live)
            .await
            .unwrap();
    assert_eq!(
        rehearsal_keys, 0,
        "no rehearsal order reached the live shop"
    );
    assert_eq!(pg_copies_left(&admin, &pg.name).await, Vec::<String>::new());

    // a database user who may not create databases: told so, in words, and nothing changes
    let role = format!("{}_nocreate", pg.name);
    for statement in [
        format!("CREATE ROLE {role} LOGIN NOCREATEDB"),
        format!("GRANT ALL ON SCHEMA public TO {role}"),
        format!("GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}"),
    ] {
        sqlx::query(&statement).execute(&live).await.unwrap();
    }
    let before = pg_shop_tables(&live).await;
    let mut as_role = url::Url::parse(&pg.url).unwrap();
    as_role.set_username(&role).unwrap();
    as_role.set_password(None).unwrap();
    let as_role = as_role.to_string();
    let out = rehearse_on(
        dir.path(),
        Some(&as_role),
        &["--product", "anchor-hoodie", "--shoppers", "10", "--json"],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("CREATEDB"), "{said}");
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, error FROM rehearsals ORDER BY id DESC LIMIT 1")
            .fetch_one(&live)
            .await
            .unwrap();
    assert_eq!(state, "failed");
    assert!(error.unwrap_or_default().contains("CREATEDB"));
    assert_eq!(pg_shop_tables(&live).await, before);
    assert!(copies_left(dir.path()).is_empty());
    sqlx::query(&format!("DROP OWNED BY {role}"))
        .execute(&live)
        .await
        .unwrap();
    live.close().await;
    sqlx::query(&format!("DROP ROLE {role}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
}
