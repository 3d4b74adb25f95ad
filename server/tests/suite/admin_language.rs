//! The owner's pages in her language, over real HTTP: the same choice as a shopper's (the
//! `hf_lang` cookie, else the browser's languages, else the shop's default), on every page, form
//! error, refusal, the control room and the CSV export; the log kept in the words it was written
//! in; a product named only in Chinese gets an address of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::owner::{shop, Owner, EMAIL};
use common::{key, order_body, Kind};
use reqwest::header::COOKIE;

/// The same owner, her browser having chosen Chinese on the switch.
fn in_chinese<'a>(owner: &Owner<'a>) -> Owner<'a> {
    Owner {
        app: owner.app,
        cookie: format!("{}; hf_lang=zh-CN", owner.cookie),
        csrf: owner.csrf.clone(),
    }
}

async fn page(owner: &Owner<'_>, path: &str) -> (u16, String) {
    let res = owner.get(path).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The words a person reads on an HTML page: no tags, scripts, styles or attribute values.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let tail = &rest[open..];
        let skip_to = if tail.starts_with("<script") {
            tail.find("</script>").map(|i| i + 9)
        } else if tail.starts_with("<style") {
            tail.find("</style>").map(|i| i + 8)
        } else {
            tail.find('>').map(|i| i + 1)
        };
        rest = skip_to.map_or("", |i| &tail[i..]);
    }
    out.push_str(rest);
    out
}

/// English words (four letters or more) left on a page meant to be Chinese, apart from names
/// that are the same in both languages and the products' own words (the demo's are English).
fn english_left(html: &str, product_names: &str) -> Vec<String> {
    const SAME_IN_BOTH: &[&str] = &[
        "Holdfast",
        "English",
        "JPEG",
        "WebP",
        "Asia/Shanghai",
        "Shanghai",
        "Asia",
        "harbour",
        "example",
        "owner",
        "p95",
    ];
    visible_text(html)
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 4 && !SAME_IN_BOTH.contains(w))
        .filter(|w| !EMAIL.contains(w) && !product_names.contains(w))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_owner_page_speaks_chinese_when_she_chose_it() {
    let app = shop(Kind::Sqlite).await;
    let owner = Owner::new(&app).await;
    let zh = in_chinese(&owner);
    let listed: Vec<serde_json::Value> = app.get("/api/products").await.json().await.unwrap();
    let names: String = listed
        .iter()
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
            format!(
                "{} {} {} ",
                field("name"),
                field("slug"),
                field("description")
            )
        })
        .collect();
    for (path, words) in [
        ("/admin", "我的店铺"),
        ("/admin/products", "新建商品"),
        ("/admin/products/new", "创建商品"),
        ("/admin/products/5", "秒杀"),
        ("/admin/settings", "店铺设置"),
        ("/admin/live", "实时监控"),
        ("/admin/orders", "没有符合条件的订单"),
    ] {
        let (status, html) = page(&zh, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.contains(r#"<html lang="zh-CN""#), "{path}");
        assert!(html.contains(words), "{path}: {words}");
        let left = english_left(&html, &names);
        assert!(left.is_empty(), "{path} still says {left:?}");
        // the switch leads back to this page in English
        assert!(
            html.contains(&format!(r#"href="/language/en?back={path}""#)),
            "{path}"
        );
    }
    // the same pages in English for an owner whose browser asks for it (the test client's own
    // `Accept-Language: en`), with no Chinese left on them
    let (_, home) = page(&owner, "/admin").await;
    assert!(home.contains(r#"<html lang="en""#) && home.contains("The shop"));
    assert!(!home.contains("我的店铺"));
}

#[tokio::test]
async fn form_errors_and_refusals_are_in_her_language() {
    let app = shop(Kind::Sqlite).await;
    let owner = Owner::new(&app).await;
    let zh = in_chinese(&owner);

    // every problem with a product form, in Chinese, and nothing created
    let before = app.count("SELECT COUNT(*) FROM products").await;
    let res = zh
        .post(
            "/admin/products",
            &[("name", ""), ("price", "12.345"), ("slug", "Not OK")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("请填写商品名称"), "{html}");
    assert!(html.contains("价格：“12.345”不是有效的金额"), "{html}");
    assert!(html.contains("网址只能由"), "{html}");
    assert_eq!(app.count("SELECT COUNT(*) FROM products").await, before);

    // a product named only in Chinese gets an address of its own, and its log is in Chinese
    let res = zh
        .post(
            "/admin/products",
            &[("name", "桂花糕"), ("price", "18"), ("stock", "5")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let at = res.headers()["location"].to_str().unwrap().to_owned();
    let (_, detail) = page(&zh, &at).await;
    assert!(
        detail.contains("桂花糕") && detail.contains("初始库存"),
        "{detail}"
    );
    assert!(
        detail.contains("href=\"/p/p-"),
        "an address made for it: {detail}"
    );
    let slug_at = detail.find("href=\"/p/p-").unwrap() + 9;
    let slug: String = detail[slug_at..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let api = app.get(&format!("/api/product?slug={slug}")).await;
    let api_status = api.status();
    let api_body = api.text().await.unwrap();
    let shop_page = app.get(&format!("/p/{slug}")).await;
    assert_eq!(
        shop_page.status(),
        200,
        "shoppers find it at /p/{slug}: {api_status} {api_body}"
    );

    // the sale rules' refusal (a shared rule, told in her words and currency)
    let id = at.rsplit('/').next().unwrap().to_owned();
    let later = |h: i64| {
        (chrono::Utc::now() + chrono::Duration::hours(8 + h))
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let res = zh
        .post(
            &format!("/admin/products/{id}/sale"),
            &[
                ("starts_at", &later(1)),
                ("ends_at", &later(2)),
                ("sale_price", "30"),
                ("hold_minutes", "5"),
            ],
        )
        .await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("秒杀价（¥30.00）高于原价（¥18.00）"),
        "{html}"
    );

    // a refused stock change and an unknown product
    let res = zh
        .post(
            &format!("/admin/products/{id}/stock"),
            &[("delta", "-9"), ("reason", "盘点")],
        )
        .await;
    assert_eq!(res.status(), 409, "盘点 (two characters) is a reason");
    assert!(res.text().await.unwrap().contains("最多只能减少 5 件"));
    let res = zh
        .post(
            &format!("/admin/products/{id}/stock"),
            &[("delta", "-1"), ("reason", "盘")],
        )
        .await;
    assert_eq!(res.status(), 422, "one character is not");
    assert!(res.text().await.unwrap().contains("请说明库存变化的原因"));
    let (status, html) = page(&zh, "/admin/products/9999").await;
    assert_eq!(status, 404);
    assert!(html.contains("这里什么都没有"), "{html}");

    // the settings form
    let res = zh
        .post(
            "/admin/settings",
            &[
                ("currency", "GBP"),
                ("default_language", "zh-CN"),
                ("time_zone", "Beijing"),
                ("contact_phone", "12345"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("请选择币种"), "{html}");
    assert!(html.contains("“Beijing”不是时区"), "{html}");
    assert!(html.contains("联系电话："), "{html}");

    // a form from another site
    let res = app
        .client
        .post(app.url("/admin/logout"))
        .header(COOKIE, &zh.cookie)
        .header("origin", "https://evil.example")
        .form(&[("csrf", zh.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("表单已过期"));
}

#[tokio::test]
async fn the_login_page_follows_the_browser() {
    let app = shop(Kind::Sqlite).await;
    Owner::new(&app).await;
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = bare
        .post(app.url("/admin/login"))
        .header("accept-language", "zh-CN,zh;q=0.9")
        .form(&[
            ("email", EMAIL),
            ("password", "not the password"),
            ("next", "/admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let html = res.text().await.unwrap();
    assert!(html.contains("邮箱或密码错误"), "{html}");
    assert!(html.contains(r#"<html lang="zh-CN""#));
    let res = bare
        .get(app.url("/admin/login"))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains(">Log in</h1>"));
}

#[tokio::test]
async fn the_orders_and_their_export_are_in_her_language() {
    let app = shop(Kind::Sqlite).await;
    let owner = Owner::new(&app).await;
    let zh = in_chinese(&owner);
    let res = app.place_order(&order_body(&key(1), 2, 1)).await;
    assert_eq!(res.status(), 200);
    let code = res.json::<serde_json::Value>().await.unwrap()["order_code"]
        .as_str()
        .unwrap()
        .to_owned();

    let (_, list) = page(&zh, "/admin/orders").await;
    assert!(list.contains("待付款") && list.contains("订单号"), "{list}");
    let (_, detail) = page(&zh, &format!("/admin/orders/{code}")).await;
    assert!(detail.contains("标记为已付款") && detail.contains("取消并退回库存"));
    let res = zh
        .post(
            &format!("/admin/orders/{code}/status"),
            &[("from", "awaiting_payment"), ("to", "paid")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, detail) = page(&zh, &format!("/admin/orders/{code}")).await;
    assert!(
        detail.contains(&format!("待付款 → 已付款 (店主 {EMAIL})")),
        "the history in her words: {detail}"
    );
    // a step that no longer applies: refused in her words, nothing changed
    let res = zh
        .post(
            &format!("/admin/orders/{code}/status"),
            &[("from", "awaiting_payment"), ("to", "paid")],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("此订单现在是「已付款」"));

    let csv = zh.get("/admin/orders.csv").await;
    let text = csv.text().await.unwrap();
    assert!(
        text.starts_with("\u{feff}\"订单号\",\"下单时间（Asia/Shanghai）\",\"下单时间（UTC）\",\"状态\",\"收货人\",\"电话\",\"地址\",\"备注\",\"商品\",\"金额（CNY）\",\"金额（最小单位，如分）\",\"快递单号\"\r\n"),
        "{text}"
    );
    assert!(
        text.contains(",\"已付款\","),
        "the status in her words: {text}"
    );
    // placed on the shop's clock beside the UTC stamp
    let row = text.lines().nth(1).unwrap();
    let cells: Vec<&str> = row.split(',').map(|c| c.trim_matches('"')).collect();
    let utc = chrono::DateTime::parse_from_rfc3339(cells[2]).unwrap();
    let local = (utc + chrono::Duration::hours(8))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    assert_eq!(cells[1], local, "{row}");

    // English for the owner whose browser asks for it
    let en = owner.get("/admin/orders.csv").await;
    let text = en.text().await.unwrap();
    assert!(
        text.starts_with("\u{feff}\"Code\",\"Placed (Asia/Shanghai)\",\"Placed (UTC)\",\"Status\",\"Customer\",\"Phone\",\"Address\",\"Note\",\"Items\",\"Total (CNY)\",\"Total (minor units)\",\"Tracking number\"\r\n"),
        "{text}"
    );
    assert!(text.contains(",\"Paid\","), "{text}");
}
