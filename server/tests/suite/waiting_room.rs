//! The waiting room, flash-sale rules and rate limits over real HTTP: the JSON shapes, statuses and
//! headers a client sees, signed tickets, the no-JavaScript waiting page, and refusals that change
//! nothing.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{key, spawn_on, Kind, Sale, TestApp};
use serde_json::{json, Value};

/// The demo's caramels (id 2): no sale until a test puts one on.
const P: i64 = 2;

async fn status(app: &TestApp, ticket: &str) -> reqwest::Response {
    app.get(&format!("/api/queue/status?ticket={}", urlencode(ticket)))
        .await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn hold_order(k: &str, quantity: i64, phone: &str, hold_token: &str) -> Value {
    json!({
        "idempotency_key": k,
        "lines": [{"product_id": P, "quantity": quantity}],
        "customer": {"name": "Ada", "phone": phone, "address": "1 Harbour Row"},
        "hold_token": hold_token
    })
}

async fn join_answers_with_a_signed_ticket_and_cookie_and_the_hold_buys_exactly_once(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    app.set_stock(P, 5).await;
    app.set_sale(
        P,
        Sale {
            price_cents: 555,
            ..Sale::default()
        },
    )
    .await;

    let res = app.join_line(P, 2, "+1 555 010 0001").await;
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("hf_ticket="))
        .expect("the ticket is also a cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let joined: Value = res.json().await.unwrap();
    assert_eq!(joined["state"], "admitted", "{joined}");
    assert_eq!(joined["quantity"], 2);
    let ticket = joined["ticket"].as_str().unwrap().to_owned();
    let hold = joined["hold_token"].as_str().unwrap().to_owned();
    assert!(
        joined["hold_expires_at"].as_str().unwrap().ends_with('Z'),
        "UTC"
    );
    let left = joined["hold_seconds_left"].as_u64().unwrap();
    assert!((290..=300).contains(&left), "{left}");

    let polled: Value = status(&app, &ticket).await.json().await.unwrap();
    assert_eq!(polled["state"], "admitted");
    assert_eq!(polled["hold_token"], hold.as_str());

    let order = app
        .place_order(&hold_order(&key(1), 2, "+1 555 010 0001", &hold))
        .await;
    assert_eq!(order.status(), 200);
    let order: Value = order.json().await.unwrap();
    assert_eq!(order["total_cents"], 2 * 555);
    let polled: Value = status(&app, &ticket).await.json().await.unwrap();
    assert_eq!(polled["state"], "ordered");
    assert_eq!(polled["order_code"], order["order_code"]);

    let again = app
        .place_order(&hold_order(&key(2), 2, "+1 555 010 0001", &hold))
        .await;
    assert_eq!(again.status(), 409);
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        (again["kind"].as_str(), again["reason"].as_str()),
        (Some("hold_invalid"), Some("used"))
    );
    assert_eq!(app.units_sold(P).await, 2);
    assert_eq!(app.stock(P).await, 3);
}

async fn forged_tickets_and_holds_are_refused_and_change_nothing(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    app.set_sale(P, Sale::default()).await;
    let joined: Value = app.joined(P, 1, "+15550100002").await;
    let ticket = joined["ticket"].as_str().unwrap();
    // same id, another signature; and a made-up ticket
    let forged = format!(
        "{}0000000000000000000000000000000",
        &ticket[..ticket.find('.').unwrap() + 1]
    );
    for bad in [forged.as_str(), "t1.deadbeef", "garbage"] {
        let res = status(&app, bad).await;
        assert_eq!(res.status(), 404, "{bad}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["kind"], "not_found");
    }
    let before = app.snapshot().await;
    let held = app.units_held(P).await;
    let hold = joined["hold_token"].as_str().unwrap();
    let forged_hold = format!("h9{}", &hold[hold.find('.').unwrap()..]);
    let res = app
        .place_order(&hold_order(&key(3), 1, "+15550100002", &forged_hold))
        .await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["reason"], "unknown");
    // a ticket is not a hold
    let res = app
        .place_order(&hold_order(&key(4), 1, "+15550100002", ticket))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(app.snapshot().await, before);
    assert_eq!(app.units_held(P).await, held);
}

async fn bad_joins_get_clear_4xx_answers(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    app.set_sale(
        P,
        Sale {
            limit: Some(2),
            ..Sale::default()
        },
    )
    .await;
    let res = app
        .client
        .post(app.url("/api/queue/join"))
        .json(&json!({"product_id": P, "quantity": 0, "phone": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["quantity", "phone"]);

    let res = app.join_line(P, 3, "+15550100003").await;
    assert_eq!(res.status(), 409, "over the per-customer limit");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["kind"].as_str(), body["limit"].as_i64()),
        (Some("limit_reached"), Some(2))
    );

    // no waiting room on the mug
    let res = app
        .client
        .post(app.url("/api/queue/join"))
        .json(&json!({"product_id": 3, "quantity": 1, "phone": "+15550100003"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = app
        .client
        .post(app.url("/api/queue/join"))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(app.tickets().await, 0, "nothing joined");
}

async fn before_the_start_orders_get_409_with_retry_after_and_the_page_counts_down(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    app.set_sale(
        P,
        Sale {
            starts_in_secs: 600,
            waiting_room: false,
            ..Sale::default()
        },
    )
    .await;
    let before = app.snapshot().await;
    let res = app.place_order(&common::order_body(&key(5), P, 1)).await;
    assert_eq!(res.status(), 409);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((590..=600).contains(&retry), "{retry}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["kind"], "sale_not_started");
    assert_eq!(app.snapshot().await, before);

    let product: Value = app
        .get(&format!("/api/product?id={P}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(product["sale"]["phase"], "upcoming");
    let page = app.page_text("/p/sea-salt-caramels").await;
    assert!(
        page.contains("data-testid=\"countdown\""),
        "a countdown on the page"
    );
    assert!(
        page.contains(">10:00<") || page.contains(">9:5"),
        "about ten minutes to go"
    );
    assert!(page.contains("Orders open when the sale starts."));
    assert!(!page.contains("Add to cart"));
}

async fn a_waiting_shopper_sees_their_place_on_a_page_that_refreshes_itself_without_javascript(
    kind: Kind,
) {
    let app = spawn_on(kind, &[]).await;
    app.set_stock(P, 1).await;
    app.set_sale(P, Sale::default()).await;
    let first: Value = app.joined(P, 1, "+15550100010").await;
    assert_eq!(first["state"], "admitted");
    let second: Value = app.joined(P, 1, "+15550100011").await;
    assert_eq!(second["state"], "waiting");
    assert_eq!(second["position"], 1);
    assert!(second["eta_seconds"].as_u64().unwrap() > 200, "{second}");
    let third: Value = app.joined(P, 1, "+15550100012").await;
    assert_eq!(
        third["state"], "sold_out",
        "one unit, one hold, one hopeful: the third is told at once"
    );

    let page = app
        .page_text(&format!("/queue/{}", second["ticket"].as_str().unwrap()))
        .await;
    assert!(
        page.contains(r#"<meta http-equiv="refresh" content="3">"#),
        "{page}"
    );
    assert!(page.contains("data-state=\"waiting\""));
    assert!(page.contains(r#"<strong data-testid="position">1</strong>"#));

    // the first gives up their hold: the second is admitted at once
    app.leave_line(first["ticket"].as_str().unwrap()).await;
    let now: Value = status(&app, second["ticket"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["state"], "admitted");
    let page = app
        .page_text(&format!("/queue/{}", second["ticket"].as_str().unwrap()))
        .await;
    assert!(page.contains("data-state=\"admitted\""));
    assert!(
        page.contains("name=\"hold_token\""),
        "a checkout form for the hold"
    );
    assert!(
        !page.contains("http-equiv=\"refresh\""),
        "no refresh while filling in the form"
    );
}

async fn a_client_over_its_allowance_gets_429_with_retry_after_and_pages_still_load(kind: Kind) {
    let app = spawn_on(kind, &[("HOLDFAST_RATE_LIMIT_PER_SEC", "1")]).await;
    let mut codes = Vec::new();
    for i in 0..15 {
        let res = app
            .place_order(&common::order_body(&key(100 + i), 3, 1))
            .await;
        codes.push((
            res.status().as_u16(),
            res.headers().get("retry-after").cloned(),
        ));
    }
    let ok = codes.iter().filter(|(c, _)| *c == 200).count();
    let limited: Vec<_> = codes.iter().filter(|(c, _)| *c == 429).collect();
    assert_eq!(ok, 10, "a burst of ten at 1/s: {codes:?}");
    assert_eq!(limited.len(), 5);
    assert!(limited.iter().all(|(_, retry)| retry.is_some()));
    let body: Value = app
        .place_order(&common::order_body(&key(200), 3, 1))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["kind"], "rate_limited");
    assert_eq!(app.orders().await, 10, "refused requests ordered nothing");
    assert_eq!(
        app.get("/").await.status(),
        200,
        "page views are not limited"
    );
    assert_eq!(app.get("/api/products").await.status(), 200);
}

async fn one_phone_written_three_ways_is_one_shopper(kind: Kind) {
    let app = spawn_on(kind, &[]).await;
    app.set_stock(P, 5).await;
    app.set_sale(
        P,
        Sale {
            limit: Some(1),
            ..Sale::default()
        },
    )
    .await;
    // she joins as her phone shows her number, and orders with the +86 she was taught
    let joined: Value = app.joined(P, 1, "138 0013 8000").await;
    assert_eq!(joined["state"], "admitted", "{joined}");
    let hold = joined["hold_token"].as_str().unwrap().to_owned();
    let order = app
        .place_order(&hold_order(&key(1), 1, "+86 138-0013-8000", &hold))
        .await;
    assert_eq!(
        order.status(),
        200,
        "the hold is hers, however she writes her number"
    );
    let order: Value = order.json().await.unwrap();
    // written a third way, she is still the shopper who has bought her one
    let again = app.join_line(P, 1, "0086 13800138000").await;
    assert_eq!(again.status(), 409, "over the per-customer limit");
    // one canonical number stored, found however it is typed
    let code = order["order_code"].as_str().unwrap();
    let stored = app
        .count(&format!(
            "SELECT COUNT(*) FROM orders WHERE phone = '+8613800138000' AND code = '{code}'"
        ))
        .await;
    assert_eq!(stored, 1);
    let found = app
        .get(&format!("/api/order_status?code={code}&phone=13800138000"))
        .await;
    assert_eq!(found.status(), 200);
    // a Beijing landline is not a number a courier can text: a clear refusal
    let landline = app.join_line(P, 1, "+86 10 6552 9988").await;
    assert_eq!(landline.status(), 422);
    let body: Value = landline.json().await.unwrap();
    assert!(
        body["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("11 digits"),
        "{body}"
    );
    assert_eq!(app.units_sold(P).await, 1);
}

http_contract_tests!(
    join_answers_with_a_signed_ticket_and_cookie_and_the_hold_buys_exactly_once,
    forged_tickets_and_holds_are_refused_and_change_nothing,
    bad_joins_get_clear_4xx_answers,
    before_the_start_orders_get_409_with_retry_after_and_the_page_counts_down,
    a_waiting_shopper_sees_their_place_on_a_page_that_refreshes_itself_without_javascript,
    a_client_over_its_allowance_gets_429_with_retry_after_and_pages_still_load,
    one_phone_written_three_ways_is_one_shopper,
);
