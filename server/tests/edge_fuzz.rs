//! Arbitrary bytes at every edge the shop reads from outside: the domain parsers (money, phone,
//! quantities, order codes, idempotency keys), signed tokens and sealed cookies, the cart cookie,
//! picture headers, and over real HTTP the JSON bodies, form bodies, cookies and tokens of the
//! shopper's endpoints. Never a panic, never a 5xx; what is refused changes nothing in the
//! database.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::domain::{Cart, IdempotencyKey, Money, OrderCode, Phone, Quantity};
use app::tokens::{Signer, TokenKind};
use common::TestApp;
use proptest::prelude::*;
use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE};
use serde_json::{json, Value};
use std::sync::OnceLock;

const KEY: &[u8] = b"edge-fuzz-signing-key-0123456789abcdef";

// --- the parsers, on their own ------------------------------------------------------------

proptest! {
    #[test]
    fn money_reads_any_text_without_panicking_and_what_it_accepts_reads_back(text in ".{0,40}") {
        if let Ok(m) = Money::parse_amount(&text) {
            prop_assert!(m.cents() >= 0);
            prop_assert_eq!(Money::parse_amount(&m.plain()), Ok(m));
        }
    }

    #[test]
    fn money_reads_amount_shaped_text_exactly(units in 0_i64..1_000_000, cents in 0_i64..100) {
        let text = format!("{units}.{cents:02}");
        prop_assert_eq!(Money::parse_amount(&text).map(Money::cents), Ok(units * 100 + cents));
    }

    #[test]
    fn a_phone_number_is_digits_or_refused(text in "\\PC{0,30}") {
        if let Ok(p) = Phone::parse(&text) {
            let digits = p.key();
            prop_assert!((7..=15).contains(&digits.len()), "{}", digits);
            prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn quantities_are_1_to_99_or_refused(n in any::<i64>()) {
        match Quantity::parse(n) {
            Ok(q) => prop_assert!((1..=99).contains(&i64::from(q.get()))),
            Err(_) => prop_assert!(!(1..=99).contains(&n)),
        }
    }

    #[test]
    fn codes_and_keys_never_panic_and_stay_plain(text in "\\PC{0,80}") {
        if let Ok(code) = OrderCode::parse(&text) {
            prop_assert!(code.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        }
        if let Ok(key) = IdempotencyKey::parse(&text) {
            prop_assert!(key.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
    }

    #[test]
    fn no_made_up_token_or_sealed_cookie_opens(text in "\\PC{0,120}", id in 1..i64::MAX) {
        let signer = Signer::new(KEY).unwrap();
        let genuine = signer.sign(TokenKind::Ticket, id);
        if text != genuine {
            prop_assert_eq!(signer.verify(TokenKind::Ticket, &text), None);
        }
        prop_assert_eq!(signer.verify(TokenKind::Ticket, &genuine), Some(id));
        prop_assert_eq!(signer.verify(TokenKind::Hold, &genuine), None, "a ticket is no hold");
        let sealed = signer.seal("hf_orders", "K7M3-Q9PX");
        if text != sealed {
            prop_assert_eq!(signer.open("hf_orders", &text), None);
        }
        prop_assert_eq!(signer.open("hf_checkout", &sealed), None, "sealed for another cookie");
    }

    #[test]
    fn a_cart_cookie_of_any_text_reads_as_a_valid_cart(text in "\\PC{0,200}") {
        let cart = Cart::from_cookie(&text);
        prop_assert!(cart.lines().len() <= Cart::MAX_LINES);
        for (id, q) in cart.lines() {
            prop_assert!(*id > 0);
            prop_assert!((1..=99).contains(&q.get()));
        }
        prop_assert_eq!(Cart::from_cookie(&cart.to_cookie()), cart);
    }

    #[test]
    fn percent_decoding_of_any_cookie_text_never_panics(text in "\\PC{0,80}") {
        if let Some(plain) = app::api::cookies::decode(&text) {
            prop_assert_eq!(app::api::cookies::decode(&app::api::cookies::encode(&plain)), Some(plain));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The picture check reads only headers before deciding: arbitrary bytes, and bytes behind
    /// a real JPEG, PNG or WebP signature, are refused with a reason, never a panic.
    #[test]
    fn picture_headers_of_any_bytes_are_refused_with_a_reason(
        prefix in prop_oneof![
            Just(Vec::new()),
            Just(vec![0xFF, 0xD8, 0xFF, 0xE0]),
            Just(b"\x89PNG\r\n\x1a\n".to_vec()),
            Just(b"RIFF\x00\x00\x00\x00WEBPVP8 ".to_vec()),
        ],
        tail in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = prefix;
        bytes.extend(tail);
        let outcome = server::admin::pictures::process(&bytes);
        prop_assert!(outcome.is_err(), "random bytes made a picture");
    }
}

// --- over HTTP, against the real server ----------------------------------------------------

/// One real server (SQLite) for every HTTP property: a runtime of its own that outlives the
/// cases, since proptest's cases are plain functions.
fn shop() -> &'static (tokio::runtime::Runtime, TestApp) {
    static SHOP: OnceLock<(tokio::runtime::Runtime, TestApp)> = OnceLock::new();
    SHOP.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let app = rt.block_on(common::spawn_app_with(&[(
            "HOLDFAST_SECRET",
            common::owner::SECRET,
        )]));
        (rt, app)
    })
}

/// Everything a shopper's request could change.
async fn everything(app: &TestApp) -> (Vec<(i64, i64)>, i64, i64, i64, i64, i64) {
    let (stock, orders, lines, keys) = app.snapshot().await;
    (
        stock,
        orders,
        lines,
        keys,
        app.count("SELECT COUNT(*) FROM queue_tickets").await,
        app.count("SELECT COUNT(*) FROM holds").await,
    )
}

/// Sends the request; asserts no 5xx, and that a refusal changed nothing. The status.
fn send_checked(build: impl FnOnce(&TestApp) -> reqwest::RequestBuilder) -> u16 {
    let (rt, app) = shop();
    rt.block_on(async {
        let before = everything(app).await;
        let res = build(app).send().await.expect("the server answers");
        let status = res.status().as_u16();
        let body = res.text().await.unwrap_or_default();
        assert!(status < 500, "{status}: {body}");
        if !(200..300).contains(&status) {
            assert_eq!(
                everything(app).await,
                before,
                "a {status} changed the shop: {body}"
            );
        }
        status
    })
}

/// Text that is sometimes valid, often nearly so, and sometimes hostile.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "[0-9 +().-]{0,20}",
        Just(String::new()),
        Just("</textarea><script>alert(1)</script>".to_owned()),
        Just("x".repeat(600)),
        Just("王小明 1 Harbour Row".to_owned()),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-5_i64..120).prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        field().prop_map(Value::from),
        Just(Value::Null),
    ]
}

/// An order-shaped JSON body with arbitrary values.
fn order_json() -> impl Strategy<Value = Value> {
    (
        field(),
        number(),
        number(),
        field(),
        field(),
        field(),
        proptest::option::of(field()),
    )
        .prop_map(|(key, product, quantity, name, phone, address, hold)| {
            let mut body = json!({
                "idempotency_key": key,
                "lines": [{"product_id": product, "quantity": quantity}],
                "customer": {"name": name, "phone": phone, "address": address, "note": ""}
            });
            if let Some(hold) = hold {
                body["hold_token"] = json!(hold);
            }
            body
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_bytes_as_an_api_body_get_a_4xx(
        path in prop_oneof![
            Just("/api/place_order"),
            Just("/api/queue/join"),
            Just("/api/queue/leave"),
            Just("/api/checkout"),
            Just("/api/add_to_cart"),
        ],
        json_type in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let status = send_checked(|app| {
            let kind = if json_type { "application/json" } else { "application/x-www-form-urlencoded" };
            app.client.post(app.url(path)).header(CONTENT_TYPE, kind).body(body)
        });
        prop_assert!((400..500).contains(&status) || status == 200 || status == 303, "{}", status);
    }

    #[test]
    fn order_shaped_json_with_arbitrary_values_is_an_order_or_a_4xx(body in order_json()) {
        let status = send_checked(|app| app.client.post(app.url("/api/place_order")).json(&body));
        prop_assert!(status == 200 || (400..500).contains(&status), "{}", status);
    }

    #[test]
    fn join_shaped_json_with_arbitrary_values_is_a_place_or_a_4xx(
        product in number(),
        quantity in number(),
        phone in field(),
    ) {
        let body = json!({"product_id": product, "quantity": quantity, "phone": phone});
        let status = send_checked(|app| app.client.post(app.url("/api/queue/join")).json(&body));
        prop_assert!(status == 200 || (400..500).contains(&status), "{}", status);
    }

    #[test]
    fn a_plain_checkout_form_with_arbitrary_fields_and_cookies_never_fails_the_server(
        key in field(),
        name in field(),
        phone in field(),
        address in field(),
        cart in "\\PC{0,60}",
        draft in "[ -~]{0,120}",
    ) {
        let cookie = format!(
            "hf_cart={}; hf_checkout={}",
            app::api::cookies::encode(&cart),
            draft.replace(';', "")
        );
        send_checked(|app| {
            app.client
                .post(app.url("/api/checkout"))
                .header(ACCEPT, "text/html")
                .header(COOKIE, cookie)
                .form(&[("idempotency_key", key), ("name", name), ("phone", phone), ("address", address), ("note", String::new())])
        });
    }

    #[test]
    fn pages_read_any_cookie_without_failing(
        path in prop_oneof![Just("/"), Just("/cart"), Just("/checkout"), Just("/status"), Just("/p/sea-salt-caramels")],
        cookie in "[ -~]{0,300}",
    ) {
        let status = send_checked(|app| app.client.get(app.url(path)).header(COOKIE, cookie));
        prop_assert!(status < 400, "{}", status);
    }

    #[test]
    fn made_up_tickets_codes_and_phones_are_refused(ticket in field(), code in field(), phone in field()) {
        let status = send_checked(|app| {
            app.client.get(app.url("/api/queue/status")).query(&[("ticket", &ticket)])
        });
        prop_assert!((400..500).contains(&status), "ticket {:?}: {}", ticket, status);
        let status = send_checked(|app| {
            app.client
                .get(app.url("/api/order_status"))
                .query(&[("code", &code), ("phone", &phone)])
        });
        prop_assert!((400..500).contains(&status), "order {:?}: {}", code, status);
        // the order page: found, not found or slowed down, never a failure (checked inside)
        send_checked(|app| app.client.get(app.url(&format!("/order/{}", app::api::cookies::encode(&code)))));
    }

    #[test]
    fn an_owner_login_form_of_any_text_is_refused_plainly(email in field(), password in field()) {
        let status = send_checked(|app| {
            app.client
                .post(app.url("/admin/login"))
                .form(&[("email", email), ("password", password), ("next", "/admin".to_owned())])
        });
        prop_assert!([401, 422, 429, 503].contains(&status), "{}", status);
    }
}
