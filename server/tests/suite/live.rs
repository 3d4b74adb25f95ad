//! Shoppers' pages hear the shop live, over real HTTP against the real server: a page listening
//! on `/live/products` is told its products' stock badges at once and each change within a
//! second of the commit (on another server of the shop too, on Postgres), the look that makes a
//! page redraw itself changes when the product sells out, bad asks get a 400, a server full of
//! listeners turns the next one to polling, and a stopping server ends its streams.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::common::Fetch;

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
        Stream::at(base, &format!("/live/products?ids={ids}")).await
    }

    async fn at(base: &str, path: &str) -> Stream {
        let res = reqwest::Client::new()
            .get(format!("{base}{path}"))
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
        let data = self.next_named("stock", within).await?;
        Some(serde_json::from_str(&data).unwrap())
    }

    /// The data of the next event (of any name) as `(name, data)`, waiting at most `within`.
    async fn next_any(&mut self, within: Duration) -> Option<(String, String)> {
        let deadline = Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let Some(name) = event.lines().find_map(|l| l.strip_prefix("event: ")) else {
                    continue; // a comment or a retry alone
                };
                let data = event.lines().find_map(|l| l.strip_prefix("data: "))?;
                return Some((name.to_owned(), data.to_owned()));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.res.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// The data of the next event named `name` (others are skipped).
    async fn next_named(&mut self, name: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let (got, data) = self.next_any(left).await?;
            if got == name {
                return Some(data);
            }
        }
    }
}

/// The value of the first `name="…"` attribute after `after` in a page.
fn attribute<'p>(page: &'p str, after: &str, name: &str) -> &'p str {
    let from = page
        .find(after)
        .unwrap_or_else(|| panic!("no {after} in {page}"));
    let rest = &page[from..];
    let start = rest.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = rest[start..].find('"').unwrap();
    &rest[start..start + end]
}

/// What the live feed of the server at `base` tells of product `id` once `holds` is true of it
/// (asked as a page without a stream asks: `poll=1`); the feed reads the shop every 250 ms.
async fn told_when(
    base: &str,
    id: i64,
    what: &str,
    holds: impl Fn(&ProductNews) -> bool,
) -> ProductNews {
    let client = reqwest::Client::new();
    let url = format!("{base}/live/products?ids={id}&poll=1");
    common::eventually(Duration::from_secs(10), what, || async {
        let res = client
            .get(&url)
            .header("accept-language", "en")
            .send()
            .await
            .ok()?;
        if res.status() != 200 {
            return None;
        }
        let news: Vec<ProductNews> = res.json().await.ok()?;
        news.into_iter().find(|n| n.id == id && holds(n))
    })
    .await
}

/// Orders (key number, units) of the caramels, then waits for the page's next news.
async fn bought_then_told(
    app: &common::TestApp,
    page: &mut Stream,
    (n, units): (usize, i64),
    what: &str,
) -> ProductNews {
    let res = app.place_order(&order_body(&key(n), CARAMELS, units)).await;
    assert_eq!(res.status(), 200);
    page.next(Duration::from_secs(5)).await.expect(what)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listening_page_hears_each_sale_within_a_second_and_sold_out_changes_its_look() {
    let app = spawn_app().await;
    app.set_stock(CARAMELS, 3).await;
    // a new count reaches pages within COUNTS_EVERY + one reading (server::live::feed)
    told_when(&app.base, CARAMELS, "the new count", |n| {
        n.badge == "Only 3 left"
    })
    .await;
    let mut page = Stream::open(&app.base, &CARAMELS.to_string()).await;
    let first = page
        .next(Duration::from_secs(3))
        .await
        .expect("told at once");
    assert_eq!(first.id, CARAMELS);
    assert_eq!(first.badge, "Only 3 left");

    // (how soon is measured by `surge --scenario live`, not here: a timed test flakes)
    let after = bought_then_told(&app, &mut page, (1, 1), "told of the sale").await;
    assert_eq!(after.badge, "Only 2 left");
    assert_eq!(
        after.look, first.look,
        "two left: the same page, a new badge"
    );

    let gone = bought_then_told(&app, &mut page, (2, 2), "told it sold out").await;
    assert_eq!(gone.badge, "Sold out");
    assert_eq!(gone.class, "badge badge-soldout");
    assert_ne!(
        gone.look, first.look,
        "sold out: the page redraws (no buy button)"
    );

    // the product page drawn after the catalogue's cache (250 ms) has caught up, as the page's
    // script waits before it redraws, carries the look the stream told
    let look = format!(r#"data-look="{}""#, gone.look);
    let html = app
        .page_when(
            "/p/sea-salt-caramels",
            "the page and the stream agree on its look",
            |p| p.contains(&look),
        )
        .await;
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
    told_when(&app.base, 1, "the feed's first reading", |_| true).await;
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
    told_when(&base, 1, "the feed's first reading", |_| true).await;
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
    told_when(
        &base_b,
        CARAMELS,
        "the other server reads the new count",
        |n| n.badge == "Only 4 left",
    )
    .await;
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

/// The seconds in an estimate's "m:ss".
fn eta_secs(text: &str) -> i64 {
    let colon = text
        .rfind(':')
        .unwrap_or_else(|| panic!("no m:ss in {text}"));
    let minutes: i64 = text[..colon].rsplit(' ').next().unwrap().parse().unwrap();
    let seconds: i64 = text[colon + 1..colon + 3].parse().unwrap();
    minutes * 60 + seconds
}

/// The text of the element whose opening tag has `marker`.
fn text_of(page: &str, marker: &str) -> String {
    let from = page
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {page}"));
    let rest = &page[from..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    rest[start..start + end]
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
}

/// A waiting shopper's page hears its place move up and then its turn, from one reading of the
/// line per tick; at the turn its page is the hold's checkout, titled for the turn, with the
/// first field focused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_page_hears_its_place_and_its_turn() {
    let app = spawn_app().await;
    app.set_stock(CARAMELS, 2).await;
    app.set_sale(CARAMELS, common::Sale::default()).await;
    let first = app.joined(CARAMELS, 2, "+15550100031").await;
    assert_eq!(first["state"], "admitted");
    let second = app.joined(CARAMELS, 1, "+15550100032").await;
    let third = app.joined(CARAMELS, 1, "+15550100033").await;
    assert_eq!(third["position"], 2, "{third}");
    let ticket = third["ticket"].as_str().unwrap();

    let page = app.page_text(&format!("/queue/{ticket}")).await;
    let src = attribute(&page, "data-src=\"/live/line", "data-src").replace("&amp;", "&");
    assert_eq!(src, format!("/live/line?t={ticket}"));
    let mut stream = Stream::at(&app.base, &src).await;

    app.leave_line(second["ticket"].as_str().unwrap()).await;
    let place = stream
        .next_named("place", Duration::from_secs(5))
        .await
        .expect("told the new place");
    let place: serde_json::Value = serde_json::from_str(&place).unwrap();
    assert_eq!(place["position"], 1, "{place}");
    // none free: her turn comes when the first shopper's hold (300 s) runs out, in the page's
    // own words — and the page drawn now says the same
    let told = place["eta"].as_str().unwrap();
    assert!(told.starts_with("Units come free"), "{told}");
    let told_secs = eta_secs(told);
    assert!((290..=301).contains(&told_secs), "{told}");
    let page = app.page_text(&format!("/queue/{ticket}")).await;
    let drawn = text_of(&page, r#"data-testid="eta""#);
    assert!(
        (eta_secs(&drawn) - told_secs).abs() <= 2,
        "{drawn} / {told}"
    );

    app.leave_line(first["ticket"].as_str().unwrap()).await;
    let (name, _) = stream
        .next_any(Duration::from_secs(5))
        .await
        .expect("told the turn");
    assert_eq!(name, "turn");

    let page = app.page_text(&format!("/queue/{ticket}")).await;
    assert!(page.contains("data-state=\"admitted\""), "{page}");
    let title = &page[page.find("<title>").unwrap()..page.find("</title>").unwrap()];
    assert!(
        title.contains("your turn!"),
        "the tab tells the turn: {title}"
    );
    let name_input = &page[page.find(r#"id="name""#).unwrap()..];
    let name_input = &name_input[..name_input.find('>').unwrap()];
    assert!(name_input.contains("autofocus"), "{name_input}");

    // a ticket that is already served is told its turn at once
    let mut again = Stream::at(&app.base, &src).await;
    assert_eq!(
        again.next_any(Duration::from_secs(3)).await.map(|e| e.0),
        Some("turn".to_owned())
    );
    for forged in ["", "T1.00", &format!("{ticket}x")] {
        let res = app.get(&format!("/live/line?t={forged}")).await;
        assert_eq!(res.status(), 400, "t={forged}");
    }

    // a ticket that is gone (its row deleted): the stream opens, tells the turn, and the page
    // that loads then says the ticket is not found, with no stream of its own (no reload loop)
    // (paused by the owner: a new shopper waits)
    app.db
        .exec(&format!(
            "INSERT INTO brakes (product_id, paused_at, paused_by) \
             VALUES ({CARAMELS}, '2026-01-01T00:00:00.000Z', 'test')"
        ))
        .await;
    let gone = app.joined(CARAMELS, 1, "+15550100034").await;
    assert_eq!(gone["state"], "waiting", "{gone}");
    let gone = gone["ticket"].as_str().unwrap();
    let page = app.page_text(&format!("/queue/{gone}")).await;
    assert!(
        page.contains("data-src=\"/live/line"),
        "waiting: it listens"
    );
    app.db
        .exec("DELETE FROM queue_tickets WHERE id = (SELECT MAX(id) FROM queue_tickets)")
        .await;
    let mut told = Stream::at(&app.base, &format!("/live/line?t={gone}")).await;
    assert_eq!(
        told.next_any(Duration::from_secs(3)).await.map(|e| e.0),
        Some("turn".to_owned())
    );
    let page = app.page_text(&format!("/queue/{gone}")).await;
    assert!(!page.contains("/live/line"), "gone: nothing to listen to");
}

/// An order's page hears the owner's changes: paid, then shipped with its tracking number,
/// which the page then shows; a made-up token is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_page_hears_the_owner_ship_it() {
    let app = common::owner::shop(common::Kind::Sqlite).await;
    let owner = common::owner::Owner::new(&app).await;
    let res = app.place_order(&order_body(&key(31), CARAMELS, 1)).await;
    assert_eq!(res.status(), 200);
    let placed: serde_json::Value = res.json().await.unwrap();
    let code = placed["order_code"].as_str().unwrap().to_owned();
    let lookup = format!("/status?code={code}&phone=%2B15550102030");
    let page = app.page_text(&lookup).await;
    let src = attribute(&page, "data-src=\"/live/order", "data-src").to_owned();
    let look = attribute(&page, "data-src=\"/live/order", "data-look").to_owned();
    assert_eq!(look, app::live::order_look("awaiting_payment", ""));
    assert!(!page.contains("tracking-number"));
    let mut stream = Stream::at(&app.base, &src).await;

    let paid = owner
        .post(
            &format!("/admin/orders/{code}/status"),
            &[("from", "awaiting_payment"), ("to", "paid")],
        )
        .await;
    assert_eq!(paid.status(), 303);
    let heard = stream
        .next_named("order", Duration::from_secs(5))
        .await
        .expect("told it is paid");
    assert_eq!(
        heard,
        format!(r#"{{"look":"{}"}}"#, app::live::order_look("paid", ""))
    );
    let shipped = owner
        .post(
            &format!("/admin/orders/{code}/status"),
            &[
                ("from", "paid"),
                ("to", "shipped"),
                ("tracking", "SF1234567890"),
            ],
        )
        .await;
    assert_eq!(shipped.status(), 303);
    let heard = stream
        .next_named("order", Duration::from_secs(5))
        .await
        .expect("told it shipped");
    assert!(heard.contains(&app::live::order_look("shipped", "SF1234567890")));
    let page = app.page_text(&lookup).await;
    assert!(
        page.contains(r#"<strong data-testid="tracking-number">SF1234567890</strong>"#),
        "{page}"
    );
    // a phone without EventSource asks instead
    let polled: serde_json::Value = app
        .get(&format!("{src}&poll=1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        polled["look"],
        app::live::order_look("shipped", "SF1234567890")
    );
    // a token for another order cannot be made up
    let forged = src.replacen("t=", "t=0", 1);
    assert_eq!(app.get(&forged).await.status(), 400);
    let bare = format!("/live/order?t=.{code}");
    assert_eq!(app.get(&bare).await.status(), 400);
}

/// A sale's countdown reaching zero is news: the look changes when the sale opens (the page's
/// script then draws the page again), and the page drawn then has the buy button.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_hears_its_sale_open_when_the_countdown_reaches_zero() {
    let app = spawn_app().await;
    let selling = told_when(&app.base, CARAMELS, "the feed's first reading", |_| true).await;
    app.set_sale(
        CARAMELS,
        common::Sale {
            starts_in_secs: 2,
            waiting_room: false,
            ..common::Sale::default()
        },
    )
    .await;
    // not before the start, once the catalogue has read the sale
    app.page_when(
        "/p/sea-salt-caramels",
        "the page without its buy button",
        |p| !p.contains("Add to cart"),
    )
    .await;
    // and the live feed too (it reads the shop on its own)
    told_when(
        &app.base,
        CARAMELS,
        "the feed has read the sale ahead",
        |n| n.look != selling.look,
    )
    .await;
    let mut page = Stream::open(&app.base, &CARAMELS.to_string()).await;
    let first = page
        .next(Duration::from_secs(3))
        .await
        .expect("told at once");
    let opened = loop {
        let news = page
            .next(Duration::from_secs(6))
            .await
            .expect("told when the sale opens");
        if news.look != first.look {
            break news;
        }
    };
    assert_eq!(opened.id, CARAMELS);
    let after = app.page_text("/p/sea-salt-caramels").await;
    assert!(
        after.contains("Add to cart"),
        "the page drawn again can buy"
    );
}

/// The owner's brake shows on an open product page: pulling it changes the look (the page
/// draws itself again, saying checkout is paused), releasing it changes it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_hears_the_owner_pause_and_resume_checkout() {
    let app = common::owner::shop(common::Kind::Sqlite).await;
    let owner = common::owner::Owner::new(&app).await;
    told_when(&app.base, CARAMELS, "the feed's first reading", |_| true).await;
    let mut page = Stream::open(&app.base, &CARAMELS.to_string()).await;
    let first = page
        .next(Duration::from_secs(3))
        .await
        .expect("told at once");
    let shown = app.page_text("/p/sea-salt-caramels").await;
    assert!(!shown.contains(r#"data-testid="paused""#));

    let brake = |action: &'static str| {
        let owner = &owner;
        async move {
            let res = owner
                .post("/admin/brake", &[("scope", "2"), ("action", action)])
                .await;
            assert_eq!(res.status(), 303, "{action}");
        }
    };
    brake("pause").await;
    let paused = page
        .next(Duration::from_secs(5))
        .await
        .expect("told of the pause");
    assert_ne!(paused.look, first.look, "the page draws itself again");
    // (the page's script waits out the catalogue cache's quarter second before drawing again)
    app.page_when("/p/sea-salt-caramels", "the redrawn page says so", |p| {
        p.contains(r#"data-testid="paused""#)
    })
    .await;

    brake("resume").await;
    let resumed = page
        .next(Duration::from_secs(5))
        .await
        .expect("told of the resume");
    assert_eq!(resumed.look, first.look);
    app.page_when("/p/sea-salt-caramels", "the page drawn again sells", |p| {
        !p.contains(r#"data-testid="paused""#)
    })
    .await;
}

/// A waiting page's stream reads its ticket on every connect: a client that reconnects without
/// end is held to its allowance like the status it stands for (429 + Retry-After), and the
/// product news, read from memory, is not limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_a_waiting_stream_without_end_is_rate_limited() {
    let app = spawn_app_with(&[("HOLDFAST_RATE_LIMIT_PER_SEC", "1")]).await;
    app.set_sale(CARAMELS, common::Sale::default()).await;
    // (joining takes one of the burst of ten)
    let joined = app.joined(CARAMELS, 1, "+15550100041").await;
    let ticket = joined["ticket"].as_str().unwrap();
    let mut codes = Vec::new();
    for _ in 0..12 {
        let res = app.get(&format!("/live/line?t={ticket}")).await;
        codes.push((
            res.status().as_u16(),
            res.headers().contains_key("retry-after"),
        ));
    }
    assert!(
        codes[..9].iter().all(|(c, _)| *c == 200),
        "the rest of a burst of ten: {codes:?}"
    );
    assert!(codes[9..].iter().all(|c| *c == (429, true)), "{codes:?}");
    for _ in 0..12 {
        assert_eq!(app.get("/live/products?ids=2&poll=1").await.status(), 200);
    }
}

/// A page that joined the line before the sale started has no place to show yet (the line is
/// drawn at the start); at the start its stream tells it its place without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_waiting_for_the_start_is_told_its_place_when_the_line_is_drawn() {
    let app = spawn_app().await;
    // one unit, two shoppers: at the start one is admitted, the other waits first in line
    app.set_stock(CARAMELS, 1).await;
    app.set_sale(
        CARAMELS,
        common::Sale {
            starts_in_secs: 3,
            ..common::Sale::default()
        },
    )
    .await;
    let mut streams = Vec::new();
    for phone in ["+15550100051", "+15550100052"] {
        let joined = app.joined(CARAMELS, 1, phone).await;
        assert_eq!(joined["state"], "waiting", "{joined}");
        assert!(
            joined["position"].is_null(),
            "no place before the draw: {joined}"
        );
        let ticket = joined["ticket"].as_str().unwrap().to_owned();
        streams.push(Stream::at(&app.base, &format!("/live/line?t={ticket}")).await);
    }
    let started = Instant::now();
    // at the start each is told its place in the line drawn (positions 1 and 2)...
    let mut first = Vec::new();
    for stream in &mut streams {
        let place = stream
            .next_named("place", Duration::from_secs(8))
            .await
            .expect("told its place at the start");
        let place: serde_json::Value = serde_json::from_str(&place).unwrap();
        assert!(place["eta"].is_string(), "{place}");
        first.push(place["position"].as_u64().unwrap());
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "not before the start: {:?}",
        started.elapsed()
    );
    first.sort_unstable();
    assert_eq!(first, vec![1, 2]);
    // ...then the first in line is admitted (its turn) and the other moves up to 1
    let mut last = Vec::new();
    for stream in &mut streams {
        let mut seen = None;
        while let Some((name, data)) = stream.next_any(Duration::from_secs(2)).await {
            let done = name == "turn";
            seen = Some((name, data));
            if done {
                break;
            }
        }
        last.push(seen);
    }
    let turns = last
        .iter()
        .filter(|e| e.as_ref().is_some_and(|(n, _)| n == "turn"))
        .count();
    assert_eq!(turns, 1, "{last:?}");
    let moved_up = last
        .iter()
        .flatten()
        .find(|(name, _)| name == "place")
        .unwrap_or_else(|| panic!("the other is told it moved up: {last:?}"));
    assert!(moved_up.1.contains(r#""position":1"#), "{moved_up:?}");
}

/// One client holding many streams cannot take every live place: past its own cap it is told
/// to poll (204, not an error), while another client still streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_take_every_live_place() {
    let app = spawn_app_with(&[
        ("HOLDFAST_MAX_LIVE_PER_CLIENT", "3"),
        ("HOLDFAST_TRUST_PROXY", "true"),
    ])
    .await;
    let from = |ip: &'static str| {
        let client = reqwest::Client::new();
        let url = app.url("/live/products?ids=1");
        async move {
            client
                .get(url)
                .header("x-forwarded-for", ip)
                .send()
                .await
                .unwrap()
        }
    };
    let mut held = Vec::new();
    for _ in 0..3 {
        let res = from("203.0.113.9").await;
        assert_eq!(res.status(), 200);
        held.push(res);
    }
    let over = from("203.0.113.9").await;
    assert_eq!(over.status(), 204, "over its own cap: told to poll");
    assert!(over.headers().contains_key("retry-after"));
    let other = from("198.51.100.4").await;
    assert_eq!(other.status(), 200, "another client still streams");
    drop(held.pop());
    let from = &from;
    let again = common::eventually(
        Duration::from_secs(5),
        "a stream closed is a place again",
        || async move {
            let res = from("203.0.113.9").await;
            (res.status() == 200).then_some(res)
        },
    )
    .await;
    drop(again);
}

/// A page without JavaScript that reloads itself while it waits is asked to wait longer while
/// the server is nearly full of connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_page_without_javascript_reloads_less_often_when_the_server_is_full() {
    let app = spawn_app_with(&[("HOLDFAST_MAX_CONNECTIONS", "10")]).await;
    app.set_stock(CARAMELS, 1).await;
    app.set_sale(CARAMELS, common::Sale::default()).await;
    // the one unit is held for the first: the second waits first in line
    assert_eq!(
        app.joined(CARAMELS, 1, "+15550100060").await["state"],
        "admitted"
    );
    let joined = app.joined(CARAMELS, 1, "+15550100061").await;
    let ticket = joined["ticket"].as_str().unwrap().to_owned();
    let refresh = |page: &str| -> u64 {
        let at = page
            .find("http-equiv=\"refresh\"")
            .unwrap_or_else(|| panic!("no refresh in {page}"));
        let rest = &page[at..];
        let start = rest.find("content=\"").unwrap() + 9;
        let end = rest[start..].find('"').unwrap();
        rest[start..start + end].parse().unwrap()
    };
    let get = || async {
        // a fresh connection each time: the client's pool is not what is measured
        reqwest::Client::new()
            .get(app.url(&format!("/queue/{ticket}")))
            .fetch_text()
            .await
    };
    let usual = refresh(&get().await);
    assert_eq!(usual, 3, "first in line: every 3 s");
    // 8 idle connections of 10: past 80 %
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(
            tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
                .await
                .unwrap(),
        );
    }
    // once the server has accepted them: four times as long
    let strained = common::eventually(
        Duration::from_secs(5),
        "a longer wait when nearly full",
        || async {
            let strained = refresh(&get().await);
            (strained != usual).then_some(strained)
        },
    )
    .await;
    assert_eq!(strained, 12, "four times as long");
    drop(idle);
    common::eventually(
        Duration::from_secs(5),
        "back to usual once they close",
        || async { (refresh(&get().await) == 3).then_some(()) },
    )
    .await;
}
