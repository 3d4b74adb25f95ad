//! Arbitrary bytes at every edge the shop reads from outside: the domain parsers (money, phone,
//! quantities, order codes, idempotency keys), signed tokens and sealed cookies, the cart cookie,
//! picture headers, and over real HTTP the JSON bodies, form bodies, cookies and tokens of the
//! shopper's endpoints and the owner's login, against a server on SQLite and one on Postgres.
//! Never a panic, never a 5xx; what is refused changes nothing in the database. The servers'
//! limits (lookups a minute, passwords checked a second, logins per address) are lifted, so
//! what answers each case is the code under test, not a limiter.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use app::domain::{Cart, IdempotencyKey, Money, OrderCode, Phone, Quantity};
use app::tokens::{Signer, TokenKind};
use common::{Kind, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE};
use serde_json::{json, Value};

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

/// A real server on SQLite and, when Postgres is reachable (required in CI), one on Postgres,
/// on a runtime of their own (proptest's cases are plain functions); dropped with the test.
struct Shops {
    apps: Vec<TestApp>,
    rt: tokio::runtime::Runtime,
}

/// What every HTTP property's servers run with: the limits that would answer in the code's
/// place lifted (each login also comes from an address of its own, through a trusted proxy).
const LIFTED: &[(&str, &str)] = &[
    ("HOLDFAST_SECRET", common::owner::SECRET),
    ("HOLDFAST_LOOKUPS_PER_MIN", "1000000"),
    ("HOLDFAST_LOGIN_HASHES_PER_SEC", "100000"),
    ("HOLDFAST_TRUST_PROXY", "true"),
];

impl Shops {
    fn start() -> Shops {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let apps = rt.block_on(async {
            let mut apps = vec![common::spawn_on(Kind::Sqlite, LIFTED).await];
            if let Some(pg) = common::shop::PgDatabase::create().await {
                apps.push(common::spawn_on(Kind::Postgres(pg), LIFTED).await);
            }
            apps
        });
        Shops { apps, rt }
    }

    /// Sends the request to each server; asserts no 5xx, and that a refusal changed nothing.
    /// The statuses, one a server.
    fn send_checked(&self, build: impl Fn(&TestApp) -> reqwest::RequestBuilder) -> Vec<u16> {
        self.apps
            .iter()
            .map(|app| {
                self.rt.block_on(async {
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
            })
            .collect()
    }
}

/// Runs `property` on `cases` values of `strategy` against both servers; a failure panics
/// with the smallest failing value proptest found.
fn check<S: Strategy>(
    cases: u32,
    strategy: S,
    property: impl Fn(&Shops, S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let shops = Shops::start();
    let mut runner = TestRunner::new(Config::with_cases(cases));
    if let Err(failure) = runner.run(&strategy, |value| property(&shops, value)) {
        panic!("{failure}");
    }
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

/// Every status `statuses` holds is in `allowed`.
fn all_in(statuses: &[u16], allowed: &[u16]) -> Result<(), TestCaseError> {
    for status in statuses {
        prop_assert!(allowed.contains(status), "{} not in {:?}", status, allowed);
    }
    Ok(())
}

/// The refusals a shopper's bad request may get: unreadable (400), not found (404), a rule
/// of the shop (409), bad fields (422); never a limiter's 429 here (limits are off).
const REFUSED: &[u16] = &[400, 404, 409, 413, 415, 422];

#[test]
fn any_bytes_as_an_api_body_get_a_4xx() {
    let paths = prop_oneof![
        Just("/api/place_order"),
        Just("/api/queue/join"),
        Just("/api/queue/leave"),
        Just("/api/checkout"),
        Just("/api/add_to_cart"),
    ];
    let bodies = proptest::collection::vec(any::<u8>(), 0..512);
    check(
        96,
        (paths, any::<bool>(), bodies),
        |shops, (path, json_type, body)| {
            let statuses = shops.send_checked(|app| {
                let kind = if json_type {
                    "application/json"
                } else {
                    "application/x-www-form-urlencoded"
                };
                app.client
                    .post(app.url(path))
                    .header(CONTENT_TYPE, kind)
                    .body(body.clone())
            });
            all_in(&statuses, REFUSED)
        },
    );
}

#[test]
fn order_shaped_json_with_arbitrary_values_is_an_order_or_a_4xx() {
    check(96, order_json(), |shops, body| {
        let statuses =
            shops.send_checked(|app| app.client.post(app.url("/api/place_order")).json(&body));
        for status in statuses {
            prop_assert!(status == 200 || REFUSED.contains(&status), "{}", status);
        }
        Ok(())
    });
}

#[test]
fn join_shaped_json_with_arbitrary_values_is_a_place_or_a_4xx() {
    check(
        96,
        (number(), number(), field()),
        |shops, (product, quantity, phone)| {
            let body = json!({"product_id": product, "quantity": quantity, "phone": phone});
            let statuses =
                shops.send_checked(|app| app.client.post(app.url("/api/queue/join")).json(&body));
            for status in statuses {
                prop_assert!(status == 200 || REFUSED.contains(&status), "{}", status);
            }
            Ok(())
        },
    );
}

#[test]
fn a_plain_checkout_form_with_arbitrary_fields_and_cookies_never_fails_the_server() {
    let form = (
        field(),
        field(),
        field(),
        field(),
        "\\PC{0,60}",
        "[ -~]{0,120}",
    );
    check(
        96,
        form,
        |shops, (key, name, phone, address, cart, draft)| {
            let cookie = format!(
                "hf_cart={}; hf_checkout={}",
                app::api::cookies::encode(&cart),
                draft.replace(';', "")
            );
            let statuses = shops.send_checked(|app| {
                app.client
                    .post(app.url("/api/checkout"))
                    .header(ACCEPT, "text/html")
                    .header(COOKIE, cookie.clone())
                    .form(&[
                        ("idempotency_key", key.clone()),
                        ("name", name.clone()),
                        ("phone", phone.clone()),
                        ("address", address.clone()),
                        ("note", String::new()),
                    ])
            });
            // a person's form is sent on to the order (303) or back to its page (302); the shop
            // itself refuses only what it cannot read or is too large
            all_in(&statuses, &[302, 303, 400, 413])
        },
    );
}

#[test]
fn pages_read_any_cookie_without_failing() {
    let paths = prop_oneof![
        Just("/"),
        Just("/cart"),
        Just("/checkout"),
        Just("/status"),
        Just("/p/sea-salt-caramels")
    ];
    check(96, (paths, "[ -~]{0,300}"), |shops, (path, cookie)| {
        let statuses =
            shops.send_checked(|app| app.client.get(app.url(path)).header(COOKIE, cookie.clone()));
        all_in(&statuses, &[200])
    });
}

#[test]
fn made_up_tickets_codes_and_phones_are_refused() {
    check(
        96,
        (field(), field(), field()),
        |shops, (ticket, code, phone)| {
            let statuses = shops.send_checked(|app| {
                app.client
                    .get(app.url("/api/queue/status"))
                    .query(&[("ticket", &ticket)])
            });
            all_in(&statuses, &[400, 404])?;
            let statuses = shops.send_checked(|app| {
                app.client
                    .get(app.url("/api/order_status"))
                    .query(&[("code", &code), ("phone", &phone)])
            });
            all_in(&statuses, &[404, 422])?;
            // the order page: not found, never a failure. ("." and ".." are not codes there:
            // an address's dot segments are resolved before it is sent, even written %2E, so
            // "/order/.." asks for the catalogue.)
            if code == "." || code == ".." {
                return Ok(());
            }
            let path = format!("/order/{}", app::api::cookies::encode(&code));
            let statuses = shops.send_checked(|app| app.client.get(app.url(&path)));
            all_in(&statuses, &[404])
        },
    );
}

/// An address of its own for each login, as the trusted proxy says (a loopback one: a header
/// value, never contacted).
fn fresh_address() -> String {
    let n = rand::random::<u32>() & 0x00ff_ffff;
    format!("127.{}.{}.{}", n >> 16, (n >> 8) & 0xff, n & 0xff)
}

#[test]
fn an_owner_login_form_of_any_text_is_refused_plainly() {
    // emails that look real, so passwords get checked, and every other kind of text
    let emails = prop_oneof![field(), "[a-z]{1,12}@[a-z]{1,12}\\.example"];
    check(96, (emails, field()), |shops, (email, password)| {
        let statuses = shops.send_checked(|app| {
            app.client
                .post(app.url("/admin/login"))
                .header("x-forwarded-for", fresh_address())
                .form(&[
                    ("email", email.clone()),
                    ("password", password.clone()),
                    ("next", "/admin".to_owned()),
                ])
        });
        // 401: no such owner or a wrong password; 422: not an email or a password at all
        all_in(&statuses, &[401, 422])
    });
}
