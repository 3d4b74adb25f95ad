//! The owner's products over real HTTP, on SQLite and Postgres: creating and editing (what the
//! shop then shows and charges), stock adjustments with their reason in the log (and exactly as
//! many as the stock allows when they race), the per-order limit, archiving, pictures uploaded
//! and served, and the flash-sale settings with their rules. Every refusal changes nothing.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::common::Fetch;

use common::owner::{Owner, SECRET};
use common::{key, order_body, spawn_on, Kind, TestApp};
use reqwest::header::COOKIE;
use serde_json::Value;

/// A shop whose catalogue cache is off, so every change is seen by the next request.
async fn shop(kind: Kind) -> TestApp {
    spawn_on(
        kind,
        &[
            ("HOLDFAST_SECRET", SECRET),
            ("HOLDFAST_CATALOGUE_CACHE_MS", "0"),
        ],
    )
    .await
}

/// A picture posted to a product with the CSRF token given (some tests give a wrong one).
async fn upload(
    owner: &Owner<'_>,
    product: i64,
    csrf: &str,
    file: Vec<u8>,
    name: &str,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .text("alt", "The mug on the harbour wall")
        .part(
            "picture",
            reqwest::multipart::Part::bytes(file).file_name(name.to_owned()),
        );
    owner
        .post_multipart(&format!("/admin/products/{product}/pictures"), form)
        .await
}

async fn shop_product(app: &TestApp, slug: &str) -> Option<Value> {
    let res = app.get(&format!("/api/product?slug={slug}")).await;
    (res.status() == 200).then_some(res.json().await.unwrap())
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

async fn audit(app: &TestApp, product: i64, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM product_audit WHERE product_id = {product} AND action = '{action}'"
    ))
    .await
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::ImageBuffer::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 120])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn a_new_product_is_sold_at_its_price_and_bad_forms_change_nothing(kind: Kind) {
    let app = shop(kind).await;
    let owner = Owner::new(&app).await;
    let before = app.count("SELECT COUNT(*) FROM products").await;

    let bad = owner
        .post(
            "/admin/products",
            &[
                ("name", ""),
                ("price", "12.345"),
                ("stock", "-4"),
                ("max_per_order", "0"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let page = bad.text().await.unwrap();
    assert!(page.contains("Give the product a name"), "{page}");
    assert!(page.contains("not an amount like 12.50"));
    assert!(page.contains("The stock is a whole number"));
    let taken = owner
        .post(
            "/admin/products",
            &[("name", "Mug"), ("slug", "harbour-mug"), ("price", "5")],
        )
        .await;
    assert_eq!(taken.status(), 422);
    assert!(taken
        .text()
        .await
        .unwrap()
        .contains("/p/harbour-mug is taken"));
    assert_eq!(app.count("SELECT COUNT(*) FROM products").await, before);

    let created = owner
        .post(
            "/admin/products",
            &[
                ("name", "Tide Clock"),
                ("price", "$1,234.50"),
                ("stock", "7"),
                ("description", "Tells high water, not the time."),
                ("max_per_order", ""),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let at = location(&created);
    let id: i64 = at.trim_start_matches("/admin/products/").parse().unwrap();
    assert!(owner.page(&at).await.contains("Tide Clock"));
    assert!(owner
        .page("/admin/products")
        .await
        .contains("/p/tide-clock"));

    let shown = shop_product(&app, "tide-clock").await.expect("in the shop");
    assert_eq!(shown["price_cents"], 123_450);
    assert_eq!(shown["stock"], 7);
    assert_eq!(shown["image_url"], "/images/placeholder.svg");
    assert_eq!(app.get("/p/tide-clock").await.status(), 200);

    let order = app.place_order(&order_body(&key(1), id, 2)).await;
    assert_eq!(order.status(), 200);
    let order: Value = order.json().await.unwrap();
    assert_eq!(order["total_cents"], 246_900);
    assert_eq!(app.stock(id).await, 5);
    assert_eq!(audit(&app, id, "created").await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT stock_after FROM product_audit WHERE product_id = {id} AND action = 'stock'"
        ))
        .await,
        7,
        "the opening stock is logged"
    );
}

async fn an_edit_changes_what_the_shop_shows_and_charges_and_is_logged(kind: Kind) {
    let app = shop(kind).await;
    let owner = Owner::new(&app).await;
    // product 3 is the Harbour Mug at ¥18.00; Chinese shoppers read the demo's Chinese name
    let zh_page = |slug: &'static str| {
        let url = app.url(&format!("/p/{slug}"));
        async move {
            reqwest::Client::new()
                .get(url)
                .header("accept-language", "zh-CN")
                .fetch_text()
                .await
        }
    };
    assert!(zh_page("harbour-mug").await.contains("<h1>港湾马克杯</h1>"));
    let edited = owner
        .post(
            "/admin/products/3",
            &[
                ("name", "Big Harbour Mug"),
                ("slug", "big-harbour-mug"),
                ("price", "21"),
                ("description", "Now 500 ml."),
                ("max_per_order", "2"),
            ],
        )
        .await;
    assert_eq!(edited.status(), 303);
    assert!(
        shop_product(&app, "harbour-mug").await.is_none(),
        "old address"
    );
    let shown = shop_product(&app, "big-harbour-mug").await.unwrap();
    assert_eq!(shown["name"], "Big Harbour Mug");
    // the owner's new words are the product's in every language
    let zh = zh_page("big-harbour-mug").await;
    assert!(
        zh.contains("<h1>Big Harbour Mug</h1>") && zh.contains("Now 500 ml."),
        "{zh}"
    );
    assert_eq!(shown["price_cents"], 2100);

    // the per-order limit: three in one order is refused before anything is taken
    let stock = app.stock(3).await;
    let three = app.place_order(&order_body(&key(1), 3, 3)).await;
    assert_eq!(three.status(), 422);
    let body: Value = three.json().await.unwrap();
    assert_eq!(body["kind"], "invalid_input");
    assert!(
        body["message"].as_str().unwrap().contains("At most 2"),
        "{body}"
    );
    assert_eq!(app.stock(3).await, stock);
    let two = app.place_order(&order_body(&key(2), 3, 2)).await;
    assert_eq!(two.status(), 200);
    let two: Value = two.json().await.unwrap();
    assert_eq!(two["total_cents"], 4200, "charged the new price");

    let log = owner.page("/admin/products/3").await;
    assert!(log.contains("price ¥18.00 → ¥21.00"), "{log}");
    assert!(log.contains("per-order limit none → 2"));
    assert_eq!(audit(&app, 3, "edited").await, 1);

    let bad = owner
        .post("/admin/products/3", &[("name", "Mug"), ("price", "free")])
        .await;
    assert_eq!(bad.status(), 422);
    assert_eq!(app.price(3).await, 2100, "a bad edit changes nothing");
    let missing = owner
        .post("/admin/products/999", &[("name", "Mug"), ("price", "1")])
        .await;
    assert_eq!(missing.status(), 404);
}

async fn stock_adjustments_need_a_reason_never_go_below_zero_and_race_safely(kind: Kind) {
    let app = shop(kind).await;
    let owner = Owner::new(&app).await;
    // product 4, the beanie, has 4 in stock
    let added = owner
        .post(
            "/admin/products/4/stock",
            &[("delta", "+6"), ("reason", "Knitted six more")],
        )
        .await;
    assert_eq!(added.status(), 303);
    assert_eq!(app.stock(4).await, 10);

    for (delta, reason, status) in [
        ("3", "", 422),
        ("3", "ok", 422),
        ("0", "Counted again", 422),
        ("lots", "Counted again", 422),
        ("-11", "Moths", 409),
    ] {
        let res = owner
            .post(
                "/admin/products/4/stock",
                &[("delta", delta), ("reason", reason)],
            )
            .await;
        assert_eq!(res.status(), status, "{delta} / {reason}");
    }
    assert_eq!(app.stock(4).await, 10, "refusals change nothing");
    assert_eq!(audit(&app, 4, "stock").await, 1);

    // ten owners' tabs each take one away from 10 while shoppers buy: never below zero, each
    // success logged with the stock it left
    app.exec("UPDATE products SET stock = 5 WHERE id = 4").await;
    let mut set = tokio::task::JoinSet::new();
    for n in 0..10 {
        let (client, url, cookie, csrf) = (
            app.client.clone(),
            app.url("/admin/products/4/stock"),
            owner.cookie.clone(),
            owner.csrf.clone(),
        );
        set.spawn(async move {
            let reason = format!("Damaged in the shop window ({n})");
            client
                .post(url)
                .header(COOKIE, cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("delta", "-1"),
                    ("reason", &reason),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut answers = Vec::new();
    while let Some(s) = set.join_next().await {
        answers.push(s.unwrap());
    }
    assert_eq!(
        answers.iter().filter(|s| **s == 303).count(),
        5,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|s| **s == 409).count(),
        5,
        "{answers:?}"
    );
    assert_eq!(app.stock(4).await, 0);
    assert_eq!(audit(&app, 4, "stock").await, 6);
    assert_eq!(
        app.count(
            "SELECT MIN(stock_after) FROM product_audit WHERE product_id = 4 AND action = 'stock'"
        )
        .await,
        0
    );
    let page = owner.page("/admin/products/4").await;
    assert!(
        page.contains("Knitted six more"),
        "the reason is in the log"
    );
}

async fn an_archived_product_leaves_the_shop_and_comes_back_when_restored(kind: Kind) {
    let app = shop(kind).await;
    let owner = Owner::new(&app).await;
    let archived = owner
        .post("/admin/products/6/archive", &[("archived", "yes")])
        .await;
    assert_eq!(archived.status(), 303);
    assert!(shop_product(&app, "beeswax-candle").await.is_none());
    assert_eq!(app.get("/p/beeswax-candle").await.status(), 404);
    let listed: Vec<Value> = app.get("/api/products").await.json().await.unwrap();
    assert!(listed.iter().all(|p| p["id"] != 6));
    let stock = app.stock(6).await;
    let refused = app.place_order(&order_body(&key(1), 6, 1)).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(app.stock(6).await, stock, "nothing taken");
    assert!(owner.page("/admin/products").await.contains("archived"));

    // a product with a sale announced cannot be archived (product 5 has one)
    let on_sale = owner
        .post("/admin/products/5/archive", &[("archived", "yes")])
        .await;
    assert_eq!(on_sale.status(), 409);
    assert!(shop_product(&app, "lighthouse-print").await.is_some());
    let nonsense = owner
        .post("/admin/products/6/archive", &[("archived", "maybe")])
        .await;
    assert_eq!(nonsense.status(), 422);

    let restored = owner
        .post("/admin/products/6/archive", &[("archived", "no")])
        .await;
    assert_eq!(restored.status(), 303);
    assert!(shop_product(&app, "beeswax-candle").await.is_some());
    assert_eq!(
        app.place_order(&order_body(&key(2), 6, 1)).await.status(),
        200
    );
    assert_eq!(audit(&app, 6, "archived").await, 1);
    assert_eq!(audit(&app, 6, "restored").await, 1);
}

async fn a_picture_from_a_phone_is_checked_resized_and_served_for_a_year(kind: Kind) {
    let app = shop(kind).await;
    let owner = Owner::new(&app).await;
    let pictures = "SELECT COUNT(*) FROM product_images WHERE product_id = 3";
    let before = app.count(pictures).await;

    // not a picture, whatever its name says; no token; an unreadable half picture
    let text = upload(
        &owner,
        3,
        &owner.csrf,
        b"just some text".to_vec(),
        "mug.jpg",
    )
    .await;
    assert_eq!(text.status(), 422);
    assert!(text.text().await.unwrap().contains("JPEG, PNG or WebP"));
    let no_token = upload(&owner, 3, "", png(800, 600), "mug.png").await;
    assert_eq!(no_token.status(), 403);
    let half = png(800, 600);
    let half = half[..half.len() / 2].to_vec();
    assert_eq!(
        upload(&owner, 3, &owner.csrf, half, "mug.png")
            .await
            .status(),
        422
    );
    let mut huge = png(800, 600);
    huge.resize(16 * 1024 * 1024, 0);
    assert_eq!(
        upload(&owner, 3, &owner.csrf, huge, "huge.png")
            .await
            .status(),
        413
    );
    assert_eq!(app.count(pictures).await, before, "refusals store nothing");

    // a portrait phone picture, 1200 × 1600
    let up = upload(&owner, 3, &owner.csrf, png(1200, 1600), "IMG_0042.PNG").await;
    assert_eq!(up.status(), 303);
    let shown = shop_product(&app, "harbour-mug").await.unwrap();
    let card = shown["image_url"].as_str().unwrap().to_owned();
    assert!(
        card.starts_with("/media/") && card.ends_with("-s.jpg"),
        "{card}"
    );
    let images = shown["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "the upload replaces the demo drawings");
    assert_eq!(images[0]["alt"], "The mug on the harbour wall");
    let large = images[0]["url"].as_str().unwrap().to_owned();
    for (url, size) in [(&card, (640, 480)), (&large, (1280, 960))] {
        let res = app.get(url).await;
        assert_eq!(res.status(), 200, "{url}");
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let bytes = res.bytes().await.unwrap();
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), size, "{url}");
    }
    assert_eq!(app.get("/media/../holdfast.db").await.status(), 404);
    assert_eq!(app.get("/media/nothing-s.jpg").await.status(), 404);
    assert!(app
        .get("/media/nothing-s.jpg")
        .await
        .headers()
        .get("cache-control")
        .is_none());

    // a second picture goes after it; removing the first makes the second the card
    assert_eq!(
        upload(&owner, 3, &owner.csrf, png(640, 480), "b.png")
            .await
            .status(),
        303
    );
    assert_eq!(app.count(pictures).await, 2);
    let removed = owner
        .post("/admin/products/3/pictures/remove", &[("position", "0")])
        .await;
    assert_eq!(removed.status(), 303);
    let shown = shop_product(&app, "harbour-mug").await.unwrap();
    let second = shown["images"][0]["url"].as_str().unwrap();
    assert_ne!(second, large);
    assert_eq!(shown["image_url"], second.replace("-l.jpg", "-s.jpg"));
    assert_eq!(audit(&app, 3, "picture").await, 3);
}

async fn a_sale_is_scheduled_changed_within_its_rules_and_ended(kind: Kind) {
    let app = shop(kind).await;
    let owner = Owner::new(&app).await;
    // typed on the shop's clock: a new shop's is China's (UTC+8, no summer time)
    let fmt = |t: chrono::DateTime<chrono::Utc>| {
        (t + chrono::Duration::hours(8))
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let now = chrono::Utc::now();
    let (start, end) = (
        fmt(now - chrono::Duration::minutes(1)),
        fmt(now + chrono::Duration::days(1)),
    );

    for (form, problem) in [
        (
            vec![
                ("starts_at", end.as_str()),
                ("ends_at", start.as_str()),
                ("sale_price", "10"),
                ("hold_minutes", "5"),
            ],
            "end",
        ),
        (
            vec![
                ("starts_at", start.as_str()),
                ("ends_at", end.as_str()),
                ("sale_price", "99"),
                ("hold_minutes", "5"),
            ],
            "above the normal price",
        ),
        (
            vec![
                ("starts_at", "tomorrow"),
                ("ends_at", end.as_str()),
                ("sale_price", "10"),
                ("hold_minutes", "500"),
            ],
            "Holds last 1 to 60 minutes",
        ),
    ] {
        let res = owner.post("/admin/products/2/sale", &form).await;
        assert!(matches!(res.status().as_u16(), 409 | 422), "{form:?}");
        assert!(res.text().await.unwrap().contains(problem), "{problem}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sales WHERE product_id = 2")
            .await,
        0
    );

    // the caramels ($12.50) go on sale now at $10, through the waiting room, 2 per customer
    let scheduled = owner
        .post(
            "/admin/products/2/sale",
            &[
                ("starts_at", start.as_str()),
                ("ends_at", end.as_str()),
                ("sale_price", "10.00"),
                ("per_customer_limit", "2"),
                ("waiting_room", "on"),
                ("hold_minutes", "3"),
            ],
        )
        .await;
    assert_eq!(scheduled.status(), 303);
    let shown = shop_product(&app, "sea-salt-caramels").await.unwrap();
    assert_eq!(shown["sale"]["sale_price_cents"], 1000);
    assert_eq!(shown["sale"]["waiting_room"], true);
    assert_eq!(shown["sale"]["hold_seconds"], 180);
    let direct = app.place_order(&order_body(&key(1), 2, 1)).await;
    assert_eq!(direct.status(), 409);
    let direct: Value = direct.json().await.unwrap();
    assert_eq!(direct["kind"], "queue_required");

    // the per-order limit holds in the line too: three when two is the most is refused
    app.exec("UPDATE products SET max_per_order = 2 WHERE id = 2")
        .await;
    let tickets = app.count("SELECT COUNT(*) FROM queue_tickets").await;
    let three = app
        .client
        .post(app.url("/api/queue/join"))
        .json(&serde_json::json!({"product_id": 2, "quantity": 3, "phone": "+1 555 010 2030"}))
        .send()
        .await
        .unwrap();
    assert_eq!(three.status(), 422);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM queue_tickets").await,
        tickets
    );

    // a shopper joins the line; the running sale keeps its waiting room and limit
    let join = app
        .client
        .post(app.url("/api/queue/join"))
        .json(&serde_json::json!({"product_id": 2, "quantity": 1, "phone": "+1 555 010 2030"}))
        .send()
        .await
        .unwrap();
    assert_eq!(join.status(), 200);
    let later = fmt(now + chrono::Duration::days(2));
    let changed = owner
        .post(
            "/admin/products/2/sale",
            &[
                ("starts_at", start.as_str()),
                ("ends_at", later.as_str()),
                ("sale_price", "9.50"),
                ("per_customer_limit", ""),
                ("hold_minutes", "10"),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303);
    let shown = shop_product(&app, "sea-salt-caramels").await.unwrap();
    assert_eq!(shown["sale"]["sale_price_cents"], 950);
    assert_eq!(shown["sale"]["waiting_room"], true, "kept while running");
    assert_eq!(shown["sale"]["per_customer_limit"], 2, "kept while running");
    // typed on the shop's clock, stored in UTC
    let later_utc = (now + chrono::Duration::days(2))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    assert!(shown["sale"]["ends_at"]
        .as_str()
        .unwrap()
        .starts_with(&later_utc));

    let ended = owner.post("/admin/products/2/sale/end", &[]).await;
    assert_eq!(ended.status(), 303);
    let shown = shop_product(&app, "sea-salt-caramels").await.unwrap();
    assert!(shown["sale"].is_null(), "{shown}");
    let after = app.place_order(&order_body(&key(2), 2, 1)).await;
    assert_eq!(after.status(), 200);
    let after: Value = after.json().await.unwrap();
    assert_eq!(after["total_cents"], 1250, "the normal price again");
    assert_eq!(
        owner.post("/admin/products/2/sale/end", &[]).await.status(),
        409
    );
    assert_eq!(audit(&app, 2, "sale").await, 3);

    // an upcoming sale with people already in line cannot be called off (the print's sale
    // starts in 15 minutes; someone joins before the draw)
    let upcoming_start = fmt(now + chrono::Duration::hours(1));
    let upcoming = owner
        .post(
            "/admin/products/5/sale",
            &[
                ("starts_at", upcoming_start.as_str()),
                ("ends_at", end.as_str()),
                ("sale_price", "19"),
                ("waiting_room", "on"),
                ("hold_minutes", "5"),
            ],
        )
        .await;
    assert_eq!(upcoming.status(), 303);
    let join = app
        .client
        .post(app.url("/api/queue/join"))
        .json(&serde_json::json!({"product_id": 5, "quantity": 1, "phone": "+1 555 010 2031"}))
        .send()
        .await
        .unwrap();
    assert_eq!(join.status(), 200);
    let call_off = owner.post("/admin/products/5/sale/end", &[]).await;
    assert_eq!(call_off.status(), 409);
    let no_room = owner
        .post(
            "/admin/products/5/sale",
            &[
                ("starts_at", upcoming_start.as_str()),
                ("ends_at", end.as_str()),
                ("sale_price", "19"),
                ("hold_minutes", "5"),
            ],
        )
        .await;
    assert_eq!(no_room.status(), 409);
    assert!(no_room
        .text()
        .await
        .unwrap()
        .contains("waiting room stays on"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sales WHERE product_id = 5 AND waiting_room")
            .await,
        1
    );
}

http_contract_tests!(
    a_new_product_is_sold_at_its_price_and_bad_forms_change_nothing,
    an_edit_changes_what_the_shop_shows_and_charges_and_is_logged,
    stock_adjustments_need_a_reason_never_go_below_zero_and_race_safely,
    an_archived_product_leaves_the_shop_and_comes_back_when_restored,
    a_picture_from_a_phone_is_checked_resized_and_served_for_a_year,
    a_sale_is_scheduled_changed_within_its_rules_and_ended,
);
