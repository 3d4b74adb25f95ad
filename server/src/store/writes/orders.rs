//! The order path, once for both databases: a run of orders from one desk batch, in arrival
//! order. Each order is replayed (its key was used before), refused, or decided by the rules
//! (`app::rules`) against what the run has left of each product — all its lines or none — and
//! then the run's decisions are written together: orders, lines, one decrement per product, the
//! allowances counted, the holds used, the keys. One order is a run of one.
//!
//! Every refusal happens before the first write, so no order needs a savepoint of its own.

use super::port::{Facts, KeyRecord, KeyRow, Lock, NewOrderRow, WriteTx};
use crate::store::clock::{fingerprint_hash, Now};
use app::domain::{NewOrder, OrderCode, OrderLineView, OrderStatus, OrderView};
use app::rules::{self, HoldFacts, HoldState, TicketState};
use app::store::{CheckoutError, StoreError};
use std::collections::{BTreeMap, HashMap};

/// What a shopper is answered.
pub(crate) type Answer = Result<OrderView, CheckoutError>;

/// Draws of a fresh order code before giving up (a collision is ~1 in 10^12 per draw).
const CODE_DRAWS: usize = 8;

/// An order decided and not yet written.
struct Decided<'a> {
    order: &'a NewOrder,
    fingerprint: &'a str,
    phone_key: &'a str,
    lines: Vec<OrderLineView>,
    total_cents: i64,
    /// The hold it uses: (hold, ticket).
    hold: Option<(i64, i64)>,
    /// Units it takes from stock: (product, units).
    taken: Vec<(i64, i64)>,
    /// Units it counts against the phone number's allowance: (product, units).
    counted: Vec<(i64, i64)>,
}

enum Outcome {
    Refused(CheckoutError),
    /// A key recorded before: that order (its code), again.
    Replay(String),
    /// The n-th decided order (its own, or the first with this key earlier in the run).
    Placed(usize),
}

/// What the run has read and left: products (locked), holds (locked), allowances.
struct RunFacts<'a> {
    products: HashMap<i64, Facts>,
    holds: HashMap<i64, HoldFacts>,
    bought: HashMap<(i64, &'a str), i64>,
}

/// Places a run of orders inside the transaction; one answer per order, in order. `Err` only for
/// a storage failure (or a key another server recorded meanwhile: `StoreError::KeyRaced`), which
/// the caller undoes.
pub(crate) async fn place<T: WriteTx>(
    tx: &mut T,
    orders: &[&NewOrder],
    now: &Now,
) -> Result<Vec<Answer>, StoreError> {
    let fingerprints: Vec<String> = orders
        .iter()
        .map(|o| fingerprint_hash(&o.fingerprint()))
        .collect();
    let phone_keys: Vec<String> = orders.iter().map(|o| o.customer.phone.key()).collect();
    let keys: Vec<&str> = orders.iter().map(|o| o.idempotency_key.as_str()).collect();
    let known = tx.key_records(&keys).await?;
    let mut facts = read_facts(tx, orders, &known, now).await?;

    let mut decided: Vec<Decided> = Vec::new();
    let mut outcomes = Vec::with_capacity(orders.len());
    let mut placed_keys: HashMap<&str, usize> = HashMap::new();
    for (i, order) in orders.iter().enumerate() {
        let key = keys[i];
        if let Some(record) = known.get(key) {
            outcomes.push(
                match rules::replay_allowed(&record.hash, &fingerprints[i]) {
                    Ok(()) => Outcome::Replay(record.code.clone()),
                    Err(refused) => Outcome::Refused(refused),
                },
            );
            continue;
        }
        // the same key earlier in this run: a retry of an order not yet committed
        if let Some(&n) = placed_keys.get(key) {
            outcomes.push(
                match rules::replay_allowed(decided[n].fingerprint, &fingerprints[i]) {
                    Ok(()) => Outcome::Placed(n),
                    Err(refused) => Outcome::Refused(refused),
                },
            );
            continue;
        }
        match decide(tx, &mut facts, order, &phone_keys[i], &fingerprints[i], now).await {
            Ok(one) => {
                placed_keys.insert(key, decided.len());
                outcomes.push(Outcome::Placed(decided.len()));
                decided.push(one);
            }
            Err(CheckoutError::Store(e)) => return Err(e),
            Err(refused) => outcomes.push(Outcome::Refused(refused)),
        }
    }
    let views = write(tx, &decided, now).await?;
    let mut answers = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        answers.push(match outcome {
            Outcome::Refused(refused) => Err(refused),
            // read inside the transaction, on the writer's connection: a retry costs the desk
            // two indexed reads, not a trip through the readers' pool
            Outcome::Replay(code) => Ok(tx.order(&code).await?),
            Outcome::Placed(n) => views
                .get(n)
                .cloned()
                .ok_or_else(|| StoreError::unexpected("a decided order was not written"))
                .map_err(CheckoutError::from),
        });
    }
    Ok(answers)
}

/// The products the run's new orders name (locked, in id order) and the holds they use
/// (locked): read once, before any decision.
async fn read_facts<'a, T: WriteTx>(
    tx: &mut T,
    orders: &[&NewOrder],
    known: &HashMap<String, KeyRecord>,
    now: &Now,
) -> Result<RunFacts<'a>, StoreError> {
    let new = orders
        .iter()
        .filter(|o| !known.contains_key(o.idempotency_key.as_str()));
    let mut product_ids: Vec<i64> = new
        .clone()
        .filter(|o| o.hold.is_none())
        .flat_map(|o| o.lines.iter().map(|(id, _)| *id))
        .collect();
    product_ids.sort_unstable();
    product_ids.dedup();
    let mut hold_ids: Vec<i64> = new.filter_map(|o| o.hold).collect();
    hold_ids.sort_unstable();
    hold_ids.dedup();
    let products = match product_ids.is_empty() {
        true => HashMap::new(),
        false => tx.products(&product_ids, now, Lock::Rows).await?,
    };
    let holds = match hold_ids.is_empty() {
        true => HashMap::new(),
        false => tx.holds(&hold_ids).await?,
    };
    Ok(RunFacts {
        products,
        holds,
        bought: HashMap::new(),
    })
}

/// One new order, decided by the rules against what the run has left; on success what it takes
/// is taken from `facts`.
async fn decide<'a, T: WriteTx>(
    tx: &mut T,
    facts: &mut RunFacts<'a>,
    order: &'a NewOrder,
    phone_key: &'a str,
    fingerprint: &'a str,
    now: &Now,
) -> Result<Decided<'a>, CheckoutError> {
    if let Some(hold_id) = order.hold {
        let line = rules::check_hold(facts.holds.get(&hold_id), &order.lines, phone_key, now)?;
        let view = line.view()?;
        let total_cents = rules::order_total(std::slice::from_ref(&view))?;
        let ticket_id = match facts.holds.get_mut(&hold_id) {
            Some(hold) => {
                hold.state = HoldState::Used;
                hold.ticket_id
            }
            None => return Err(StoreError::unexpected("a checked hold vanished").into()),
        };
        // its units left stock (and counted) when it was granted
        return Ok(Decided {
            order,
            fingerprint,
            phone_key,
            lines: vec![view],
            total_cents,
            hold: Some((hold_id, ticket_id)),
            taken: Vec::new(),
            counted: Vec::new(),
        });
    }
    let mut lines = Vec::with_capacity(order.lines.len());
    for (product_id, quantity) in &order.lines {
        let (product, sale) = match facts.products.get(product_id) {
            Some((p, s)) => (Some(p), s.as_ref()),
            None => (None, None),
        };
        let already = match rules::limit_in_force(sale, now) {
            Some(_) => bought(tx, &mut facts.bought, *product_id, phone_key).await?,
            None => 0,
        };
        lines.push(rules::decide_line(
            *product_id,
            *quantity,
            product,
            sale,
            already,
            now,
        )?);
    }
    // every line stands (each product is named once): take them
    let mut views = Vec::with_capacity(lines.len());
    let mut taken = Vec::with_capacity(lines.len());
    let mut counted = Vec::new();
    for line in &lines {
        if let Some((product, _)) = facts.products.get_mut(&line.product_id) {
            product.stock -= line.units();
        }
        taken.push((line.product_id, line.units()));
        if line.counts_against_limit {
            *facts
                .bought
                .entry((line.product_id, phone_key))
                .or_insert(0) += line.units();
            counted.push((line.product_id, line.units()));
        }
        views.push(line.view()?);
    }
    let total_cents = rules::order_total(&views)?;
    Ok(Decided {
        order,
        fingerprint,
        phone_key,
        lines: views,
        total_cents,
        hold: None,
        taken,
        counted,
    })
}

/// What a phone number has bought of a product, read once per run and kept up to date by it.
async fn bought<'a, T: WriteTx>(
    tx: &mut T,
    bought: &mut HashMap<(i64, &'a str), i64>,
    product_id: i64,
    phone_key: &'a str,
) -> Result<i64, StoreError> {
    if let Some(units) = bought.get(&(product_id, phone_key)) {
        return Ok(*units);
    }
    let read = tx.units_bought(product_id, &[phone_key]).await?;
    let units = read.get(phone_key).copied().unwrap_or(0);
    bought.insert((product_id, phone_key), units);
    Ok(units)
}

/// Writes the run's decided orders; their views, in order.
async fn write<T: WriteTx>(
    tx: &mut T,
    decided: &[Decided<'_>],
    now: &Now,
) -> Result<Vec<OrderView>, StoreError> {
    if decided.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, codes) = insert_orders(tx, decided, now).await?;

    let lines: Vec<(i64, &OrderLineView)> = decided
        .iter()
        .zip(&ids)
        .flat_map(|(d, id)| d.lines.iter().map(move |line| (*id, line)))
        .collect();
    tx.insert_lines(&lines).await?;

    // stock and allowances, summed per product (and phone): one write each
    let mut taken: BTreeMap<i64, i64> = BTreeMap::new();
    let mut counted: BTreeMap<i64, BTreeMap<&str, i64>> = BTreeMap::new();
    for d in decided {
        for (product_id, units) in &d.taken {
            *taken.entry(*product_id).or_insert(0) += units;
        }
        for (product_id, units) in &d.counted {
            *counted
                .entry(*product_id)
                .or_default()
                .entry(d.phone_key)
                .or_insert(0) += units;
        }
    }
    if !taken.is_empty() {
        let taken: Vec<(i64, i64)> = taken.into_iter().collect();
        tx.take_stock(&taken).await?;
    }
    for (product_id, phones) in counted {
        let added: Vec<(&str, i64)> = phones.into_iter().collect();
        tx.add_units(product_id, &added).await?;
    }

    let used: Vec<(i64, i64)> = decided
        .iter()
        .zip(&ids)
        .filter_map(|(d, id)| d.hold.map(|(hold, _)| (hold, *id)))
        .collect();
    if !used.is_empty() {
        tx.use_holds(&used).await?;
        let tickets: Vec<i64> = decided
            .iter()
            .filter_map(|d| d.hold.map(|(_, ticket)| ticket))
            .collect();
        tx.set_tickets(&tickets, TicketState::Ordered, now).await?;
    }

    let keys: Vec<KeyRow> = decided
        .iter()
        .zip(&ids)
        .map(|(d, id)| KeyRow {
            key: d.order.idempotency_key.as_str(),
            hash: d.fingerprint,
            order_id: *id,
        })
        .collect();
    let recorded = tx.record_keys(&keys, now).await?;
    if recorded != keys.len() as u64 {
        // another server's order has this key: its insert made ours wait for its commit
        return Err(StoreError::KeyRaced);
    }

    Ok(decided
        .iter()
        .zip(codes)
        .map(|(d, code)| {
            let customer = &d.order.customer;
            OrderView {
                order_code: code,
                status: OrderStatus::AwaitingPayment,
                total_cents: d.total_cents,
                lines: d.lines.clone(),
                customer_name: customer.name.as_str().to_owned(),
                phone: customer.phone.as_str().to_owned(),
                address: customer.address.as_str().to_owned(),
                note: customer.note.as_str().to_owned(),
                created_at: now.instant(),
                pay_by: None,
                tracking_number: String::new(),
                live_token: String::new(),
            }
        })
        .collect())
}

/// Inserts the orders, each under a fresh random code (drawn again on the rare collision).
async fn insert_orders<T: WriteTx>(
    tx: &mut T,
    decided: &[Decided<'_>],
    now: &Now,
) -> Result<(Vec<i64>, Vec<OrderCode>), StoreError> {
    let mut codes: Vec<OrderCode> = decided.iter().map(|_| fresh_code()).collect();
    let mut ids: Vec<Option<i64>> = vec![None; decided.len()];
    for _ in 0..CODE_DRAWS {
        let todo: Vec<usize> = (0..decided.len()).filter(|i| ids[*i].is_none()).collect();
        if todo.is_empty() {
            break;
        }
        let rows: Vec<NewOrderRow> = todo
            .iter()
            .map(|i| NewOrderRow {
                code: &codes[*i],
                customer: &decided[*i].order.customer,
                total_cents: decided[*i].total_cents,
            })
            .collect();
        let inserted = tx.insert_orders(&rows, now).await?;
        for (i, id) in todo.into_iter().zip(inserted) {
            match id {
                Some(id) => ids[i] = Some(id),
                None => codes[i] = fresh_code(),
            }
        }
    }
    let ids = ids
        .into_iter()
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| StoreError::unexpected("could not find a free order code"))?;
    Ok((ids, codes))
}

fn fresh_code() -> OrderCode {
    OrderCode::from_random_bytes(rand::random())
}
