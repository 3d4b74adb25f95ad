//! Shoppers' pages hear the shop live, over real HTTP against the real server: a page listening
//! on `/live/products` is told its products' stock badges at once and each change within a
//! second of the commit (on another server of the shop too, on Postgres), the look that makes a
//! page redraw itself changes when the product sells out, bad asks get a 400, a server full of
//! listeners turns the next one to polling, and a stopping server ends its streams.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::live::ProductNews;
use common::{key, order_body, spawn_app, spawn_app_with, start_server_with};
use std::time::{Duration, Instant};

const CARAMELS: i64 = 2;

/// One page's open stream: its events, read as they arrive.
struct Stream {
    res: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(base: &str, ids: &str) -> Stream {
        let res = reqwest::Client::new()
            .get(format!("{base}/live/products?ids={ids}"))
            .header("accept-language", "en")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Stream {
            res,
            buffer: String::new(),
        }
    }

    /// The next `stock` event's news, waiting at most `within`.
    async fn next(&mut self, within: Duration) -> Option<ProductNews> {
        let deadline = Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if !event.lines().any(|l| l == "event: stock") {
                    continue;
                }
                let data = event.lines().find_map(|l| l.strip_prefix("data: "))?;
                return Some(serde_json::from_str(data).unwrap());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.res.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listening_page_hears_each_sale_within_a_second_and_sold_out_changes_its_look() {
    let app = spawn_app().await;
    app.set_stock(CARAMELS, 3).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut page = Stream::open(&app.base, &CARAMELS.to_string()).await;
    let first = page
        .next(Duration::from_secs(3))
        .await
        .expect("told at once");
    assert_eq!(first.id, CARAMELS);
    assert_eq!(first.badge, "Only 3 left");

    // (how soon is measured by `surge --scenario live`, not here: a timed test flakes)
    let res = app.place_order(&order_body(&key(1), CARAMELS, 1)).await;
    assert_eq!(res.status(), 200);
    let after = page
        .next(Duration::from_secs(5))
        .await
        .expect("told of the sale");
    assert_eq!(after.badge, "Only 2 left");
    assert_eq!(
        after.look, first.look,
        "two left: the same page, a new badge"
    );

    let res = app.place_order(&order_body(&key(2), CARAMELS, 2)).await;
    assert_eq!(res.status(), 200);
    let gone = page
        .next(Duration::from_secs(5))
        .await
        .expect("told it sold out");
    assert_eq!(gone.badge, "Sold out");
    assert_eq!(gone.class, "badge badge-soldout");
    assert_ne!(
        gone.look, first.look,
        "sold out: the page redraws (no buy button)"
    );

    // the product page drawn now carries the look the stream told
    let html = app.get("/p/sea-salt-caramels").await.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"data-look="{}""#, gone.look)),
        "the page and the stream agree on its look"
    );
    assert!(html.contains(&format!(r#"id="stock-{CARAMELS}""#)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_asks_are_refused_and_a_full_server_turns_listeners_to_polling() {
    let app = spawn_app_with(&[("HOLDFAST_MAX_LIVE", "1")]).await;
    for bad in [
        "",
        "x",
        "0",
        "1,-2",
        &(1..=65)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(","),
    ] {
        let res = app.get(&format!("/live/products?ids={bad}")).await;
        assert_eq!(res.status(), 400, "ids={bad}");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let _first = Stream::open(&app.base, "1,2").await;
    let second = app.get("/live/products?ids=1,2").await;
    assert_eq!(second.status(), 204, "over the cap: told not to stream");
    assert!(second.headers().contains_key("retry-after"));
    // ...and asks instead
    let polled = app.get("/live/products?ids=2,1,99&poll=1").await;
    assert_eq!(polled.status(), 200);
    let news: Vec<ProductNews> = polled.json().await.unwrap();
    assert_eq!(
        news.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![2, 1],
        "the asked products the shop shows, in the order asked"
    );
}

/// A server with pages listening stops when told to (its streams end), not when they leave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_server_ends_its_streams_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, base) = start_server_with(dir.path(), &[]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut page = Stream::open(&base, "1,2").await;
    assert!(page.next(Duration::from_secs(3)).await.is_some());
    let pid = server.id().to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(stopped.success());
    let started = Instant::now();
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server waited on its open stream"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two servers of one shop on Postgres: a unit sold on one is heard by a page on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_one_server_hears_a_sale_on_another() {
    let Some(pg) = common::shop::PgDatabase::create().await else {
        return;
    };
    let secret = "live-test-secret-0123456789abcdefghijkl";
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let env = [
        ("DATABASE_URL", pg.url.as_str()),
        ("HOLDFAST_SECRET", secret),
    ];
    let (_a, base_a) = start_server_with(dir_a.path(), &env);
    let (_b, base_b) = start_server_with(dir_b.path(), &env);
    let db = sqlx::PgPool::connect(&pg.url).await.unwrap();
    sqlx::query("UPDATE products SET stock = 4 WHERE id = $1")
        .bind(CARAMELS)
        .execute(&db)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut page = Stream::open(&base_b, &CARAMELS.to_string()).await;
    assert_eq!(
        page.next(Duration::from_secs(3)).await.unwrap().badge,
        "Only 4 left"
    );
    let res = reqwest::Client::new()
        .post(format!("{base_a}/api/place_order"))
        .json(&order_body(&key(7), CARAMELS, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let heard = page
        .next(Duration::from_secs(5))
        .await
        .expect("server B heard");
    assert_eq!(heard.badge, "Only 3 left");
    db.close().await;
}
