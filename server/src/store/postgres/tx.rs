//! The writer-side port (`store::writes::port`) on Postgres, inside the desk's transaction: a set
//! at a time (arrays and `UNNEST`: a batch of 256 orders is a handful of round trips, not
//! several per order), with row locks where another server's desk could change what the rules
//! read — products in id order, holds, a place in line being left — and `ON CONFLICT` where
//! another server could insert the same thing at the same instant (an order code, a key, a
//! phone's place in line).

use super::classify;
use crate::store::clock::Now;
use crate::store::rows::{self, FactsRow, HoldRow};
use crate::store::sql::Conn;
use crate::store::sql_reads;
use crate::store::writes::port::{
    EndedHold, Facts, Head, KeyRecord, KeyRow, Lock, NewOrderRow, Rank, Serving, TicketRow,
    Waiting, WriteTx,
};
use app::domain::At;
use app::domain::{OrderCode, OrderLineView, OrderStatus, OrderView};
use app::rules::{HoldFacts, HoldState, TicketState, ARRIVAL_RANKS};
use app::store::StoreError;
use sqlx::PgConnection;
use std::collections::HashMap;

/// The desk's transaction on Postgres.
pub(super) struct PgTx<'c>(pub(super) &'c mut PgConnection);

impl PgTx<'_> {
    async fn run(&mut self, sql: &'static str) -> Result<(), StoreError> {
        sqlx::query(sql)
            .execute(&mut *self.0)
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

impl WriteTx for PgTx<'_> {
    const KEYS_MAY_RACE: bool = true;

    async fn key_records(
        &mut self,
        keys: &[&str],
    ) -> Result<HashMap<String, KeyRecord>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT k.key, k.request_hash, o.code FROM idempotency_keys k \
             JOIN orders o ON o.id = k.order_id WHERE k.key = ANY($1)",
        )
        .bind(keys)
        .fetch_all(&mut *self.0)
        .await
        .map_err(classify)?;
        Ok(rows
            .into_iter()
            .map(|(key, hash, code)| (key, KeyRecord { hash, code }))
            .collect())
    }

    async fn order(&mut self, code: &str) -> Result<OrderView, StoreError> {
        let code = OrderCode::parse(code).map_err(StoreError::unexpected)?;
        sql_reads::load_order(&mut Conn::Postgres(&mut *self.0), &code)
            .await?
            .ok_or_else(|| StoreError::unexpected("an idempotency key without its order"))
    }

    async fn products(
        &mut self,
        ids: &[i64],
        now: &Now,
        lock: Lock,
    ) -> Result<HashMap<i64, Facts>, StoreError> {
        // locked in id order, the order every batch locks them in (NO KEY UPDATE: inserts
        // referencing the product hold KEY SHARE locks on it, which FOR UPDATE would deadlock
        // with)
        let rows: Vec<FactsRow<At>> = sqlx::query_as(match lock {
            Lock::Rows => concat!(
                rows::facts_select!(),
                " WHERE p.id = ANY($2) ORDER BY p.id FOR NO KEY UPDATE OF p"
            ),
            Lock::None => concat!(rows::facts_select!(), " WHERE p.id = ANY($2) ORDER BY p.id"),
        })
        .bind(now.instant())
        .bind(ids)
        .fetch_all(&mut *self.0)
        .await
        .map_err(classify)?;
        rows.into_iter().map(rows::product_facts).collect()
    }

    async fn holds(&mut self, ids: &[i64]) -> Result<HashMap<i64, HoldFacts>, StoreError> {
        let rows: Vec<HoldRow<At>> = sqlx::query_as(concat!(
            rows::hold_select!(),
            " WHERE h.id = ANY($1) ORDER BY h.id FOR NO KEY UPDATE OF h"
        ))
        .bind(ids)
        .fetch_all(&mut *self.0)
        .await
        .map_err(classify)?;
        rows.into_iter()
            .map(|row| rows::hold_facts(row).map(|hold| (hold.id, hold)))
            .collect()
    }

    async fn units_bought(
        &mut self,
        product_id: i64,
        phone_keys: &[&str],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT phone_key, units FROM customer_units \
             WHERE product_id = $1 AND phone_key = ANY($2)",
        )
        .bind(product_id)
        .bind(phone_keys)
        .fetch_all(&mut *self.0)
        .await
        .map_err(classify)?;
        Ok(rows.into_iter().collect())
    }

    async fn take_stock(&mut self, taken: &[(i64, i64)]) -> Result<(), StoreError> {
        let (ids, units): (Vec<i64>, Vec<i64>) = taken.iter().copied().unzip();
        let done = sqlx::query(
            "UPDATE products SET stock = products.stock - d.units \
             FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS d(id, units) \
             WHERE products.id = d.id AND products.stock >= d.units",
        )
        .bind(&ids)
        .bind(&units)
        .execute(&mut *self.0)
        .await
        .map_err(classify)?;
        if done.rows_affected() != ids.len() as u64 {
            return Err(StoreError::unexpected("stock changed under its row lock"));
        }
        Ok(())
    }

    async fn return_stock(&mut self, product_id: i64, units: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE products SET stock = stock + $1 WHERE id = $2")
            .bind(units)
            .bind(product_id)
            .execute(&mut *self.0)
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn add_units(
        &mut self,
        product_id: i64,
        added: &[(&str, i64)],
    ) -> Result<(), StoreError> {
        let (phones, units): (Vec<&str>, Vec<i64>) = added.iter().copied().unzip();
        sqlx::query(
            "INSERT INTO customer_units (product_id, phone_key, units) \
             SELECT $1, p, u FROM UNNEST($2::TEXT[], $3::BIGINT[]) AS v(p, u) \
             ON CONFLICT (product_id, phone_key) DO UPDATE \
             SET units = customer_units.units + EXCLUDED.units",
        )
        .bind(product_id)
        .bind(&phones)
        .bind(&units)
        .execute(&mut *self.0)
        .await
        .map(|_| ())
        .map_err(classify)
    }

    async fn set_units(
        &mut self,
        product_id: i64,
        phone_key: &str,
        units: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE customer_units SET units = $3 WHERE product_id = $1 AND phone_key = $2")
            .bind(product_id)
            .bind(phone_key)
            .bind(units)
            .execute(&mut *self.0)
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn insert_orders(
        &mut self,
        rows: &[NewOrderRow<'_>],
        now: &Now,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let codes: Vec<&str> = rows.iter().map(|r| r.code.as_str()).collect();
        let names: Vec<&str> = rows.iter().map(|r| r.customer.name.as_str()).collect();
        let phones: Vec<&str> = rows.iter().map(|r| r.customer.phone.as_str()).collect();
        let addresses: Vec<&str> = rows.iter().map(|r| r.customer.address.as_str()).collect();
        let notes: Vec<&str> = rows.iter().map(|r| r.customer.note.as_str()).collect();
        let totals: Vec<i64> = rows.iter().map(|r| r.total_cents).collect();
        let inserted: Vec<(i64, String)> = sqlx::query_as(
            "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents, \
             created_at, status_changed_at) \
             SELECT o.code, $1, o.name, o.phone, o.address, o.note, o.total, $2, $2 \
             FROM UNNEST($3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], \
             $8::BIGINT[]) AS o(code, name, phone, address, note, total) \
             ON CONFLICT (code) DO NOTHING RETURNING id, code",
        )
        .bind(OrderStatus::AwaitingPayment.as_str())
        .bind(now.instant())
        .bind(&codes)
        .bind(&names)
        .bind(&phones)
        .bind(&addresses)
        .bind(&notes)
        .bind(&totals)
        .fetch_all(&mut *self.0)
        .await
        .map_err(classify)?;
        let ids: HashMap<String, i64> = inserted.into_iter().map(|(id, code)| (code, id)).collect();
        Ok(codes.iter().map(|code| ids.get(*code).copied()).collect())
    }

    async fn insert_lines(&mut self, lines: &[(i64, &OrderLineView)]) -> Result<(), StoreError> {
        let orders: Vec<i64> = lines.iter().map(|(order, _)| *order).collect();
        let products: Vec<i64> = lines.iter().map(|(_, l)| l.product_id).collect();
        let names: Vec<&str> = lines.iter().map(|(_, l)| l.product_name.as_str()).collect();
        let prices: Vec<i64> = lines.iter().map(|(_, l)| l.unit_price_cents).collect();
        let quantities: Vec<i64> = lines.iter().map(|(_, l)| i64::from(l.quantity)).collect();
        sqlx::query(
            "INSERT INTO order_lines (order_id, product_id, product_name, unit_price_cents, \
             quantity) SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], \
             $4::BIGINT[], $5::BIGINT[])",
        )
        .bind(&orders)
        .bind(&products)
        .bind(&names)
        .bind(&prices)
        .bind(&quantities)
        .execute(&mut *self.0)
        .await
        .map(|_| ())
        .map_err(classify)
    }

    async fn use_holds(&mut self, used: &[(i64, i64)]) -> Result<(), StoreError> {
        let (holds, orders): (Vec<i64>, Vec<i64>) = used.iter().copied().unzip();
        let done = sqlx::query(
            "UPDATE holds h SET state = $3, order_id = v.o \
             FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS v(h, o) \
             WHERE h.id = v.h AND h.state = $4",
        )
        .bind(&holds)
        .bind(&orders)
        .bind(HoldState::Used.as_str())
        .bind(HoldState::Live.as_str())
        .execute(&mut *self.0)
        .await
        .map_err(classify)?;
        if done.rows_affected() != holds.len() as u64 {
            return Err(StoreError::unexpected("a hold changed under its row lock"));
        }
        Ok(())
    }

    async fn record_keys(&mut self, keys: &[KeyRow<'_>], now: &Now) -> Result<u64, StoreError> {
        let texts: Vec<&str> = keys.iter().map(|k| k.key).collect();
        let hashes: Vec<&str> = keys.iter().map(|k| k.hash).collect();
        let orders: Vec<i64> = keys.iter().map(|k| k.order_id).collect();
        // a key another server committed since they were looked up makes this insert wait for
        // its commit, then skip it
        let recorded = sqlx::query(
            "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) \
             SELECT k.key, k.hash, k.order_id, $4 FROM UNNEST($1::TEXT[], $2::TEXT[], \
             $3::BIGINT[]) AS k(key, hash, order_id) ON CONFLICT (key) DO NOTHING",
        )
        .bind(&texts)
        .bind(&hashes)
        .bind(&orders)
        .bind(now.instant())
        .execute(&mut *self.0)
        .await
        .map_err(classify)?;
        Ok(recorded.rows_affected())
    }

    async fn savepoint(&mut self) -> Result<(), StoreError> {
        self.run("SAVEPOINT orders").await
    }

    async fn undo_to_savepoint(&mut self) -> Result<(), StoreError> {
        self.run("ROLLBACK TO SAVEPOINT orders").await?;
        self.run("RELEASE SAVEPOINT orders").await
    }

    async fn release_savepoint(&mut self) -> Result<(), StoreError> {
        self.run("RELEASE SAVEPOINT orders").await
    }

    async fn ticket_in_line(
        &mut self,
        product_id: i64,
        phone_key: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM queue_tickets WHERE product_id = $1 AND phone_key = $2 \
             AND state IN ('waiting', 'admitted')",
        )
        .bind(product_id)
        .bind(phone_key)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(classify)?;
        Ok(row.map(|(id,)| id))
    }

    async fn insert_ticket(
        &mut self,
        product_id: i64,
        phone_key: &str,
        quantity: i64,
        rank: Rank,
        now: &Now,
    ) -> Result<Option<i64>, StoreError> {
        let (arrival, drawn) = rank.columns();
        // arrival ranks come from one sequence, so the line is one line however many servers
        // take joins
        let row: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO queue_tickets (product_id, phone_key, quantity, rank, state, joined_at, \
             updated_at) VALUES ($1, $2, $3, CASE WHEN $4 THEN $5 + nextval('queue_arrival') \
             ELSE $6 END, 'waiting', $7, $7) \
             ON CONFLICT (product_id, phone_key) WHERE state IN ('waiting', 'admitted') DO NOTHING \
             RETURNING id",
        )
        .bind(product_id)
        .bind(phone_key)
        .bind(quantity)
        .bind(arrival)
        .bind(ARRIVAL_RANKS)
        .bind(drawn)
        .bind(now.instant())
        .fetch_optional(&mut *self.0)
        .await
        .map_err(classify)?;
        Ok(row.map(|(id,)| id))
    }

    async fn ticket(&mut self, ticket_id: i64) -> Result<Option<TicketRow>, StoreError> {
        let row: Option<(i64, String, Option<i64>)> = sqlx::query_as(
            "SELECT product_id, state, hold_id FROM queue_tickets WHERE id = $1 FOR NO KEY UPDATE",
        )
        .bind(ticket_id)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(classify)?;
        row.map(rows::ticket_row).transpose()
    }

    async fn set_tickets(
        &mut self,
        ticket_ids: &[i64],
        state: TicketState,
        now: &Now,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE queue_tickets SET state = $1, updated_at = $2 WHERE id = ANY($3)")
            .bind(state.as_str())
            .bind(now.instant())
            .bind(ticket_ids)
            .execute(&mut *self.0)
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn end_ticket(
        &mut self,
        ticket_id: i64,
        state: TicketState,
        now: &Now,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE queue_tickets SET state = $1, updated_at = $2 WHERE id = $3 \
             AND state IN ('waiting', 'admitted')",
        )
        .bind(state.as_str())
        .bind(now.instant())
        .bind(ticket_id)
        .execute(&mut *self.0)
        .await
        .map(|_| ())
        .map_err(classify)
    }

    async fn end_hold(
        &mut self,
        hold_id: i64,
        state: HoldState,
    ) -> Result<Option<EndedHold>, StoreError> {
        let row: Option<(i64, String, i64)> = sqlx::query_as(
            "UPDATE holds SET state = $1 WHERE id = $2 AND state = 'live' \
             RETURNING product_id, phone_key, quantity",
        )
        .bind(state.as_str())
        .bind(hold_id)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(classify)?;
        Ok(row.map(|(product_id, phone_key, quantity)| EndedHold {
            product_id,
            phone_key,
            quantity,
        }))
    }

    async fn overdue_holds(&mut self, now: &Now) -> Result<Vec<(i64, i64)>, StoreError> {
        sqlx::query_as(
            "SELECT h.id, h.ticket_id FROM holds h WHERE h.state = 'live' AND h.expires_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, h.product_id))",
        )
        .bind(now.instant())
        .fetch_all(&mut *self.0)
        .await
        .map_err(classify)
    }

    async fn close_ended_lines(&mut self, now: &Now) -> Result<u64, StoreError> {
        sqlx::query(
            "UPDATE queue_tickets SET state = 'sold_out', updated_at = $1 WHERE state = 'waiting' \
             AND product_id IN (SELECT product_id FROM sales WHERE ends_at <= $1)",
        )
        .bind(now.instant())
        .execute(&mut *self.0)
        .await
        .map(|done| done.rows_affected())
        .map_err(classify)
    }

    async fn lines_to_serve(&mut self, now: &Now) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT s.product_id FROM sales s WHERE s.waiting_room AND s.starts_at <= $1 \
             AND s.ends_at > $1 AND EXISTS (SELECT 1 FROM queue_tickets t \
             WHERE t.product_id = s.product_id AND t.state = 'waiting') \
             AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, s.product_id))",
        )
        .bind(now.instant())
        .fetch_all(&mut *self.0)
        .await
        .map_err(classify)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn serving(&mut self, product_id: i64, now: &Now) -> Result<Option<Serving>, StoreError> {
        let row: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT hold_seconds, sale_price_cents, per_customer_limit FROM sales \
             WHERE product_id = $1 AND waiting_room AND starts_at <= $2 AND ends_at > $2 \
             AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, $1))",
        )
        .bind(product_id)
        .bind(now.instant())
        .fetch_optional(&mut *self.0)
        .await
        .map_err(classify)?;
        Ok(row.map(|(hold_seconds, price_cents, limit)| Serving {
            hold_seconds,
            price_cents,
            limit,
        }))
    }

    async fn stock_to_serve(&mut self, product_id: i64) -> Result<i64, StoreError> {
        // the product row's lock serialises serving this line across servers
        let (stock,): (i64,) =
            sqlx::query_as("SELECT stock FROM products WHERE id = $1 FOR NO KEY UPDATE")
                .bind(product_id)
                .fetch_one(&mut *self.0)
                .await
                .map_err(classify)?;
        Ok(stock)
    }

    async fn heads(&mut self, product_id: i64, limit: i64) -> Result<Vec<Head>, StoreError> {
        sqlx::query_as(
            "SELECT id, phone_key, quantity FROM queue_tickets \
             WHERE product_id = $1 AND state = 'waiting' ORDER BY rank LIMIT $2",
        )
        .bind(product_id)
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await
        .map_err(classify)
    }

    async fn grant_holds(
        &mut self,
        product_id: i64,
        serving: &Serving,
        expires_at: At,
        admitted: &[Head],
        now: &Now,
    ) -> Result<(), StoreError> {
        let tickets: Vec<i64> = admitted.iter().map(|(t, _, _)| *t).collect();
        let phones: Vec<&str> = admitted.iter().map(|(_, p, _)| p.as_str()).collect();
        let quantities: Vec<i64> = admitted.iter().map(|(_, _, q)| *q).collect();
        let holds: Vec<(i64, i64)> = sqlx::query_as(
            "INSERT INTO holds (ticket_id, product_id, phone_key, quantity, unit_price_cents, \
             state, expires_at, created_at) \
             SELECT t, $2, p, q, $3, 'live', $4, $5 \
             FROM UNNEST($1::BIGINT[], $6::TEXT[], $7::BIGINT[]) AS v(t, p, q) \
             RETURNING id, ticket_id",
        )
        .bind(&tickets)
        .bind(product_id)
        .bind(serving.price_cents)
        .bind(expires_at)
        .bind(now.instant())
        .bind(&phones)
        .bind(&quantities)
        .fetch_all(&mut *self.0)
        .await
        .map_err(classify)?;
        let (hold_ids, ticket_ids): (Vec<i64>, Vec<i64>) = holds.into_iter().unzip();
        sqlx::query(
            "UPDATE queue_tickets q SET state = 'admitted', hold_id = v.h, updated_at = $3 \
             FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS v(h, t) WHERE q.id = v.t",
        )
        .bind(&hold_ids)
        .bind(&ticket_ids)
        .bind(now.instant())
        .execute(&mut *self.0)
        .await
        .map(|_| ())
        .map_err(classify)
    }

    async fn held_units(&mut self, product_id: i64) -> Result<i64, StoreError> {
        let (held,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(SUM(quantity), 0)::BIGINT FROM holds \
             WHERE product_id = $1 AND state = 'live'",
        )
        .bind(product_id)
        .fetch_one(&mut *self.0)
        .await
        .map_err(classify)?;
        Ok(held)
    }

    async fn waiting_after(
        &mut self,
        product_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Waiting>, StoreError> {
        sqlx::query_as(
            "SELECT id, rank, quantity FROM queue_tickets WHERE product_id = $1 \
             AND state = 'waiting' AND rank > $2 ORDER BY rank LIMIT $3",
        )
        .bind(product_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await
        .map_err(classify)
    }

    async fn sell_out_after(
        &mut self,
        product_id: i64,
        after: i64,
        now: &Now,
    ) -> Result<u64, StoreError> {
        sqlx::query(
            "UPDATE queue_tickets SET state = 'sold_out', updated_at = $1 WHERE product_id = $2 \
             AND state = 'waiting' AND rank > $3",
        )
        .bind(now.instant())
        .bind(product_id)
        .bind(after)
        .execute(&mut *self.0)
        .await
        .map(|done| done.rows_affected())
        .map_err(classify)
    }
}
