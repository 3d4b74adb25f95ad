//! The waiting room's writes, once for both databases, inside desk batches: joining, leaving, and
//! admission rounds (expire holds, close lines whose sale ended, admit from the head of each line,
//! tell those who can no longer be served). Where a ticket stands is read in `sql_reads`.
//!
//! Stock accounting: admitting a shopper moves their units from `products.stock` into a live
//! hold; a used hold is an order; an expired or released hold puts its units back, once (every
//! transition is guarded by the state it leaves).

use super::port::{Lock, Rank, WriteTx};
use crate::store::clock::Now;
use app::domain::JoinRequest;
use app::rules::{self, HoldState, Placing, SoldOutWalk, TicketState, Turn, ARRIVAL_RANKS};
use app::store::{AdmissionRound, JoinError, StoreError};
use std::collections::HashMap;

/// Places in line read at a time.
const PAGE: i64 = 512;

/// A new place in line; a phone number already in this line is refused. Returns the ticket id.
pub(crate) async fn join<T: WriteTx>(
    tx: &mut T,
    request: &JoinRequest,
    now: &Now,
) -> Result<i64, JoinError> {
    let product_id = request.product_id;
    let phone_key = request.phone.key();
    // not locked: joins before the start touch no stock, and serving the line locks the row
    let facts = tx.products(&[product_id], now, Lock::None).await?;
    let (product, sale) = match facts.get(&product_id) {
        Some((p, s)) => (Some(p), s.as_ref()),
        None => (None, None),
    };
    let in_line = tx.ticket_in_line(product_id, &phone_key).await?;
    let already = match rules::limit_in_force(sale, now) {
        Some(_) => units_bought(tx, product_id, &phone_key).await?,
        None => 0,
    };
    let placing = rules::decide_join(
        product_id,
        request.quantity,
        product,
        sale,
        in_line,
        already,
        now,
    )?;
    let rank = match placing {
        Placing::Arrival => Rank::Arrival,
        _ => Rank::Drawn(rand::random_range(0..ARRIVAL_RANKS)),
    };
    let quantity = i64::from(request.quantity.get());
    let inserted = tx
        .insert_ticket(product_id, &phone_key, quantity, rank, now)
        .await?;
    let Some(id) = inserted else {
        // the same phone joined through another server at the same instant: keep its ticket
        return tx
            .ticket_in_line(product_id, &phone_key)
            .await?
            .ok_or_else(|| StoreError::unexpected("a place in line vanished").into());
    };
    if rank == Rank::Arrival {
        serve_line(tx, product_id, now).await?;
    }
    Ok(id)
}

/// Leaves the line. An admitted shopper's units go back to stock and on to the next in line.
/// A ticket no longer in line (or unknown) is left as it is.
pub(crate) async fn leave<T: WriteTx>(
    tx: &mut T,
    ticket_id: i64,
    now: &Now,
) -> Result<(), StoreError> {
    let Some(ticket) = tx.ticket(ticket_id).await? else {
        return Ok(());
    };
    match (ticket.state, ticket.hold_id) {
        (TicketState::Waiting, _) => {}
        (TicketState::Admitted, Some(hold_id)) => {
            return_hold(tx, hold_id, HoldState::Released).await?;
        }
        _ => return Ok(()),
    }
    tx.end_ticket(ticket_id, TicketState::Left, now).await?;
    serve_line(tx, ticket.product_id, now).await?;
    Ok(())
}

/// Ends a live hold (`expired` or `released`): its units go back to stock and off the phone
/// number's count, exactly once. Returns whether it was live.
async fn return_hold<T: WriteTx>(
    tx: &mut T,
    hold_id: i64,
    end_state: HoldState,
) -> Result<bool, StoreError> {
    let Some(ended) = tx.end_hold(hold_id, end_state).await? else {
        return Ok(false);
    };
    tx.return_stock(ended.product_id, ended.quantity).await?;
    let had = units_bought(tx, ended.product_id, &ended.phone_key).await?;
    let left = rules::allowance_after_return(had, ended.quantity);
    tx.set_units(ended.product_id, &ended.phone_key, left)
        .await?;
    Ok(true)
}

/// One round for every waiting room: expire overdue holds, close lines whose sale ended, then
/// serve each line that has people waiting.
pub(crate) async fn admission_round<T: WriteTx>(
    tx: &mut T,
    now: &Now,
) -> Result<AdmissionRound, StoreError> {
    let mut round = AdmissionRound::default();
    // a paused product's holds do not run out: their shoppers cannot check out meanwhile
    for (hold_id, ticket_id) in tx.overdue_holds(now).await? {
        if return_hold(tx, hold_id, HoldState::Expired).await? {
            round.holds_expired += 1;
            tx.end_ticket(ticket_id, TicketState::Expired, now).await?;
        }
    }
    round.told_sold_out += tx.close_ended_lines(now).await?;
    for product_id in tx.lines_to_serve(now).await? {
        let served = serve_line(tx, product_id, now).await?;
        round.admitted += served.admitted;
        round.told_sold_out += served.told_sold_out;
    }
    Ok(round)
}

/// Serves one product's line: admits from the head while free stock covers the head's quantity
/// (strict order: nobody jumps the line), then tells everyone who can no longer be served — the
/// free units plus the units in live holds do not reach their place in line — that it is sold
/// out. The heads are read a page at a time, decided in order here and written together.
async fn serve_line<T: WriteTx>(
    tx: &mut T,
    product_id: i64,
    now: &Now,
) -> Result<AdmissionRound, StoreError> {
    let mut round = AdmissionRound::default();
    // a paused line admits nobody: it keeps its order until the owner resumes
    let Some(serving) = tx.serving(product_id, now).await? else {
        return Ok(round);
    };
    let mut stock = tx.stock_to_serve(product_id).await?;
    let expires_at = now.instant().plus_secs(serving.hold_seconds);
    loop {
        let heads = tx.heads(product_id, PAGE).await?;
        if heads.is_empty() {
            break;
        }
        // what each phone of the page has bought already, read once; a phone twice in a page
        // sees its first admission (as the rules would, head by head)
        let mut bought = match serving.limit {
            Some(_) => {
                let phones: Vec<&str> = heads.iter().map(|(_, phone, _)| phone.as_str()).collect();
                tx.units_bought(product_id, &phones).await?
            }
            None => HashMap::new(),
        };
        let mut counted: HashMap<&str, i64> = HashMap::new();
        let mut admitted = Vec::new();
        let mut left = Vec::new();
        let mut stopped = false;
        for head in &heads {
            let (ticket_id, phone_key, quantity) = head;
            if !rules::stock_covers(*quantity, stock) {
                stopped = true;
                break;
            }
            let already = bought.get(phone_key).copied().unwrap_or(0);
            match rules::turn_within(*quantity, serving.limit, already) {
                Turn::Leave => {
                    left.push(*ticket_id);
                    continue;
                }
                Turn::Admit {
                    counts_against_limit,
                } => {
                    if counts_against_limit {
                        *bought.entry(phone_key.clone()).or_insert(0) += quantity;
                        *counted.entry(phone_key.as_str()).or_insert(0) += quantity;
                    }
                }
            }
            stock -= quantity;
            admitted.push(head.clone());
        }
        if !left.is_empty() {
            tx.set_tickets(&left, TicketState::Left, now).await?;
        }
        if !counted.is_empty() {
            let added: Vec<(&str, i64)> = counted.into_iter().collect();
            tx.add_units(product_id, &added).await?;
        }
        if !admitted.is_empty() {
            let units: i64 = admitted.iter().map(|(_, _, q)| q).sum();
            tx.take_stock(&[(product_id, units)]).await?;
            tx.grant_holds(product_id, &serving, expires_at, &admitted, now)
                .await?;
            round.admitted += admitted.len() as u64;
        }
        // the head stock does not cover stops the round (nobody jumps the line); a page that
        // only had shoppers leave is read again
        if stopped || (admitted.is_empty() && left.is_empty()) {
            break;
        }
    }
    round.told_sold_out = tell_sold_out(tx, product_id, stock, now).await?;
    Ok(round)
}

/// Walks the line in order with a budget of free + held units; whoever the budget cannot reach is
/// sold out. Once the budget is spent the rest of the line is closed in one statement.
async fn tell_sold_out<T: WriteTx>(
    tx: &mut T,
    product_id: i64,
    stock: i64,
    now: &Now,
) -> Result<u64, StoreError> {
    let held = tx.held_units(product_id).await?;
    let mut walk = SoldOutWalk::new(stock, held);
    let mut told = 0_u64;
    // the rank of the last place looked at
    let mut after = i64::MIN;
    while !walk.spent() {
        let page = tx.waiting_after(product_id, after, PAGE).await?;
        if page.is_empty() {
            return Ok(told);
        }
        let mut sold_out = Vec::new();
        for (ticket_id, rank, quantity) in page {
            if walk.spent() {
                break;
            }
            after = rank;
            if !walk.keeps_place(quantity) {
                sold_out.push(ticket_id);
            }
        }
        if !sold_out.is_empty() {
            tx.set_tickets(&sold_out, TicketState::SoldOut, now).await?;
            told += sold_out.len() as u64;
        }
    }
    // the budget is spent: nobody further back can be served
    Ok(told + tx.sell_out_after(product_id, after, now).await?)
}

async fn units_bought<T: WriteTx>(
    tx: &mut T,
    product_id: i64,
    phone_key: &str,
) -> Result<i64, StoreError> {
    let units = tx.units_bought(product_id, &[phone_key]).await?;
    Ok(units.get(phone_key).copied().unwrap_or(0))
}
