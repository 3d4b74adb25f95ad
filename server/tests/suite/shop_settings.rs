//! The owner's shop settings over real HTTP, on SQLite and Postgres: name, contact, currency,
//! time zone, default language and how to pay, saved at /admin/settings and seen by shoppers —
//! in the header, title and footer, in every price, on sale times, and with every order awaiting
//! payment (its code as the reference, its deadline on the shop's clock). Pictures live in the
//! database and are served by every server. A bad form changes nothing. On Postgres, a change
//! made on one server shows on another.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::common::Fetch;

use common::owner::{Owner, SECRET};
use common::{key, order_body, spawn_on, Kind, TestApp};
use reqwest::header::{ACCEPT_LANGUAGE, CONTENT_TYPE};
use serde_json::Value;

async fn shop(kind: Kind) -> TestApp {
    spawn_on(kind, &[("HOLDFAST_SECRET", SECRET)]).await
}

/// A picture posted to one of the settings' upload forms.
async fn upload(owner: &Owner<'_>, path: &str, file: Vec<u8>) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("csrf", owner.csrf.clone())
        .part(
            "picture",
            reqwest::multipart::Part::bytes(file).file_name("code.png"),
        );
    owner.post_multipart(path, form).await
}

/// A shopper's page in `lang` (None: a browser that names no language).
async fn page_in(base: &str, path: &str, lang: Option<&str>) -> String {
    let mut req = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(lang) = lang {
        req = req.header(ACCEPT_LANGUAGE, lang);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.unwrap()
}

/// The text of the element marked `data-testid="{id}"` in `html`.
fn testid<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let after = html.split(&format!("data-testid=\"{id}\"")).nth(1)?;
    let text = after.split_once('>')?.1;
    text.split('<').next()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::ImageBuffer::from_fn(width, height, |x, y| {
        image::Rgb([((x / 8) % 2 * 255) as u8, ((y / 8) % 2 * 255) as u8, 0])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

const SETTINGS: &[(&str, &str)] = &[
    ("name", "王姐的小店 </title><b>"),
    ("contact_phone", "138 0013 8000"),
    ("contact_wechat", "wangjie_shop"),
    ("contact_email", "wang@example.com"),
    ("default_language", "en"),
    ("currency", "USD"),
    ("time_zone", "America/New_York"),
    (
        "payment_text",
        "Pay with WeChat: scan the code.\r\n<script>alert(1)</script>",
    ),
];

async fn the_owners_settings_are_what_shoppers_see(kind: Kind) {
    let app = shop(kind).await;
    let base = app.url("");
    let base = base.trim_end_matches('/');

    // a new shop: Chinese by default, in yuan, under its default name
    let page = page_in(base, "/p/sea-salt-caramels", None).await;
    assert!(page.contains("<html lang=\"zh-CN\""), "{page}");
    assert!(page.contains("¥12.50"), "prices in yuan by default");
    assert!(page.contains("Holdfast 小店"));
    assert!(
        !page.contains("data-testid=\"contact\""),
        "no contact set yet"
    );

    let owner = Owner::new(&app).await;
    let version = app.count("SELECT version FROM shop_settings").await;

    // a bad form: every problem said at once (422), nothing saved
    let mut bad: Vec<(&str, &str)> = SETTINGS.to_vec();
    bad.retain(|(k, _)| !matches!(*k, "currency" | "time_zone" | "contact_phone"));
    bad.extend([
        ("currency", "GBP"),
        ("time_zone", "Beijing"),
        ("contact_phone", "12345"),
    ]);
    let res = owner.post("/admin/settings", &bad).await;
    assert_eq!(res.status(), 422);
    let text = res.text().await.unwrap();
    assert!(text.contains("Choose a currency"), "{text}");
    assert!(text.contains("not a time zone"), "{text}");
    assert!(text.contains("Contact phone"), "{text}");
    assert_eq!(
        app.count("SELECT version FROM shop_settings").await,
        version
    );

    // a good one
    let res = owner.post("/admin/settings", SETTINGS).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.count("SELECT version FROM shop_settings").await,
        version + 1
    );
    let form = owner.page("/admin/settings").await;
    assert!(form.contains("America/New_York"));
    assert!(
        form.contains("+86 138 0013 8000"),
        "the phone kept in one form"
    );
    assert!(
        !form.contains("<script>alert(1)</script>"),
        "the payment text is escaped inside its textarea"
    );

    // the shop, at once: in dollars, under the owner's name (as text), contact at the foot;
    // a browser that names no language gets the shop's default, now English
    let page = page_in(base, "/p/sea-salt-caramels", None).await;
    assert!(page.contains("<html lang=\"en\""), "the default language");
    assert!(page.contains("$12.50"), "prices in dollars");
    assert!(!page.contains("¥12.50"));
    assert!(
        page.contains("王姐的小店 &lt;/title&gt;&lt;b&gt;"),
        "the name, escaped"
    );
    let title = page
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next());
    assert_eq!(
        title,
        Some("Sea-Salt Caramels — 王姐的小店 &lt;/title&gt;&lt;b&gt;")
    );
    assert!(!page.contains("<b>"), "nothing the owner types is markup");
    assert!(page.contains("wangjie_shop") && page.contains("tel:+8613800138000"));
    assert!(page.contains("mailto:wang@example.com"));
    // a Chinese browser still gets Chinese, in dollars
    let zh = page_in(base, "/", Some("zh-CN")).await;
    assert!(zh.contains("<html lang=\"zh-CN\"") && zh.contains("$12.50"));

    // the payment code and the logo: checked, kept in the database, served for a year
    let res = upload(&owner, "/admin/settings/payment-picture", png(600, 600)).await;
    assert_eq!(res.status(), 303);
    let res = upload(&owner, "/admin/settings/logo", b"GIF89a not a png".to_vec()).await;
    assert_eq!(res.status(), 422, "not a picture");
    let res = upload(&owner, "/admin/settings/logo", png(512, 512)).await;
    assert_eq!(res.status(), 303);
    let page = page_in(base, "/", None).await;
    let logo = page
        .split("<link rel=\"icon\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    assert!(logo.starts_with("/shop-pictures/"), "{logo}");
    assert!(
        page.contains(&format!("<img src=\"{logo}\"")),
        "the logo in the header"
    );
    let res = app.get(&logo).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_TYPE], "image/png");
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let stored = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (stored.width(), stored.height()),
        (256, 256),
        "scaled, not cropped"
    );
    assert_eq!(app.get("/shop-pictures/0123").await.status(), 404);
    assert_eq!(
        app.get("/shop-pictures/00000000000000000000000000000000")
            .await
            .status(),
        404
    );

    // an order awaiting payment: how to pay, its code as the reference, the deadline (a day
    // after placing, the shop-wide window) on New York's clock
    let res = app.place_order(&order_body(&key(1), 2, 1)).await;
    assert_eq!(res.status(), 200);
    let order: Value = res.json().await.unwrap();
    let code = order["order_code"].as_str().unwrap().to_owned();
    let placed = chrono::DateTime::parse_from_rfc3339(order["created_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono_tz::America::New_York);
    let deadline = (placed + chrono::Duration::days(1))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let status = page_in(
        base,
        &format!("/status?code={code}&phone=%2B1%20555%20010%202030"),
        Some("en"),
    )
    .await;
    let payment = status
        .split("data-testid=\"payment\"")
        .nth(1)
        .expect("how to pay is shown");
    assert!(payment.contains("Pay with WeChat: scan the code."));
    assert!(payment.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(testid(payment, "pay-reference"), Some(code.as_str()));
    assert_eq!(
        testid(payment, "pay-by"),
        Some(deadline.as_str()),
        "{payment}"
    );
    assert!(payment.contains("America/New_York"));
    assert!(payment.contains("/shop-pictures/"), "the payment code");
    assert!(payment.contains("$12.50"));
    let api: Value = app
        .client
        .get(app.url(&format!(
            "/api/order_status?code={code}&phone=%2B1%20555%20010%202030"
        )))
        .fetch_json()
        .await;
    assert!(api["pay_by"].as_str().is_some(), "{api}");

    // once paid, nothing more to pay
    let res = owner
        .post(
            &format!("/admin/orders/{code}/status"),
            &[("from", "awaiting_payment"), ("to", "paid")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let status = page_in(
        base,
        &format!("/status?code={code}&phone=%2B1%20555%20010%202030"),
        Some("en"),
    )
    .await;
    assert!(!status.contains("data-testid=\"payment\""));

    // a sale typed on New York's clock is stored in UTC and shown back as typed
    let res = owner
        .post(
            "/admin/products/4/sale",
            &[
                ("starts_at", "2030-01-15T09:00"),
                ("ends_at", "2030-07-15T09:00"),
                ("sale_price", "20"),
                ("hold_minutes", "5"),
                ("pay_minutes", "15"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let (starts, ends): (app::domain::At, app::domain::At) = app
        .db
        .instants("SELECT starts_at, ends_at FROM sales WHERE product_id = 4")
        .await;
    // winter: UTC-5; summer: UTC-4
    assert_eq!(starts.to_string(), "2030-01-15T14:00:00.000Z");
    assert_eq!(ends.to_string(), "2030-07-15T13:00:00.000Z");
    let product = owner.page("/admin/products/4").await;
    assert!(
        product.contains("value=\"2030-01-15T09:00\""),
        "shown back as typed"
    );
    assert!(product.contains("value=\"2030-07-15T09:00\""));
}

http_contract_tests!(the_owners_settings_are_what_shoppers_see);

/// Two servers on one Postgres database: the owner changes the currency on one, and the
/// other's pages show it within its catalogue window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_server_shows_on_every_server() {
    let Some(pg) = common::shop::PgDatabase::create().await else {
        return;
    };
    let url = pg.url.clone();
    let first = shop(Kind::Postgres(pg)).await;
    let dir = tempfile::tempdir().unwrap();
    let (_second, second) = common::start_server_with(
        dir.path(),
        &[("DATABASE_URL", url.as_str()), ("HOLDFAST_SECRET", SECRET)],
    );
    assert!(page_in(&second, "/", Some("en")).await.contains("¥12.50"));
    let owner = Owner::new(&first).await;
    let mut form: Vec<(&str, &str)> = SETTINGS.to_vec();
    form.retain(|(k, _)| *k != "currency");
    form.push(("currency", "EUR"));
    assert_eq!(owner.post("/admin/settings", &form).await.status(), 303);
    let started = std::time::Instant::now();
    loop {
        let page = page_in(&second, "/", Some("en")).await;
        if page.contains("€12.50") && page.contains("王姐的小店") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the other server still shows the old settings"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    println!(
        "the second server showed the change after {} ms",
        started.elapsed().as_millis()
    );
}
