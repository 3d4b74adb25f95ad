//! Property tests of the shop's rules (`app::rules`): random sequences of orders, retries, joins,
//! admission rounds, leaving, time passing (holds running out) and cancellations.
//!
//! First against a shop kept in memory that decides with nothing but the rules (many cases), then,
//! with fewer cases, the same sequences against the real SQLite and Postgres stores in lockstep
//! with that model, on a clock the test moves (no sleeping): every answer must be the model's, and
//! after every step stock + sold + held = the units put up, no phone number holds or bought more
//! than its limit, the line is served in order, and a key never makes a second order.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use app::domain::{
    CustomerInput, JoinRequest, LineRequest, NewOrder, OrderStatus, Phone, Quantity,
};
use app::rules::{
    self, Clock, HoldFacts, HoldState, Placing, ProductFacts, SaleFacts, SoldOutWalk, TicketState,
    Turn, ARRIVAL_RANKS,
};
use app::store::{AdmissionRound, CheckoutError, HoldProblem, JoinError, Standing, TicketInfo};
use common::shop::{Db, Shop};
use proptest::prelude::*;
use server::admin::db::AdminDb;
use std::collections::HashMap;
use std::time::Duration;

/// The demo's caramels: no sale until a case puts one on.
const P: i64 = 2;
const SALE_PRICE: i64 = 700;
const HOLD_SECS: i64 = 60;
const PHONES: usize = 3;

#[derive(Debug, Clone, Copy)]
enum SaleKind {
    None,
    Direct { limit: Option<i64> },
    WaitingRoom { limit: Option<i64> },
}

#[derive(Debug, Clone)]
enum Op {
    Order {
        phone: usize,
        qty: u32,
        key: usize,
    },
    /// Orders sent at once: the desk takes them in this order, often in one batch, which it
    /// decides as one run (a key twice in it is a retry, or a reuse).
    Burst {
        orders: Vec<(usize, u32, usize)>,
    },
    /// The n-th request sent so far (modulo their number), sent again exactly.
    Retry {
        n: usize,
    },
    Join {
        phone: usize,
        qty: u32,
    },
    /// An order with the hold of this phone's latest place in line (skipped if it has none).
    UseHold {
        phone: usize,
        key: usize,
    },
    Leave {
        phone: usize,
    },
    Admit,
    Wait {
        secs: u64,
    },
    /// The owner cancels the n-th order (modulo their number).
    Cancel {
        n: usize,
    },
    /// The owner archives the product: nothing more is sold.
    Archive,
}

#[derive(Debug, Clone)]
struct Scenario {
    stock: i64,
    price: i64,
    sale: SaleKind,
    max_per_order: Option<i64>,
    ops: Vec<Op>,
}

fn scenario(max_ops: usize) -> impl Strategy<Value = Scenario> {
    let limit = prop_oneof![Just(None), (1_i64..=3).prop_map(Some)];
    let sale = prop_oneof![
        Just(SaleKind::None),
        limit.clone().prop_map(|limit| SaleKind::Direct { limit }),
        limit.prop_map(|limit| SaleKind::WaitingRoom { limit }),
    ];
    let phone = 0..PHONES;
    let op = prop_oneof![
        6 => (phone.clone(), 1_u32..=3, 0_usize..6).prop_map(|(phone, qty, key)| Op::Order { phone, qty, key }),
        2 => (0_usize..50).prop_map(|n| Op::Retry { n }),
        2 => prop::collection::vec((phone.clone(), 1_u32..=3, 0_usize..6), 2..7)
            .prop_map(|orders| Op::Burst { orders }),
        5 => (phone.clone(), 1_u32..=3).prop_map(|(phone, qty)| Op::Join { phone, qty }),
        4 => (phone.clone(), 6_usize..12).prop_map(|(phone, key)| Op::UseHold { phone, key }),
        2 => phone.prop_map(|phone| Op::Leave { phone }),
        3 => Just(Op::Admit),
        2 => (1_u64..=90).prop_map(|secs| Op::Wait { secs }),
        2 => (0_usize..50).prop_map(|n| Op::Cancel { n }),
        1 => Just(Op::Archive),
    ];
    (
        0_i64..=8,
        100_i64..=2000,
        sale,
        prop_oneof![3 => Just(None), 1 => (2_i64..=3).prop_map(Some)],
        prop::collection::vec(op, 1..max_ops),
    )
        .prop_map(|(stock, price, sale, max_per_order, ops)| Scenario {
            stock,
            price,
            sale,
            max_per_order,
            ops,
        })
}

/// One order request as sent: the same request again is a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ask {
    phone: usize,
    qty: u32,
    key: usize,
    /// The model's hold this order uses.
    hold: Option<usize>,
}

impl Ask {
    /// An order with no hold.
    fn plain(phone: usize, qty: u32, key: usize) -> Ask {
        Ask {
            phone,
            qty,
            key,
            hold: None,
        }
    }

    fn fingerprint(&self) -> String {
        format!("{}:{}:{:?}", self.phone, self.qty, self.hold)
    }
}

fn phone_key(phone: usize) -> String {
    format!("p{phone}")
}

struct Ticket {
    phone: usize,
    qty: i64,
    rank: i64,
    state: TicketState,
    hold: Option<usize>,
}

struct Hold {
    ticket: usize,
    phone: usize,
    qty: i64,
    price: i64,
    state: HoldState,
    expires_at: app::domain::At,
}

struct Order {
    phone: usize,
    qty: i64,
    cancelled: bool,
    fingerprint: String,
}

/// A shop in memory that decides everything with `app::rules` and applies it to plain fields.
struct Model {
    clock: Clock,
    product: ProductFacts,
    initial: i64,
    sale: Option<SaleFacts>,
    units: HashMap<usize, i64>,
    tickets: Vec<Ticket>,
    holds: Vec<Hold>,
    orders: Vec<Order>,
    keys: HashMap<usize, usize>,
    arrivals: i64,
}

impl Model {
    fn new(s: &Scenario, clock: Clock) -> Model {
        let now = clock.now();
        let sale = |limit: Option<i64>, waiting_room: bool| SaleFacts {
            starts_at: now.instant().plus_secs(-60),
            ends_at: now.instant().plus_secs(3 * 3600),
            sale_price_cents: SALE_PRICE,
            per_customer_limit: limit,
            waiting_room,
        };
        Model {
            product: ProductFacts {
                id: P,
                name: "Sea-Salt Caramels".into(),
                price_cents: s.price,
                stock: s.stock,
                archived: false,
                max_per_order: s.max_per_order,
            },
            initial: s.stock,
            sale: match s.sale {
                SaleKind::None => None,
                SaleKind::Direct { limit } => Some(sale(limit, false)),
                SaleKind::WaitingRoom { limit } => Some(sale(limit, true)),
            },
            clock,
            units: HashMap::new(),
            tickets: Vec::new(),
            holds: Vec::new(),
            orders: Vec::new(),
            keys: HashMap::new(),
            arrivals: 0,
        }
    }

    fn limit(&self) -> Option<i64> {
        rules::limit_in_force(self.sale.as_ref(), &self.clock.now())
    }

    fn order(&mut self, ask: &Ask) -> String {
        if let Some(&n) = self.keys.get(&ask.key) {
            return match rules::replay_allowed(&self.orders[n].fingerprint, &ask.fingerprint()) {
                Ok(()) => format!("order #{n}"),
                Err(e) => checkout_answer(&e),
            };
        }
        let now = self.clock.now();
        let quantity = Quantity::parse(i64::from(ask.qty)).unwrap();
        let decided = match ask.hold {
            Some(h) => {
                let hold = &self.holds[h];
                let facts = HoldFacts {
                    id: h as i64,
                    ticket_id: hold.ticket as i64,
                    product_id: P,
                    product_name: self.product.name.clone(),
                    product_archived: self.product.archived,
                    phone_key: phone_key(hold.phone),
                    quantity: hold.qty,
                    unit_price_cents: hold.price,
                    state: hold.state,
                    expires_at: hold.expires_at,
                };
                rules::check_hold(Some(&facts), &[(P, quantity)], &phone_key(ask.phone), &now)
            }
            None => {
                let already = match self.limit() {
                    Some(_) => self.units.get(&ask.phone).copied().unwrap_or(0),
                    None => 0,
                };
                rules::decide_line(
                    P,
                    quantity,
                    Some(&self.product),
                    self.sale.as_ref(),
                    already,
                    &now,
                )
            }
        };
        let line = match decided {
            Ok(line) => line,
            Err(e) => return checkout_answer(&e),
        };
        match ask.hold {
            Some(h) => {
                self.holds[h].state = HoldState::Used;
                let t = self.holds[h].ticket;
                self.tickets[t].state = TicketState::Ordered;
            }
            None => {
                self.product.stock -= line.units();
                if line.counts_against_limit {
                    *self.units.entry(ask.phone).or_default() += line.units();
                }
            }
        }
        let n = self.orders.len();
        self.orders.push(Order {
            phone: ask.phone,
            qty: line.units(),
            cancelled: false,
            fingerprint: ask.fingerprint(),
        });
        self.keys.insert(ask.key, n);
        format!("order #{n}: {} x {}", line.units(), line.unit_price_cents)
    }

    /// The phone's place in line, if it has one.
    fn in_line(&self, phone: usize) -> Option<usize> {
        self.tickets
            .iter()
            .position(|t| t.phone == phone && t.state.in_line())
    }

    fn join(&mut self, phone: usize, qty: u32) -> (String, Option<usize>) {
        let now = self.clock.now();
        let already = match self.limit() {
            Some(_) => self.units.get(&phone).copied().unwrap_or(0),
            None => 0,
        };
        let placing = rules::decide_join(
            P,
            Quantity::parse(i64::from(qty)).unwrap(),
            Some(&self.product),
            self.sale.as_ref(),
            self.in_line(phone).map(|t| t as i64),
            already,
            &now,
        );
        let placing = match placing {
            Ok(placing) => placing,
            Err(JoinError::AlreadyInLine { ticket_id, .. }) => {
                return ("already in line".into(), Some(ticket_id as usize))
            }
            Err(e) => return (join_answer(&e), None),
        };
        assert_eq!(placing, Placing::Arrival, "the cases' sales have started");
        self.arrivals += 1;
        self.tickets.push(Ticket {
            phone,
            qty: i64::from(qty),
            rank: ARRIVAL_RANKS + self.arrivals,
            state: TicketState::Waiting,
            hold: None,
        });
        let t = self.tickets.len() - 1;
        self.serve_line();
        (format!("joined: {}", self.tickets[t].state), Some(t))
    }

    fn line_open(&self) -> bool {
        let now = self.clock.now();
        rules::sale_in_force(self.sale.as_ref(), &now)
            .is_some_and(|s| s.waiting_room && s.phase(&now) == app::domain::SalePhase::Live)
    }

    fn waiting_by_rank(&self) -> Vec<usize> {
        let mut waiting: Vec<usize> = (0..self.tickets.len())
            .filter(|t| self.tickets[*t].state == TicketState::Waiting)
            .collect();
        waiting.sort_by_key(|t| self.tickets[*t].rank);
        waiting
    }

    fn serve_line(&mut self) -> AdmissionRound {
        let mut round = AdmissionRound::default();
        if !self.line_open() {
            return round;
        }
        let limit = self.sale.as_ref().and_then(|s| s.per_customer_limit);
        let now = self.clock.now();
        while let Some(&head) = self.waiting_by_rank().first() {
            let (phone, qty) = (self.tickets[head].phone, self.tickets[head].qty);
            if !rules::stock_covers(qty, self.product.stock) {
                break;
            }
            let already = self.units.get(&phone).copied().unwrap_or(0);
            match rules::turn_within(qty, limit, already) {
                Turn::Leave => {
                    self.tickets[head].state = TicketState::Left;
                    continue;
                }
                Turn::Admit {
                    counts_against_limit,
                } => {
                    if counts_against_limit {
                        *self.units.entry(phone).or_default() += qty;
                    }
                }
            }
            // the line is served in order: nobody waiting is ahead of whoever is admitted
            let rank = self.tickets[head].rank;
            assert!(
                self.tickets
                    .iter()
                    .all(|t| t.state != TicketState::Waiting || t.rank >= rank),
                "admitted out of order"
            );
            self.product.stock -= qty;
            self.holds.push(Hold {
                ticket: head,
                phone,
                qty,
                price: self.sale.as_ref().map_or(0, |s| s.sale_price_cents),
                state: HoldState::Live,
                expires_at: now.instant().plus_secs(HOLD_SECS),
            });
            self.tickets[head].state = TicketState::Admitted;
            self.tickets[head].hold = Some(self.holds.len() - 1);
            round.admitted += 1;
        }
        let held = self
            .holds
            .iter()
            .filter(|h| h.state == HoldState::Live)
            .map(|h| h.qty)
            .sum();
        let mut walk = SoldOutWalk::new(self.product.stock, held);
        for t in self.waiting_by_rank() {
            if walk.spent() || !walk.keeps_place(self.tickets[t].qty) {
                self.tickets[t].state = TicketState::SoldOut;
                round.told_sold_out += 1;
            }
        }
        round
    }

    fn return_hold(&mut self, h: usize, end: HoldState) -> bool {
        if self.holds[h].state != HoldState::Live {
            return false;
        }
        self.holds[h].state = end;
        let (phone, qty) = (self.holds[h].phone, self.holds[h].qty);
        self.product.stock += qty;
        let units = self.units.entry(phone).or_default();
        *units = rules::allowance_after_return(*units, qty);
        true
    }

    fn admit(&mut self) -> AdmissionRound {
        let now = self.clock.now();
        let mut round = AdmissionRound::default();
        for h in 0..self.holds.len() {
            if self.holds[h].state == HoldState::Live
                && self.holds[h].expires_at <= now.instant()
                && self.return_hold(h, HoldState::Expired)
            {
                round.holds_expired += 1;
                let t = self.holds[h].ticket;
                if self.tickets[t].state == TicketState::Admitted {
                    self.tickets[t].state = TicketState::Expired;
                }
            }
        }
        if !self.waiting_by_rank().is_empty() {
            let served = self.serve_line();
            round.admitted += served.admitted;
            round.told_sold_out += served.told_sold_out;
        }
        round
    }

    fn leave(&mut self, t: usize) {
        match (self.tickets[t].state, self.tickets[t].hold) {
            (TicketState::Waiting, _) => {}
            (TicketState::Admitted, Some(h)) => {
                self.return_hold(h, HoldState::Released);
            }
            _ => return,
        }
        self.tickets[t].state = TicketState::Left;
        self.serve_line();
    }

    fn cancel(&mut self, n: usize) -> bool {
        if self.orders[n].cancelled {
            return false;
        }
        self.orders[n].cancelled = true;
        let (phone, qty) = (self.orders[n].phone, self.orders[n].qty);
        self.product.stock += qty;
        if let Some(units) = self.units.get_mut(&phone) {
            *units = rules::allowance_after_return(*units, qty);
        }
        true
    }

    /// A place in line as a shopper is shown it: an admitted shopper whose hold ran out sees it
    /// expired before the next round returns its units.
    fn shown_state(&self, t: usize) -> &'static str {
        let ticket = &self.tickets[t];
        match (ticket.state, ticket.hold) {
            (TicketState::Admitted, Some(h))
                if rules::hold_ran_out(self.holds[h].expires_at, &self.clock.now()) =>
            {
                TicketState::Expired.as_str()
            }
            (state, _) => state.as_str(),
        }
    }

    /// What must hold after every step.
    fn check(&self) -> Result<(), TestCaseError> {
        let sold: i64 = self
            .orders
            .iter()
            .filter(|o| !o.cancelled)
            .map(|o| o.qty)
            .sum();
        let held: i64 = self
            .holds
            .iter()
            .filter(|h| h.state == HoldState::Live)
            .map(|h| h.qty)
            .sum();
        prop_assert!(self.product.stock >= 0, "stock went below zero");
        prop_assert_eq!(self.product.stock + sold + held, self.initial);
        if let Some(limit) = self.sale.as_ref().and_then(|s| s.per_customer_limit) {
            for phone in 0..PHONES {
                let bought: i64 = self
                    .orders
                    .iter()
                    .filter(|o| o.phone == phone && !o.cancelled)
                    .map(|o| o.qty)
                    .sum();
                let holding: i64 = self
                    .holds
                    .iter()
                    .filter(|h| h.phone == phone && h.state == HoldState::Live)
                    .map(|h| h.qty)
                    .sum();
                prop_assert!(
                    bought + holding <= limit,
                    "phone {phone} has {bought} bought + {holding} held over its limit {limit}"
                );
            }
        }
        let mut keys: Vec<usize> = self.keys.values().copied().collect();
        keys.sort_unstable();
        keys.dedup();
        prop_assert_eq!(keys.len(), self.orders.len(), "a key made two orders");
        Ok(())
    }
}

fn checkout_answer(e: &CheckoutError) -> String {
    match e {
        CheckoutError::SoldOut { available, .. } => format!("sold out ({available} left)"),
        CheckoutError::UnknownProduct { .. } => "unknown product".into(),
        CheckoutError::TooManyInOneOrder { limit, .. } => format!("at most {limit} an order"),
        CheckoutError::KeyReused => "key reused".into(),
        CheckoutError::SaleNotStarted { .. } => "not started".into(),
        CheckoutError::QueueRequired { .. } => "queue required".into(),
        CheckoutError::LimitReached { already, .. } => format!("limit reached ({already} had)"),
        CheckoutError::Hold(HoldProblem::Unknown) => "hold unknown".into(),
        CheckoutError::Hold(HoldProblem::Expired) => "hold expired".into(),
        CheckoutError::Hold(HoldProblem::Used) => "hold used".into(),
        CheckoutError::Hold(HoldProblem::Mismatch { .. } | HoldProblem::OtherPhone) => {
            "hold mismatch".into()
        }
        CheckoutError::Store(e) => panic!("storage failed: {e}"),
    }
}

fn join_answer(e: &JoinError) -> String {
    match e {
        JoinError::UnknownProduct { .. } => "unknown product".into(),
        JoinError::NotSold { .. } => "not sold".into(),
        JoinError::TooManyInOneOrder { limit, .. } => format!("at most {limit} an order"),
        JoinError::NoWaitingRoom { .. } => "no waiting room".into(),
        JoinError::LimitReached { already, .. } => format!("limit reached ({already} had)"),
        JoinError::AlreadyInLine { .. } => "already in line".into(),
        JoinError::Store(e) => panic!("storage failed: {e}"),
    }
}

fn standing_name(s: &Standing) -> &'static str {
    match s {
        Standing::Waiting { .. } => "waiting",
        Standing::Admitted { .. } => "admitted",
        Standing::SoldOut => "sold_out",
        Standing::Expired => "expired",
        Standing::Left => "left",
        Standing::Ordered { .. } => "ordered",
    }
}

/// Runs a scenario on the model alone: the asks it would send, its answers, and the checks.
fn run_model(s: &Scenario) -> Result<(), TestCaseError> {
    let clock = Clock::stopped_at(chrono::Utc::now());
    let mut model = Model::new(s, clock.clone());
    let mut sent: Vec<Ask> = Vec::new();
    let mut latest: HashMap<usize, usize> = HashMap::new();
    for op in &s.ops {
        match *op {
            Op::Order { phone, qty, key } => {
                let ask = Ask::plain(phone, qty, key);
                model.order(&ask);
                sent.push(ask);
            }
            Op::Burst { ref orders } => {
                for &(phone, qty, key) in orders {
                    let ask = Ask::plain(phone, qty, key);
                    model.order(&ask);
                    sent.push(ask);
                }
            }
            Op::Retry { n } if !sent.is_empty() => {
                let ask = sent[n % sent.len()].clone();
                model.order(&ask);
            }
            Op::Retry { .. } => {}
            Op::Join { phone, qty } => {
                if let (_, Some(t)) = model.join(phone, qty) {
                    latest.insert(phone, t);
                }
            }
            Op::UseHold { phone, key } => {
                let hold = latest.get(&phone).and_then(|t| model.tickets[*t].hold);
                if let Some(h) = hold {
                    let qty = u32::try_from(model.holds[h].qty).unwrap();
                    let ask = Ask {
                        phone,
                        qty,
                        key,
                        hold: Some(h),
                    };
                    model.order(&ask);
                    sent.push(ask);
                }
            }
            Op::Leave { phone } => {
                if let Some(&t) = latest.get(&phone) {
                    model.leave(t);
                }
            }
            Op::Admit => {
                model.admit();
            }
            Op::Wait { secs } => clock.advance(Duration::from_secs(secs)),
            Op::Cancel { n } if !model.orders.is_empty() => {
                let n = n % model.orders.len();
                model.cancel(n);
            }
            Op::Cancel { .. } => {}
            Op::Archive => model.product.archived = true,
        }
        model.check()?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_rules_never_oversell_never_exceed_a_limit_serve_in_order_and_never_order_twice(
        s in scenario(60)
    ) {
        run_model(&s)?;
    }
}

// ---- the real stores, in lockstep with the model ----

fn phone_text(phone: usize) -> String {
    format!("+44 7700 {:06}", 900 + phone)
}

fn new_order(ask: &Ask, hold_id: Option<i64>) -> NewOrder {
    let customer = CustomerInput {
        name: "Ada".into(),
        phone: phone_text(ask.phone),
        address: "1 Harbour Row".into(),
        note: String::new(),
    };
    let lines = [LineRequest {
        product_id: P,
        quantity: i64::from(ask.qty),
    }];
    let mut order =
        NewOrder::parse(&format!("rules-key-{:08}", ask.key), &lines, &customer).unwrap();
    order.hold = hold_id;
    order
}

async fn set_up(db: &Db, s: &Scenario, model: &Model) {
    db.exec("DELETE FROM sales").await;
    db.set_stock(P, s.stock).await;
    db.exec(&format!(
        "UPDATE products SET price_cents = {}, archived = {}, max_per_order = {} WHERE id = {P}",
        s.price,
        if matches!(db, Db::Pg(_)) {
            "FALSE"
        } else {
            "0"
        },
        s.max_per_order.map_or("NULL".to_owned(), |m| m.to_string()),
    ))
    .await;
    if let Some(sale) = &model.sale {
        let room = match (db, sale.waiting_room) {
            (Db::Pg(_), w) => w.to_string().to_uppercase(),
            (Db::Sqlite(_), w) => i64::from(w).to_string(),
        };
        db.exec(&format!(
            "INSERT INTO sales (product_id, starts_at, ends_at, sale_price_cents, \
             per_customer_limit, waiting_room, hold_seconds) VALUES ({P}, '{}', '{}', {}, {}, {room}, {HOLD_SECS})",
            sale.starts_at,
            sale.ends_at,
            sale.sale_price_cents,
            sale.per_customer_limit.map_or("NULL".to_owned(), |l| l.to_string()),
        ))
        .await;
    }
}

/// The same scenario on a real store and on the model, step by step.
async fn run_store(shop: &Shop, clock: &Clock, s: &Scenario) -> Result<(), TestCaseError> {
    let mut model = Model::new(s, clock.clone());
    set_up(&shop.db, s, &model).await;
    let store = &shop.store;
    let admin = match &shop.db {
        Db::Sqlite(pool) => AdminDb::Sqlite(pool.clone()),
        Db::Pg(pool) => AdminDb::Postgres(pool.clone()),
    };
    let mut sent: Vec<Ask> = Vec::new();
    let mut latest: HashMap<usize, usize> = HashMap::new();
    // the model's tickets and orders by the store's ids and codes
    let mut ticket_ids: HashMap<usize, i64> = HashMap::new();
    let mut codes: Vec<String> = Vec::new();

    async fn place(
        store: &std::sync::Arc<dyn common::shop::Backend>,
        db: &Db,
        ask: &Ask,
        ticket_ids: &HashMap<usize, i64>,
        model: &Model,
        codes: &mut Vec<String>,
    ) -> String {
        let hold_id = match ask.hold {
            Some(h) => {
                let ticket = ticket_ids[&model.holds[h].ticket];
                Some(
                    db.scalar("SELECT hold_id FROM queue_tickets WHERE id = $1", ticket)
                        .await,
                )
            }
            None => None,
        };
        let placed = store.place_order(new_order(ask, hold_id)).await;
        named(placed, codes)
    }

    /// The answer as the model words it; a new order's code is remembered.
    fn named(
        placed: Result<app::domain::OrderView, CheckoutError>,
        codes: &mut Vec<String>,
    ) -> String {
        match placed {
            Ok(view) => {
                let code = view.order_code.to_string();
                match codes.iter().position(|c| *c == code) {
                    Some(n) => format!("order #{n}"),
                    None => {
                        codes.push(code);
                        let line = &view.lines[0];
                        format!(
                            "order #{}: {} x {}",
                            codes.len() - 1,
                            line.quantity,
                            line.unit_price_cents
                        )
                    }
                }
            }
            Err(e) => checkout_answer(&e),
        }
    }

    for (step, op) in s.ops.iter().enumerate() {
        let (expected, got) = match *op {
            Op::Order { phone, qty, key } => {
                let ask = Ask::plain(phone, qty, key);
                let got = place(store, &shop.db, &ask, &ticket_ids, &model, &mut codes).await;
                sent.push(ask.clone());
                (model.order(&ask), got)
            }
            Op::Burst { ref orders } => {
                let asks: Vec<Ask> = orders
                    .iter()
                    .map(|&(phone, qty, key)| Ask::plain(phone, qty, key))
                    .collect();
                // each call queues its order on its first poll, in this order; the writer is held
                // meanwhile, so they reach it as one batch
                let placed = shop
                    .db
                    .while_writer_held(
                        P,
                        futures::future::join_all(
                            asks.iter()
                                .map(|ask| store.place_order(new_order(ask, None))),
                        ),
                    )
                    .await;
                let got: Vec<String> = placed.into_iter().map(|p| named(p, &mut codes)).collect();
                let expected: Vec<String> = asks.iter().map(|ask| model.order(ask)).collect();
                sent.extend(asks);
                (expected.join(" | "), got.join(" | "))
            }
            Op::Retry { n } if !sent.is_empty() => {
                let ask = sent[n % sent.len()].clone();
                let got = place(store, &shop.db, &ask, &ticket_ids, &model, &mut codes).await;
                (model.order(&ask), got)
            }
            Op::Join { phone, qty } => {
                let request = JoinRequest {
                    product_id: P,
                    quantity: Quantity::parse(i64::from(qty)).unwrap(),
                    phone: Phone::parse(&phone_text(phone)).unwrap(),
                };
                let got = match store.join_queue(request).await {
                    Ok(TicketInfo {
                        ticket_id,
                        standing,
                        ..
                    }) => (
                        format!("joined: {}", standing_name(&standing)),
                        Some(ticket_id),
                    ),
                    Err(JoinError::AlreadyInLine { ticket_id, .. }) => {
                        ("already in line".to_owned(), Some(ticket_id))
                    }
                    Err(e) => (join_answer(&e), None),
                };
                let (expected, t) = model.join(phone, qty);
                if let (Some(t), Some(id)) = (t, got.1) {
                    latest.insert(phone, t);
                    ticket_ids.insert(t, id);
                }
                (expected, got.0)
            }
            Op::UseHold { phone, key } => {
                let hold = latest.get(&phone).and_then(|t| model.tickets[*t].hold);
                let Some(h) = hold else { continue };
                let qty = u32::try_from(model.holds[h].qty).unwrap();
                let ask = Ask {
                    phone,
                    qty,
                    key,
                    hold: Some(h),
                };
                let got = place(store, &shop.db, &ask, &ticket_ids, &model, &mut codes).await;
                sent.push(ask.clone());
                (model.order(&ask), got)
            }
            Op::Leave { phone } => {
                let Some(&t) = latest.get(&phone) else {
                    continue;
                };
                let info = store.leave_queue(ticket_ids[&t]).await.unwrap();
                model.leave(t);
                let got = info
                    .map_or("gone", |i| standing_name(&i.standing))
                    .to_owned();
                (model.shown_state(t).to_owned(), got)
            }
            Op::Admit => {
                let round = store.run_admission().await.unwrap();
                (format!("{:?}", model.admit()), format!("{round:?}"))
            }
            Op::Wait { secs } => {
                clock.advance(Duration::from_secs(secs));
                continue;
            }
            Op::Cancel { n } if !codes.is_empty() => {
                let n = n % codes.len();
                let changed = admin
                    .change_status(
                        &codes[n],
                        OrderStatus::AwaitingPayment,
                        OrderStatus::Cancelled,
                        "",
                        "rules test",
                        clock.now().instant(),
                    )
                    .await
                    .unwrap();
                let got = matches!(changed, server::admin::orders_db::Changed::Done);
                (model.cancel(n).to_string(), got.to_string())
            }
            Op::Archive => {
                let yes = if matches!(shop.db, Db::Pg(_)) {
                    "TRUE"
                } else {
                    "1"
                };
                shop.db
                    .exec(&format!(
                        "UPDATE products SET archived = {yes} WHERE id = {P}"
                    ))
                    .await;
                model.product.archived = true;
                continue;
            }
            Op::Retry { .. } | Op::Cancel { .. } => continue,
        };
        prop_assert_eq!(
            &got,
            &expected,
            "{} step {} ({:?}) answered differently from the rules",
            shop.name,
            step,
            op
        );
        model.check()?;
        prop_assert_eq!(
            shop.db.stock(P).await,
            model.product.stock,
            "stock after step {}",
            step
        );
        prop_assert_eq!(
            shop.db.accounted(P).await,
            s.stock,
            "stock + sold + held after step {}",
            step
        );
    }
    // every place in line ends where the model says
    for (t, id) in &ticket_ids {
        let info = store.ticket(*id).await.unwrap().unwrap();
        prop_assert_eq!(standing_name(&info.standing), model.shown_state(*t));
    }
    prop_assert_eq!(
        shop.db.orders().await,
        model.orders.len() as i64,
        "one order per key"
    );
    Ok(())
}

/// Runs `cases` random scenarios on fresh stores of one backend.
fn on_stores<F, Fut>(cases: u32, open: F)
where
    F: Fn(Clock) -> Fut,
    Fut: std::future::Future<Output = Option<Shop>>,
{
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        // shrinking re-runs a case on a fresh store each time: keep it short
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    });
    let result = runner.run(&scenario(30), |s| {
        runtime.block_on(async {
            let clock = Clock::stopped_at(chrono::Utc::now());
            let Some(shop) = open(clock.clone()).await else {
                return Ok(());
            };
            run_store(&shop, &clock, &s).await
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn sqlite_answers_every_sequence_as_the_rules_do() {
    on_stores(
        40,
        |clock| async move { Some(Shop::sqlite_at(clock).await) },
    );
}

#[test]
fn postgres_answers_every_sequence_as_the_rules_do() {
    on_stores(16, Shop::postgres_at);
}
