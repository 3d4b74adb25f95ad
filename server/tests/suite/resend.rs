//! A form sent again never orders twice, over real HTTP as a phone without JavaScript sends it:
//! the answer to a checkout can be lost on a slow network (the order committed, the phone never
//! heard), and the shopper reloads and sends again, or the busy page sends again by itself. Every
//! rendering of one cart's checkout (and of one hold's) carries the same idempotency key until an
//! order succeeds, so the second sending finds the first order.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::common::Fetch;

use common::browser::{hidden_field, Jar, CARAMELS};
use common::{order_body, spawn_app_with, spawn_on, Kind, Sale, TestApp};
use reqwest::header::CONTENT_SECURITY_POLICY;
use serde_json::{json, Value};

const DETAILS: [(&str, &str); 4] = [
    ("name", "Ada Lovelace"),
    ("phone", "+1 555 010 2030"),
    ("address", "1 Harbour Row, Porthaven"),
    ("note", ""),
];

/// A phone with one box of caramels in its cart.
async fn phone_with_caramels(app: &TestApp) -> Jar {
    let mut phone = Jar::default();
    let (status, _) = phone
        .post(
            app,
            "/p/sea-salt-caramels",
            "/api/add_to_cart",
            &[("product_id", &CARAMELS.to_string()), ("quantity", "1")],
        )
        .await;
    assert!((200..400).contains(&status), "{status}");
    assert!(phone.has("hf_cart"));
    phone
}

/// The checkout page's idempotency key for this phone (rendering it as the phone would).
async fn checkout_key(app: &TestApp, phone: &mut Jar) -> String {
    let page = phone.page(app, "/checkout").await;
    hidden_field(&page, "idempotency_key").expect("the checkout form's key")
}

/// Sends the checkout form with `key` and `details`; where the answer sends the phone.
async fn send_checkout(
    app: &TestApp,
    phone: &mut Jar,
    key: &str,
    details: &[(&str, &str)],
) -> String {
    let mut form = vec![("idempotency_key", key)];
    form.extend_from_slice(details);
    let (status, location) = phone.post(app, "/checkout", "/api/checkout", &form).await;
    assert!(
        (300..400).contains(&status),
        "a plain form is redirected: {status}"
    );
    local(app, &location.expect("a redirect's address"))
}

/// A redirect's address within the shop (a refusal sends the phone back with its full URL).
fn local(app: &TestApp, location: &str) -> String {
    location.trim_start_matches(&app.base).to_owned()
}

async fn a_checkout_sent_again_after_its_answer_was_lost_finds_the_first_order(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let mut phone = phone_with_caramels(&app).await;
    let key = checkout_key(&app, &mut phone).await;
    assert_eq!(key.len(), 32, "{key}");
    assert_eq!(
        checkout_key(&app, &mut phone).await,
        key,
        "a reload of the same cart shows the same key"
    );
    // another phone with a copy of the same cart cookie gets a key of its own
    let mut stranger = Jar::default();
    stranger.keep_cookie("hf_cart", phone.cookie("hf_cart").unwrap());
    assert_ne!(checkout_key(&app, &mut stranger).await, key);

    // the order commits, but the answer never reaches the phone: it still holds what it held
    let unheard = phone.clone();
    let order_page = send_checkout(&app, &mut phone, &key, &DETAILS).await;
    assert!(order_page.starts_with("/order/"), "{order_page}");
    assert_eq!(app.orders().await, 1);

    // the shopper reloads the checkout (the same key) and sends it again: the same order
    let mut unheard = unheard;
    let again_key = checkout_key(&app, &mut unheard).await;
    assert_eq!(again_key, key);
    assert_eq!(
        send_checkout(&app, &mut unheard, &again_key, &DETAILS).await,
        order_page,
        "the second sending finds the first order"
    );
    assert_eq!(app.orders().await, 1, "and made no second one");

    // the phone that heard: its next cart is a new try with a new key
    assert!(!phone.has("hf_try"), "the try is forgotten once ordered");
    let (_, _) = phone
        .post(
            &app,
            "/p/sea-salt-caramels",
            "/api/add_to_cart",
            &[("product_id", &CARAMELS.to_string()), ("quantity", "1")],
        )
        .await;
    let next = checkout_key(&app, &mut phone).await;
    assert_ne!(next, key, "a new cart after an order is a new order");
    assert!(send_checkout(&app, &mut phone, &next, &DETAILS)
        .await
        .starts_with("/order/"));
    assert_eq!(app.orders().await, 2);
}

async fn the_same_cart_sent_again_with_other_details_is_told_it_was_already_ordered(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    let mut phone = phone_with_caramels(&app).await;
    let key = checkout_key(&app, &mut phone).await;
    let mut unheard = phone.clone();
    let first = send_checkout(&app, &mut phone, &key, &DETAILS).await;
    assert!(first.starts_with("/order/"));
    let before = app.snapshot().await;

    // she never heard, and sends the form again with her name spelled differently
    let mut changed = DETAILS;
    changed[0] = ("name", "Ada King");
    let back = send_checkout(&app, &mut unheard, &key, &changed).await;
    assert!(back.starts_with("/checkout?"), "{back}");
    assert_eq!(app.snapshot().await, before, "nothing changed");
    let page = unheard.page(&app, &back).await;
    assert!(
        page.contains("An order for this cart was already placed"),
        "told what happened, not a bare refusal"
    );
    assert!(page.contains("Ada King"), "what she typed is kept");
    // sending again is her choice to order a second time: a new key, a second order
    let second_key = hidden_field(&page, "idempotency_key").unwrap();
    assert_ne!(second_key, key);
    assert!(send_checkout(&app, &mut unheard, &second_key, &changed)
        .await
        .starts_with("/order/"));
    assert_eq!(app.orders().await, 2);
}

async fn a_hold_checkout_sent_again_finds_the_order_it_made(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    app.set_stock(CARAMELS, 5).await;
    app.set_sale(CARAMELS, Sale::default()).await;
    let joined: Value = app
        .client
        .post(app.url("/api/queue/join"))
        .json(&json!({"product_id": CARAMELS, "quantity": 1, "phone": DETAILS[1].1}))
        .fetch_json()
        .await;
    assert_eq!(joined["state"], "admitted", "{joined}");
    let ticket_page = format!("/queue/{}", joined["ticket"].as_str().unwrap());
    let mut phone = Jar::default();
    let page = phone.page(&app, &ticket_page).await;
    let key = hidden_field(&page, "idempotency_key").unwrap();
    let hold = hidden_field(&page, "hold_token").unwrap();
    assert_eq!(key.len(), 32);
    let again = phone.page(&app, &ticket_page).await;
    assert_eq!(
        hidden_field(&again, "idempotency_key").unwrap(),
        key,
        "one key per hold"
    );

    let mut form = vec![
        ("hold_token", hold.as_str()),
        ("idempotency_key", key.as_str()),
    ];
    form.extend_from_slice(&DETAILS);
    let (_, first) = phone
        .post(&app, &ticket_page, "/api/queue/checkout", &form)
        .await;
    let first = first.unwrap();
    assert!(first.starts_with("/order/"), "{first}");
    // the answer was lost; the page sent again finds the order instead of "hold used"
    let (_, second) = phone
        .post(&app, &ticket_page, "/api/queue/checkout", &form)
        .await;
    assert_eq!(second.unwrap(), first);
    assert_eq!(app.orders().await, 1);
}

/// The order desk busy (one order in flight, its write waiting on the database): a phone's
/// checkout is told "busy, try again in N s", its page carries a script under the page's nonce
/// that sends the same form again after N s, and that sending, once the desk is free, orders
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_checkout_says_so_and_its_form_sent_again_orders_once() {
    let app = spawn_app_with(&[("HOLDFAST_MAX_ORDERS_IN_FLIGHT", "1")]).await;
    let mut phone = phone_with_caramels(&app).await;
    let key = checkout_key(&app, &mut phone).await;

    // another connection holds the write lock; one order takes the only place at the desk
    let mut blocker = app.sqlite().acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let in_flight = {
        let (client, url) = (app.client.clone(), app.url("/api/place_order"));
        tokio::spawn(async move {
            let body = order_body(&common::key(900), CARAMELS, 1);
            client.post(url).json(&body).send().await.unwrap().status()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let back = send_checkout(&app, &mut phone, &key, &DETAILS).await;
    assert!(back.starts_with("/checkout?"), "{back}");
    let res = app
        .client
        .get(app.url(&back))
        .header(reqwest::header::COOKIE, phone.header())
        .send()
        .await
        .unwrap();
    let policy = res
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|p| p.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"data-testid="busy-retry""#), "{page}");
    assert!(page.contains("Your order is not placed yet"), "{page}");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the page's policy names a script nonce");
    assert!(
        page.contains(&format!(r#"nonce="{nonce}""#))
            && page.contains(r#"data-form="checkout-form""#),
        "the retry script runs under the page's nonce"
    );
    assert!(page.contains(r#"id="checkout-form""#));
    assert_eq!(
        hidden_field(&page, "idempotency_key").unwrap(),
        key,
        "the busy page's form carries the same key"
    );

    sqlx::query("COMMIT").execute(&mut *blocker).await.unwrap();
    drop(blocker);
    assert_eq!(in_flight.await.unwrap(), 200);
    // what the script does after N s: the same form, sent again (and once more, as if that
    // answer were lost too)
    let mut unheard = phone.clone();
    let ordered = send_checkout(&app, &mut phone, &key, &DETAILS).await;
    assert!(ordered.starts_with("/order/"), "{ordered}");
    let twice = send_checkout(&app, &mut unheard, &key, &DETAILS).await;
    assert_eq!(twice, ordered);
    assert_eq!(app.orders().await, 2, "the other order and hers, once");
}

http_contract_tests!(
    a_checkout_sent_again_after_its_answer_was_lost_finds_the_first_order,
    the_same_cart_sent_again_with_other_details_is_told_it_was_already_ordered,
    a_hold_checkout_sent_again_finds_the_order_it_made,
);
