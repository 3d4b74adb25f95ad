//! The rendered-page cache, against the real server: the catalogue and product pages are rendered
//! once per change and served from memory, in brotli or gzip, with a validator; what a shopper did
//! never shows on another shopper's page; every other page is marked not to be kept.
// in test code a panic is how a test reports failure
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::spawn_app;
use reqwest::header::{
    ACCEPT, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, COOKIE,
    ETAG, IF_NONE_MATCH, LOCATION, REFERER,
};
use std::io::Read;
use std::time::Duration;

const CARAMELS: i64 = 2;
const CARAMELS_PAGE: &str = "/p/sea-salt-caramels";

fn header(res: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn nonce_of(csp: &str) -> String {
    csp.split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a script nonce")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_rendered_once_then_served_from_memory_with_a_validator() {
    let app = spawn_app().await;
    let first = app.get("/").await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-page-cache").as_deref(), Some("miss"));
    let etag = header(&first, ETAG).expect("an ETag");
    let csp = header(&first, CONTENT_SECURITY_POLICY).expect("a policy");
    let cache_control = header(&first, CACHE_CONTROL).expect("Cache-Control");
    assert!(
        cache_control.contains("s-maxage=") && cache_control.contains("stale-while-revalidate="),
        "{cache_control}"
    );
    let body = first.text().await.unwrap();
    assert!(body.contains("Sea-Salt Caramels"), "the catalogue");

    // another shopper, with a cookie and a chat app's tracking query: the same page, from memory
    let second = app
        .client
        .get(app.url("/?from=singlemessage&isappinstalled=0"))
        .header(COOKIE, "hf_cart=someone-elses")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&second, "x-page-cache").as_deref(), Some("hit"));
    assert_eq!(header(&second, ETAG).as_deref(), Some(etag.as_str()));
    // the page carries the policy naming the nonce its scripts were rendered with
    let second_csp = header(&second, CONTENT_SECURITY_POLICY).unwrap();
    assert_eq!(second_csp, csp);
    let second_body = second.text().await.unwrap();
    assert_eq!(second_body, body);
    let nonce = nonce_of(&csp);
    assert!(second_body.contains(&format!("nonce=\"{nonce}\"")));

    // a phone that has this version is told so, without the body, and keeps the same policy
    let again = app
        .client
        .get(app.url("/"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, ETAG).as_deref(), Some(etag.as_str()));
    assert_eq!(
        header(&again, CONTENT_SECURITY_POLICY).as_deref(),
        Some(csp.as_str())
    );
    assert!(again.bytes().await.unwrap().is_empty());

    // phones ask for brotli (or gzip): the kept encodings are the same page
    let br = app
        .client
        .get(app.url("/"))
        .header(ACCEPT_ENCODING, "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&br, CONTENT_ENCODING).as_deref(), Some("br"));
    let compressed = br.bytes().await.unwrap();
    assert!(
        compressed.len() * 3 < body.len(),
        "brotli makes the page much smaller"
    );
    let mut plain = String::new();
    brotli::Decompressor::new(compressed.as_ref(), 4096)
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, body);
    let gz = app
        .client
        .get(app.url("/"))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&gz, CONTENT_ENCODING).as_deref(), Some("gzip"));
    let mut plain = String::new();
    flate2::read::GzDecoder::new(gz.bytes().await.unwrap().as_ref())
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_stock_is_on_the_page_within_the_freshness_window() {
    let app = spawn_app().await;
    let before = app.get(CARAMELS_PAGE).await;
    let etag = header(&before, ETAG).unwrap();
    assert!(!before.text().await.unwrap().contains("Only 3 left"));
    app.set_stock(CARAMELS, 3).await;
    // the catalogue is read again at most every 250 ms: the first page that shows the change
    // is drawn anew, a new version
    let (cache, new_etag) = common::eventually(
        Duration::from_secs(10),
        "the page shows the new stock",
        || async {
            let after = app.get(CARAMELS_PAGE).await;
            let seen = (header(&after, "x-page-cache"), header(&after, ETAG));
            after
                .text()
                .await
                .unwrap()
                .contains("Only 3 left")
                .then_some(seen)
        },
    )
    .await;
    assert_eq!(cache.as_deref(), Some("miss"));
    assert_ne!(new_etag.unwrap(), etag, "a new version");
    // a phone holding the old version gets the new page, not a 304
    let stale = app
        .client
        .get(app.url(CARAMELS_PAGE))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    // nothing changed since: the next reading keeps the page
    tokio::time::sleep(Duration::from_millis(400)).await;
    let steady = app.get(CARAMELS_PAGE).await;
    assert_eq!(header(&steady, "x-page-cache").as_deref(), Some("hit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_shopper_did_never_shows_on_another_shoppers_page() {
    let app = spawn_app().await;
    // warm: the anonymous page is kept
    assert_eq!(app.get(CARAMELS_PAGE).await.status(), 200);
    // a shopper without JavaScript asks for an impossible quantity: the shop sends her back to
    // the product page with the error in its address
    let res = app
        .client
        .post(app.url("/api/add_to_cart"))
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .header(REFERER, app.url(CARAMELS_PAGE))
        .form(&[
            ("product_id", CARAMELS.to_string().as_str()),
            ("quantity", "0"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = header(&res, LOCATION).expect("sent back");
    // (sealed, under the shop's own name: Leptos' `__err` is never taken from an address)
    let sealed = format!("{}=", app::api::error::URL_ERROR_PARAM);
    assert!(location.contains(&sealed), "{location}");
    let mine = app
        .client
        .get(if location.starts_with("http") {
            location.clone()
        } else {
            app.url(&location)
        })
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), 200);
    assert_eq!(
        header(&mine, "x-page-cache"),
        None,
        "rendered for her alone"
    );
    assert_eq!(
        header(&mine, CACHE_CONTROL).as_deref(),
        Some("private, no-store")
    );
    let mine = mine.text().await.unwrap();
    // (the stylesheet inline in every page names the class too: look for the element)
    let error_text = "class=\"notice notice-error\"";
    assert!(mine.contains(error_text), "her page explains her error");

    // everyone else's page, before and after the next reading, has no trace of it
    for _ in 0..2 {
        let theirs = app.get(CARAMELS_PAGE).await;
        assert!(header(&theirs, "x-page-cache").is_some());
        let theirs = theirs.text().await.unwrap();
        assert!(
            !theirs.contains(error_text),
            "another shopper sees no error"
        );
        assert!(!theirs.contains("__err"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // a shopper with a cart: the kept page is the same bytes as a stranger's
    let cart = app
        .client
        .post(app.url("/api/add_to_cart"))
        .header(ACCEPT, "text/html")
        .header(REFERER, app.url(CARAMELS_PAGE))
        .form(&[
            ("product_id", CARAMELS.to_string().as_str()),
            ("quantity", "1"),
        ])
        .send()
        .await
        .unwrap();
    let cart_cookie = cart
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("hf_cart="))
        .and_then(|c| c.split(';').next())
        .expect("a cart cookie")
        .to_owned();
    let with_cart = app
        .client
        .get(app.url(CARAMELS_PAGE))
        .header(COOKIE, &cart_cookie)
        .send()
        .await
        .unwrap();
    let stranger = app.get(CARAMELS_PAGE).await;
    assert_eq!(header(&with_cart, ETAG), header(&stranger, ETAG));
    assert_eq!(
        with_cart.text().await.unwrap(),
        stranger.text().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_pages_are_never_kept_and_strangers_urls_fill_nothing() {
    let app = spawn_app().await;
    for path in [
        "/cart",
        "/checkout",
        "/status",
        "/queue/made-up",
        "/order/NOPE",
    ] {
        let res = app.get(path).await;
        assert_eq!(header(&res, "x-page-cache"), None, "{path}");
        assert_eq!(
            header(&res, CACHE_CONTROL).as_deref(),
            Some("private, no-store"),
            "{path}"
        );
        assert_eq!(header(&res, ETAG), None, "{path}");
    }
    // a personal page gets a new nonce each time
    let a = header(&app.get("/cart").await, CONTENT_SECURITY_POLICY).unwrap();
    let b = header(&app.get("/cart").await, CONTENT_SECURITY_POLICY).unwrap();
    assert_ne!(nonce_of(&a), nonce_of(&b));
    // a product that does not exist is a 404 each time, not kept
    for _ in 0..2 {
        let res = app.get("/p/no-such-thing").await;
        assert_eq!(res.status(), 404);
        assert_eq!(header(&res, "x-page-cache"), None);
    }
}

/// The card of a product whose sale runs, on the catalogue page.
fn card_of<'a>(catalogue: &'a str, page: &str) -> &'a str {
    let start = catalogue
        .find(&format!("href=\"{page}\""))
        .expect("the product's card");
    let end = start + catalogue[start..].find("</li>").expect("the card's end");
    &catalogue[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_is_the_same_on_the_catalogue_card_and_the_product_page() {
    let app = spawn_app().await;
    let normal = app.price(CARAMELS).await;
    app.set_sale(
        CARAMELS,
        common::Sale {
            price_cents: 777,
            waiting_room: false,
            ..common::Sale::default()
        },
    )
    .await;
    let catalogue = common::eventually(
        Duration::from_secs(5),
        "the running sale on the catalogue",
        || async {
            let page = app.page_text("/").await;
            card_of(&page, CARAMELS_PAGE)
                .contains("7.77")
                .then_some(page)
        },
    )
    .await;
    let card = card_of(&catalogue, CARAMELS_PAGE);
    let was = app::domain::Money::from_cents(normal).unwrap().plain();
    assert!(
        card.contains(&format!("<s class=\"was\">¥{was}</s>")),
        "the card strikes the normal price through: {card}"
    );
    let product = app.page_text(CARAMELS_PAGE).await;
    let shown = product
        .split("data-testid=\"price\"")
        .nth(1)
        .expect("the product page's price");
    assert!(shown.contains("¥7.77"), "{shown}");
    assert!(
        card.contains("¥7.77"),
        "the card says what the page says: {card}"
    );
}

/// The `content` of the page's `<meta {attr}="{key}" …>`, as written (entities not decoded).
fn meta<'a>(page: &'a str, attr: &str, key: &str) -> Option<&'a str> {
    let at = page.find(&format!("{attr}=\"{key}\""))?;
    let open = page[..at].rfind("<meta")?;
    let tag = &page[open..open + page[open..].find('>')?];
    let start = tag.find("content=\"")? + "content=\"".len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

fn unescaped(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_link_carries_a_card_in_the_pages_language() {
    let app = common::spawn_app_with(&[("HOLDFAST_PUBLIC_URL", "https://shop.example")]).await;
    let en = app.page_text(CARAMELS_PAGE).await;
    let card = |key: &str| meta(&en, "property", key).map(str::to_owned);
    assert_eq!(card("og:type").as_deref(), Some("product"));
    assert_eq!(card("og:title").as_deref(), Some("Sea-Salt Caramels"));
    assert_eq!(card("og:locale").as_deref(), Some("en_US"));
    assert_eq!(
        card("og:url").as_deref(),
        Some("https://shop.example/p/sea-salt-caramels")
    );
    let image = card("og:image").expect("a picture");
    // the product's first picture, on the public address
    assert!(
        image.starts_with("https://shop.example/images/sea-salt-caramels"),
        "{image}"
    );
    assert_eq!(card("product:price:amount").as_deref(), Some("12.50"));
    assert_eq!(card("product:price:currency").as_deref(), Some("CNY"));
    assert_eq!(card("product:availability").as_deref(), Some("in stock"));
    let description = card("og:description").expect("a description");
    assert!(
        description.starts_with("Twelve soft caramels"),
        "{description}"
    );
    assert_eq!(meta(&en, "name", "description"), Some(description.as_str()));

    // in Chinese for a Chinese phone
    let zh = app
        .client
        .get(app.url(CARAMELS_PAGE))
        .header("accept-language", "zh-CN,zh;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(meta(&zh, "property", "og:title"), Some("海盐焦糖"));
    assert_eq!(meta(&zh, "property", "og:locale"), Some("zh_CN"));
    assert!(meta(&zh, "name", "description").is_some_and(|d| d.starts_with("十二颗软焦糖")));

    // the catalogue's card names the shop and some of its products
    let shop = app.page_text("/").await;
    assert_eq!(meta(&shop, "property", "og:type"), Some("website"));
    assert_eq!(
        meta(&shop, "property", "og:url"),
        Some("https://shop.example/")
    );
    let about = meta(&shop, "property", "og:description").unwrap();
    assert!(about.contains("Anchor Hoodie"), "{about}");

    // sold out, and a name written to break out of its attribute, said as they are
    let name = r#"Caramels "best" <b>&'"#;
    app.exec(&format!(
        "UPDATE products SET stock = 0, name = '{}' WHERE id = {CARAMELS}",
        name.replace('\'', "''")
    ))
    .await;
    let page = common::eventually(
        Duration::from_secs(5),
        "the new name on the page",
        || async {
            let page = app.page_text(CARAMELS_PAGE).await;
            meta(&page, "property", "product:availability")
                .is_some_and(|a| a == "out of stock")
                .then_some(page)
        },
    )
    .await;
    let title = meta(&page, "property", "og:title").unwrap();
    assert_eq!(unescaped(title), name, "{title}");
    assert!(!page.contains("<b>&"), "the name is not markup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_public_address_a_card_names_no_picture_or_link() {
    let app = spawn_app().await;
    let page = app.page_text(CARAMELS_PAGE).await;
    assert_eq!(
        meta(&page, "property", "og:title"),
        Some("Sea-Salt Caramels")
    );
    assert_eq!(meta(&page, "property", "og:image"), None);
    assert_eq!(meta(&page, "property", "og:url"), None);
}
