//! The shop in the shopper's language, over real HTTP: the browser's languages on a first visit,
//! the switch (a plain link, no JavaScript), the choice kept in a cookie, `<html lang>`, and
//! pages from the page cache never served in another shopper's language.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::common::Fetch;

use common::{key, order_body, spawn_app, TestApp};

/// A page as a browser sending only `headers` gets it (the test client's own English aside).
async fn page(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut req = bare.get(app.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let cache = res
        .headers()
        .get("x-page-cache")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.text().await.unwrap(), cache)
}

const ZH_BROWSER: (&str, &str) = ("accept-language", "zh-CN,zh;q=0.9,en;q=0.8");
const EN_BROWSER: (&str, &str) = ("accept-language", "en-GB,en;q=0.9");

#[tokio::test]
async fn a_first_visit_reads_the_browsers_language() {
    let app = spawn_app().await;
    app.set_stock(3, 3).await;
    let (zh, _) = page(&app, "/", &[ZH_BROWSER]).await;
    assert!(zh.contains(r#"<html lang="zh-CN""#), "{zh}");
    assert!(zh.contains("全部商品"));
    assert!(zh.contains("仅剩 3 件"), "the stock badge speaks Chinese");
    assert!(
        zh.contains(r#"href="/language/en?back=/""#),
        "the switch leads to English"
    );

    let (en, _) = page(&app, "/", &[EN_BROWSER]).await;
    assert!(en.contains(r#"<html lang="en""#));
    assert!(en.contains("Only 3 left"));
    assert!(!en.contains("全部商品"));
    assert!(en.contains(r#"href="/language/zh-CN?back=/""#));

    // a browser that names neither: the Chinese shop's own language
    let (neither, _) = page(&app, "/p/harbour-mug", &[("accept-language", "fr-FR")]).await;
    assert!(neither.contains(r#"<html lang="zh-CN""#));
    assert!(neither.contains(r#"href="/language/en?back=/p/harbour-mug""#));
}

#[tokio::test]
async fn the_switch_keeps_the_choice_and_goes_back_to_the_page() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/language/en?back=/p/harbour-mug"))
        .header(ZH_BROWSER.0, ZH_BROWSER.1)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/p/harbour-mug");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("hf_lang=en;"), "{cookie}");
    assert!(cookie.contains("Max-Age=31536000"), "{cookie}");

    // the choice beats the browser's languages
    let (page_en, _) = page(
        &app,
        "/p/harbour-mug",
        &[ZH_BROWSER, ("cookie", "hf_lang=en")],
    )
    .await;
    assert!(page_en.contains(r#"<html lang="en""#));

    // a way back that leaves the shop, or a language it does not speak
    for evil in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let res = app
            .client
            .get(app.url("/language/zh-CN"))
            .query(&[("back", evil)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/", "{evil}");
    }
    let res = app.get("/language/fr?back=/").await;
    assert_eq!(res.status(), 404);
    assert!(res.headers().get("set-cookie").is_none());
    // a cookie naming nonsense is ignored: the browser's language stands
    let (nonsense, _) = page(&app, "/", &[EN_BROWSER, ("cookie", "hf_lang=<script>")]).await;
    assert!(nonsense.contains(r#"<html lang="en""#));
}

#[tokio::test]
async fn a_cached_page_is_never_served_in_another_shoppers_language() {
    let app = spawn_app().await;
    let mut seen = Vec::new();
    for (round, who) in [ZH_BROWSER, EN_BROWSER, ZH_BROWSER, EN_BROWSER]
        .into_iter()
        .enumerate()
    {
        for path in ["/", "/p/anchor-hoodie"] {
            let (html, cache) = page(&app, path, &[who]).await;
            let chinese = html.contains(r#"<html lang="zh-CN""#);
            assert_eq!(chinese, who == ZH_BROWSER, "round {round} {path}");
            assert_eq!(html.contains("全部商品") || html.contains("商品"), chinese);
            seen.push(cache);
        }
    }
    // the first two rounds rendered each page once per language; the last two were served
    // from memory
    assert_eq!(seen[4..], ["hit", "hit", "hit", "hit"], "{seen:?}");
    // the same page told apart by a shared cache in front
    let res = app.client.get(app.url("/")).send().await.unwrap();
    let vary = res.headers()["vary"].to_str().unwrap().to_owned();
    assert!(
        vary.contains("accept-language") && vary.contains("cookie"),
        "{vary}"
    );
}

/// The JSON API answers in the request's language and keeps its machine-readable parts.
#[tokio::test]
async fn errors_are_told_in_the_shoppers_language_with_the_same_kind() {
    let app = spawn_app().await;
    let bare = reqwest::Client::new();
    let order = |phone: &str, product: i64| {
        serde_json::json!({
            "idempotency_key": format!("language-test-key-{product}-{}", phone.len()),
            "lines": [{"product_id": product, "quantity": 1}],
            "customer": {"name": "李小梅", "phone": phone, "address": "浙江省义乌市稠城街道 88 号", "note": ""}
        })
    };
    let ask = |body: serde_json::Value, lang: &'static str| {
        bare.post(app.url("/api/place_order"))
            .header("accept-language", lang)
            .json(&body)
            .send()
    };
    let zh = ask(order("12345", 2), "zh-CN").await.unwrap();
    assert_eq!(zh.status(), 422);
    let zh: serde_json::Value = zh.json().await.unwrap();
    let en = ask(order("12345", 2), "en").await.unwrap();
    assert_eq!(en.status(), 422);
    let en: serde_json::Value = en.json().await.unwrap();
    assert_eq!(zh["kind"], "invalid_input");
    assert_eq!(zh["kind"], en["kind"]);
    assert_eq!(zh["fields"][0]["field"], en["fields"][0]["field"]);
    assert_eq!(
        zh["fields"][0]["message"],
        "请填写 11 位中国大陆手机号（如 138 0013 8000），或以 + 和国家代码开头的其他国家号码。"
    );
    assert!(en["fields"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("Please enter an 11-digit Chinese mobile number"));

    // the founders' print is sold out: the same facts, in Chinese
    let zh = ask(order("138 0013 8000", 10), "zh-CN").await.unwrap();
    assert_eq!(zh.status(), 409);
    let zh: serde_json::Value = zh.json().await.unwrap();
    assert_eq!(zh["kind"], "sold_out");
    assert_eq!(zh["available"], 0);
    assert_eq!(zh["message"], "抱歉，Founders' Edition Print 已售罄。");
}

/// The demo catalogue speaks both languages: names and descriptions in Chinese for a Chinese
/// browser, in English for an English one.
#[tokio::test]
async fn the_demo_catalogue_is_in_both_languages() {
    let app = spawn_app().await;
    let (zh, _) = page(&app, "/", &[ZH_BROWSER]).await;
    assert!(zh.contains("海盐焦糖") && zh.contains("港湾马克杯"), "{zh}");
    assert!(!zh.contains(">Sea-Salt Caramels<"), "no English name shown");
    let (en, _) = page(&app, "/", &[EN_BROWSER]).await;
    assert!(en.contains("Sea-Salt Caramels") && !en.contains("海盐焦糖"));
    let (zh, _) = page(&app, "/p/sea-salt-caramels", &[ZH_BROWSER]).await;
    assert!(zh.contains("<h1>海盐焦糖</h1>"));
    assert!(
        zh.contains("alt=\"海盐焦糖\""),
        "the picture described in Chinese too"
    );
    assert!(zh.contains("撒上本地海盐片"));
    let title = zh
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next());
    assert_eq!(title, Some("海盐焦糖 — Holdfast 小店"));
}

#[tokio::test]
async fn an_order_names_its_demo_products_in_the_shoppers_language() {
    let app = spawn_app().await;
    let res = app.place_order(&order_body(&key(1), 3, 1)).await;
    assert_eq!(res.status(), 200);
    let placed: serde_json::Value = res.json().await.unwrap();
    let code = placed["order_code"].as_str().unwrap();
    let path = format!("/api/order_status?code={code}&phone=%2B1%20555%20010%202030");
    let bare = reqwest::Client::new();
    let line_name = |lang: &'static str| {
        let (bare, url) = (bare.clone(), app.url(&path));
        async move {
            let v: serde_json::Value = bare
                .get(url)
                .header("accept-language", lang)
                .fetch_json()
                .await;
            v["lines"][0]["product_name"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(line_name("zh-CN").await, "港湾马克杯");
    assert_eq!(line_name("en").await, "Harbour Mug");
    // renamed by the owner since: the order keeps the name it was bought under
    app.exec("UPDATE products SET name = 'Harbour Mug (large)' WHERE id = 3")
        .await;
    app.exec("DELETE FROM product_texts WHERE product_id = 3")
        .await;
    // once the catalogue has read it (every 250 ms), the Chinese name is gone
    let renamed = crate::common::eventually(
        std::time::Duration::from_secs(10),
        "the catalogue without the Chinese name",
        || async {
            let name = line_name("zh-CN").await;
            (name != "港湾马克杯").then_some(name)
        },
    )
    .await;
    assert_eq!(renamed, "Harbour Mug");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_place_in_line_names_the_product_in_the_shoppers_language() {
    let app = spawn_app().await;
    app.set_sale(1, common::Sale::default()).await;
    let joined = |lang: &'static str, phone: &'static str| {
        let (client, url) = (reqwest::Client::new(), app.url("/api/queue/join"));
        async move {
            let v: serde_json::Value = client
                .post(url)
                .header("accept-language", lang)
                .json(&serde_json::json!({"product_id": 1, "quantity": 1, "phone": phone}))
                .fetch_json()
                .await;
            v["product_name"].as_str().unwrap_or_default().to_owned()
        }
    };
    assert_eq!(
        joined("zh-CN", "+8613800138001").await,
        "船锚连帽卫衣（限量）"
    );
    assert_eq!(
        joined("en", "+8613800138002").await,
        "Anchor Hoodie (limited run)"
    );
}
