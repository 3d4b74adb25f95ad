//! The waiting room and timed holds on the real SQLite store (no HTTP): order of admission, the
//! pre-start draw, immediate sold-out notice, holds used once and expired once, per-customer
//! limits under racing orders, and the stock equation stock + sold + held = initial throughout.
//! Every test runs on SQLite and on Postgres (`contract_tests!`).
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use app::domain::{CustomerInput, JoinRequest, LineRequest, NewOrder, Phone, Quantity};
use app::store::{CheckoutError, HoldProblem, JoinError, Standing, TicketInfo};
use common::shop::Shop;
use common::Sale;
use std::time::Duration;

/// The demo's caramels (id 2): no sale until a test puts one on.
const P: i64 = 2;

fn phone(n: usize) -> String {
    format!("+44 7700 {n:06}")
}

fn join(product_id: i64, quantity: u32, n: usize) -> JoinRequest {
    JoinRequest {
        product_id,
        quantity: Quantity::parse(i64::from(quantity)).unwrap(),
        phone: Phone::parse(&phone(n)).unwrap(),
    }
}

fn order(key: &str, product_id: i64, quantity: i64, n: usize, hold: Option<i64>) -> NewOrder {
    let customer = CustomerInput {
        name: "Ada".into(),
        phone: phone(n),
        address: "1 Harbour Row".into(),
        note: String::new(),
    };
    let lines = [LineRequest {
        product_id,
        quantity,
    }];
    let mut order = NewOrder::parse(key, &lines, &customer).unwrap();
    order.hold = hold;
    order
}

fn hold_of(ticket: &TicketInfo) -> i64 {
    match ticket.standing {
        Standing::Admitted { hold_id, .. } => hold_id,
        ref other => panic!("expected a hold, got {other:?}"),
    }
}

async fn a_free_shopper_is_admitted_at_once_and_the_hold_becomes_the_order_without_a_second_decrement(
    shop: Shop,
) {
    let store = &shop.store;
    shop.set_stock(P, 5).await;
    shop.set_sale(
        P,
        Sale {
            price_cents: 777,
            ..Sale::default()
        },
    )
    .await;

    let ticket = store.join_queue(join(P, 2, 1)).await.unwrap();
    let hold = hold_of(&ticket);
    assert_eq!(shop.stock(P).await, 3, "held units leave stock");
    assert_eq!(shop.units_held(P).await, 2);

    let placed = store
        .place_order(order("hold-order-key-0001", P, 2, 1, Some(hold)))
        .await
        .unwrap();
    assert_eq!(
        placed.total_cents,
        2 * 777,
        "the sale price held at admission"
    );
    assert_eq!(shop.stock(P).await, 3, "no second decrement");
    assert_eq!(shop.units_held(P).await, 0);
    assert_eq!(shop.accounted(P).await, 5);
    let after = store.ticket(ticket.ticket_id).await.unwrap().unwrap();
    assert_eq!(
        after.standing,
        Standing::Ordered {
            order_code: placed.order_code.to_string()
        }
    );

    // a retry with the same key is the same order; a second use of the hold is refused
    let retry = store
        .place_order(order("hold-order-key-0001", P, 2, 1, Some(hold)))
        .await
        .unwrap();
    assert_eq!(retry.order_code, placed.order_code);
    let again = store
        .place_order(order("hold-order-key-0002", P, 2, 1, Some(hold)))
        .await;
    assert!(
        matches!(again, Err(CheckoutError::Hold(HoldProblem::Used))),
        "{again:?}"
    );
    assert_eq!(shop.units_sold(P).await, 2);
}

async fn without_a_hold_a_waiting_room_product_cannot_be_ordered(shop: Shop) {
    let store = &shop.store;
    shop.set_sale(P, Sale::default()).await;
    let before = shop.stock(P).await;
    let refused = store
        .place_order(order("no-hold-order-key-01", P, 1, 1, None))
        .await;
    assert!(
        matches!(
            refused,
            Err(CheckoutError::QueueRequired { product_id: P, .. })
        ),
        "{refused:?}"
    );
    assert_eq!(shop.stock(P).await, before);
}

async fn a_hold_cannot_be_used_for_another_product_quantity_or_phone_or_when_unknown(shop: Shop) {
    let store = &shop.store;
    shop.set_stock(P, 5).await;
    shop.set_sale(P, Sale::default()).await;
    let hold = hold_of(&store.join_queue(join(P, 2, 1)).await.unwrap());
    let held = HoldProblem::Mismatch {
        quantity: 2,
        product_name: shop
            .text(&format!("SELECT name FROM products WHERE id = {P}"))
            .await,
    };
    let attempts = [
        (order("mismatch-key-product", 3, 2, 1, Some(hold)), &held),
        (order("mismatch-key-quantity", P, 1, 1, Some(hold)), &held),
        (
            order("mismatch-key-phone-x", P, 2, 2, Some(hold)),
            &HoldProblem::OtherPhone,
        ),
    ];
    for (attempt, problem) in attempts {
        let r = store.place_order(attempt).await;
        assert!(
            matches!(&r, Err(CheckoutError::Hold(p)) if p == problem),
            "{r:?}"
        );
    }
    let unknown = store
        .place_order(order("unknown-hold-key-01", P, 2, 1, Some(hold + 1000)))
        .await;
    assert!(matches!(
        unknown,
        Err(CheckoutError::Hold(HoldProblem::Unknown))
    ));
    assert_eq!(shop.units_held(P).await, 2, "the hold is still there");
    assert_eq!(shop.units_sold(P).await + shop.units_sold(3).await, 0);
    // and it still works for what it is for
    assert!(store
        .place_order(order("right-hold-key-0001", P, 2, 1, Some(hold)))
        .await
        .is_ok());
}

async fn the_line_is_served_in_order_and_those_stock_cannot_reach_are_told_sold_out_at_once(
    shop: Shop,
) {
    let store = &shop.store;
    shop.set_stock(P, 3).await;
    shop.set_sale(P, Sale::default()).await;
    let mut tickets = Vec::new();
    for n in 0..10 {
        tickets.push(store.join_queue(join(P, 1, n)).await.unwrap());
    }
    for (n, t) in tickets.iter().enumerate() {
        match (n, &t.standing) {
            (0..=2, Standing::Admitted { .. }) => {}
            // three units are held: if those holds expire, the next three can still be served
            (3..=5, Standing::Waiting { position, .. }) => {
                assert_eq!(*position, Some(n as u64 - 2), "shopper {n}")
            }
            (6.., Standing::SoldOut) => {}
            (n, s) => panic!("shopper {n}: {s:?}"),
        }
    }
    let states = shop.ticket_states(P).await;
    assert_eq!(states.get("admitted"), Some(&3));
    assert_eq!(states.get("waiting"), Some(&3));
    assert_eq!(states.get("sold_out"), Some(&4));
    assert_eq!(shop.accounted(P).await, 3);

    // re-joining with the same phone number is refused, naming the place (for the edge to
    // hand back only to the client holding its ticket), and adds nobody to the line
    let again = store.join_queue(join(P, 1, 4)).await;
    assert!(
        matches!(again, Err(JoinError::AlreadyInLine { ticket_id, .. }) if ticket_id == tickets[4].ticket_id),
        "{again:?}"
    );
    assert_eq!(shop.ticket_states(P).await.get("waiting"), Some(&3));
}

async fn an_expired_hold_returns_its_units_exactly_once_and_admits_the_next_in_line(shop: Shop) {
    let store = &shop.store;
    shop.set_stock(P, 1).await;
    shop.set_sale(
        P,
        Sale {
            hold_seconds: 1,
            ..Sale::default()
        },
    )
    .await;
    let first = store.join_queue(join(P, 1, 1)).await.unwrap();
    let hold = hold_of(&first);
    let second = store.join_queue(join(P, 1, 2)).await.unwrap();
    assert!(
        matches!(second.standing, Standing::Waiting { position: Some(1), eta_seconds, .. } if eta_seconds <= 2)
    );

    shop.clock.advance(Duration::from_millis(1_000));
    let round = store.run_admission().await.unwrap();
    assert_eq!((round.holds_expired, round.admitted), (1, 1));
    let again = store.run_admission().await.unwrap();
    assert_eq!(again.holds_expired, 0, "an expired hold is returned once");

    assert_eq!(
        store
            .ticket(first.ticket_id)
            .await
            .unwrap()
            .unwrap()
            .standing,
        Standing::Expired
    );
    let second = store.ticket(second.ticket_id).await.unwrap().unwrap();
    assert!(
        matches!(second.standing, Standing::Admitted { .. }),
        "{second:?}"
    );
    assert_eq!(shop.stock(P).await, 0);
    assert_eq!(shop.accounted(P).await, 1);
    let late = store
        .place_order(order("expired-hold-key-01", P, 1, 1, Some(hold)))
        .await;
    assert!(
        matches!(late, Err(CheckoutError::Hold(HoldProblem::Expired))),
        "{late:?}"
    );
}

async fn leaving_with_a_hold_gives_the_units_to_the_next_in_line_at_once(shop: Shop) {
    let store = &shop.store;
    shop.set_stock(P, 2).await;
    shop.set_sale(P, Sale::default()).await;
    let first = store.join_queue(join(P, 2, 1)).await.unwrap();
    let second = store.join_queue(join(P, 2, 2)).await.unwrap();
    assert!(matches!(second.standing, Standing::Waiting { .. }));
    let left = store.leave_queue(first.ticket_id).await.unwrap().unwrap();
    assert_eq!(left.standing, Standing::Left);
    let second = store.ticket(second.ticket_id).await.unwrap().unwrap();
    assert!(
        matches!(second.standing, Standing::Admitted { .. }),
        "{second:?}"
    );
    assert_eq!(shop.accounted(P).await, 2);
    let hold = hold_of(&first);
    let r = store
        .place_order(order("released-hold-key1", P, 2, 1, Some(hold)))
        .await;
    assert!(
        matches!(r, Err(CheckoutError::Hold(HoldProblem::Expired))),
        "{r:?}"
    );
}

async fn early_joiners_are_drawn_in_random_order_at_the_start_and_later_ones_queue_behind(
    shop: Shop,
) {
    let store = &shop.store;
    shop.set_stock(P, 10).await;
    shop.set_sale(
        P,
        Sale {
            starts_in_secs: 3600,
            ..Sale::default()
        },
    )
    .await;
    let mut early = Vec::new();
    for n in 0..40 {
        let t = store.join_queue(join(P, 1, n)).await.unwrap();
        assert!(
            matches!(t.standing, Standing::Waiting { position: None, starts_in_secs: Some(s), .. } if s > 3500),
            "before the start nobody has a place yet: {t:?}"
        );
        early.push(t.ticket_id);
    }
    assert_eq!(shop.stock(P).await, 10, "nobody admitted before the start");
    let refused = store
        .place_order(order("before-start-key-01", P, 1, 99, None))
        .await;
    assert!(
        matches!(refused, Err(CheckoutError::SaleNotStarted { starts_in_secs, .. }) if starts_in_secs > 3500)
    );

    shop.start_sale_now(P).await;
    // the first join after the start serves the line (as would the next admission round)
    let late = store.join_queue(join(P, 1, 1000)).await.unwrap();
    store.run_admission().await.unwrap();

    let admitted = shop.admitted_in_order(P).await;
    assert_eq!(admitted.len(), 10);
    assert!(
        !admitted.contains(&late.ticket_id),
        "a later joiner queues behind the draw"
    );
    assert_ne!(
        admitted,
        early[..10].to_vec(),
        "the first ten to join were not simply the first ten admitted"
    );
    let mut sorted = admitted.clone();
    sorted.sort_unstable();
    assert_ne!(admitted, sorted, "admission order is not join order");
    // with 10 free units held, 10 more can still hope; the other 20 early ones and the late one
    // are told at once
    let states = shop.ticket_states(P).await;
    assert_eq!(states.get("waiting"), Some(&10));
    assert_eq!(states.get("sold_out"), Some(&21));
    let late = store.ticket(late.ticket_id).await.unwrap().unwrap();
    assert_eq!(late.standing, Standing::SoldOut);
}

async fn a_thousand_racing_joiners_for_a_hundred_units_get_exactly_a_hundred_holds(shop: Shop) {
    let store = &shop.store;
    shop.set_stock(P, 100).await;
    shop.set_sale(P, Sale::default()).await;
    let mut set = tokio::task::JoinSet::new();
    for n in 0..1000 {
        let store = store.clone();
        set.spawn(async move { store.join_queue(join(P, 1, n)).await });
    }
    let (mut admitted, mut waiting, mut sold_out) = (0, 0, 0);
    while let Some(r) = set.join_next().await {
        match r.unwrap().unwrap().standing {
            Standing::Admitted { .. } => admitted += 1,
            Standing::Waiting { .. } => waiting += 1,
            Standing::SoldOut => sold_out += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((admitted, waiting, sold_out), (100, 100, 800));
    assert_eq!(shop.stock(P).await, 0);
    assert_eq!(shop.units_held(P).await, 100);
}

async fn the_per_customer_limit_holds_under_racing_orders_from_one_phone(shop: Shop) {
    let store = &shop.store;
    shop.set_stock(P, 100).await;
    shop.set_sale(
        P,
        Sale {
            limit: Some(2),
            waiting_room: false,
            ..Sale::default()
        },
    )
    .await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..30 {
        let store = store.clone();
        set.spawn(async move {
            store
                .place_order(order(&format!("limit-race-key-{i:04}"), P, 1, 7, None))
                .await
        });
    }
    let (mut ok, mut limited) = (0, 0);
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Ok(_) => ok += 1,
            Err(CheckoutError::LimitReached { limit: 2, .. }) => limited += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((ok, limited), (2, 28));
    assert_eq!(shop.units_sold(P).await, 2);
    // another phone number has its own allowance; more than the limit at once is refused
    assert!(store
        .place_order(order("limit-other-phone1", P, 2, 8, None))
        .await
        .is_ok());
    let too_many = store
        .place_order(order("limit-too-many-key", P, 3, 9, None))
        .await;
    assert!(matches!(
        too_many,
        Err(CheckoutError::LimitReached { already: 0, .. })
    ));
}

async fn a_phone_at_its_limit_cannot_join_the_line_again(shop: Shop) {
    let store = &shop.store;
    shop.set_stock(P, 10).await;
    shop.set_sale(
        P,
        Sale {
            limit: Some(2),
            ..Sale::default()
        },
    )
    .await;
    let hold = hold_of(&store.join_queue(join(P, 2, 1)).await.unwrap());
    store
        .place_order(order("limit-join-key-0001", P, 2, 1, Some(hold)))
        .await
        .unwrap();
    let refused = store.join_queue(join(P, 1, 1)).await;
    assert!(
        matches!(
            refused,
            Err(JoinError::LimitReached {
                limit: 2,
                already: 2,
                ..
            })
        ),
        "{refused:?}"
    );
    let no_room = store.join_queue(join(3, 1, 1)).await;
    assert!(
        matches!(no_room, Err(JoinError::NoWaitingRoom { .. })),
        "{no_room:?}"
    );
}

async fn after_the_sale_ends_the_product_sells_normally_and_the_line_is_closed(shop: Shop) {
    let store = &shop.store;
    shop.set_stock(P, 1).await;
    let sale = Sale {
        starts_in_secs: -1,
        lasts_secs: 2,
        limit: Some(2),
        ..Sale::default()
    };
    shop.set_sale(P, sale).await;
    let holder = store.join_queue(join(P, 1, 1)).await.unwrap();
    assert!(matches!(holder.standing, Standing::Admitted { .. }));
    let hopeful = store.join_queue(join(P, 1, 2)).await.unwrap();
    assert!(
        matches!(hopeful.standing, Standing::Waiting { .. }),
        "{hopeful:?}"
    );
    shop.clock.advance(Duration::from_millis(1_000));
    store.run_admission().await.unwrap();
    let after = store.ticket(hopeful.ticket_id).await.unwrap().unwrap();
    assert_eq!(
        after.standing,
        Standing::SoldOut,
        "the line closes with the sale"
    );
    // free stock sells at the normal price, without the limit or the waiting room
    let normal = shop.price(P).await;
    shop.set_stock(P, 5).await;
    let placed = store
        .place_order(order("after-sale-key-0001", P, 3, 3, None))
        .await
        .unwrap();
    assert_eq!(placed.total_cents, 3 * normal);
}

contract_tests!(
    a_free_shopper_is_admitted_at_once_and_the_hold_becomes_the_order_without_a_second_decrement,
    without_a_hold_a_waiting_room_product_cannot_be_ordered,
    a_hold_cannot_be_used_for_another_product_quantity_or_phone_or_when_unknown,
    the_line_is_served_in_order_and_those_stock_cannot_reach_are_told_sold_out_at_once,
    an_expired_hold_returns_its_units_exactly_once_and_admits_the_next_in_line,
    leaving_with_a_hold_gives_the_units_to_the_next_in_line_at_once,
    early_joiners_are_drawn_in_random_order_at_the_start_and_later_ones_queue_behind,
    a_thousand_racing_joiners_for_a_hundred_units_get_exactly_a_hundred_holds,
    the_per_customer_limit_holds_under_racing_orders_from_one_phone,
    a_phone_at_its_limit_cannot_join_the_line_again,
    after_the_sale_ends_the_product_sells_normally_and_the_line_is_closed,
);
