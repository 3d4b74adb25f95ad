//! The writer-side port (`store::writes::port`) on SQLite: cached prepared statements on the
//! desk's own rusqlite connection, inside its `BEGIN IMMEDIATE` transaction, a row at a time
//! (a statement costs microseconds here: there is no round trip to save). The one writer holds
//! the whole database, so nothing is locked row by row and no key can be recorded meanwhile.
//!
//! Every method finishes without waiting on anything: the writer thread polls the procedures'
//! future once (`writer::run_ready`).

use super::db_error;
use crate::store::clock::Now;
use crate::store::rows::{self, FactsRow, HoldRow};
use crate::store::sql_reads::{self, LineRow, OrderRow, LINES_OF_ORDER, ORDER_BY_CODE};
use crate::store::writes::port::{
    EndedHold, Facts, Head, KeyRecord, KeyRow, Lock, NewOrderRow, Rank, Serving, TicketRow,
    Waiting, WriteTx,
};
use app::domain::At;
use app::domain::{OrderCode, OrderLineView, OrderStatus, OrderView};
use app::rules::{HoldFacts, HoldState, TicketState, ARRIVAL_RANKS};
use app::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;

/// A row's columns as a tuple: `columns!(r; 0 1 2)` is `(r.get(0)?, r.get(1)?, r.get(2)?)`.
macro_rules! columns {
    ($row:ident; $($i:literal)+) => {
        ($($row.get($i)?,)+)
    };
}

/// The desk's transaction on SQLite.
pub(super) struct SqliteTx<'c>(pub(super) &'c Connection);

impl SqliteTx<'_> {
    fn execute(&self, sql: &str, values: impl rusqlite::Params) -> Result<usize, StoreError> {
        self.0
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(values))
            .map_err(db_error)
    }

    fn one_row(
        &self,
        sql: &str,
        values: impl rusqlite::Params,
        what: &str,
    ) -> Result<(), StoreError> {
        match self.execute(sql, values)? {
            1 => Ok(()),
            _ => Err(StoreError::unexpected(format!(
                "{what} changed inside the write lock"
            ))),
        }
    }
}

impl WriteTx for SqliteTx<'_> {
    const KEYS_MAY_RACE: bool = false;

    async fn key_records(
        &mut self,
        keys: &[&str],
    ) -> Result<HashMap<String, KeyRecord>, StoreError> {
        let mut stmt = self
            .0
            .prepare_cached(
                "SELECT k.request_hash, o.code FROM idempotency_keys k \
                 JOIN orders o ON o.id = k.order_id WHERE k.key = ?",
            )
            .map_err(db_error)?;
        let mut found = HashMap::new();
        for key in keys {
            let row = stmt
                .query_row([key], |r| {
                    Ok(KeyRecord {
                        hash: r.get(0)?,
                        code: r.get(1)?,
                    })
                })
                .optional()
                .map_err(db_error)?;
            if let Some(record) = row {
                found.insert((*key).to_owned(), record);
            }
        }
        Ok(found)
    }

    async fn order(&mut self, code: &str) -> Result<OrderView, StoreError> {
        let order_code = OrderCode::parse(code).map_err(StoreError::unexpected)?;
        let row: OrderRow<String> = self
            .0
            .prepare_cached(ORDER_BY_CODE)
            .and_then(|mut s| s.query_row([code], |r| Ok(columns!(r; 0 1 2 3 4 5 6 7 8))))
            .map_err(db_error)?;
        let lines: Vec<LineRow> = self
            .0
            .prepare_cached(LINES_OF_ORDER)
            .and_then(|mut s| {
                s.query_map([row.0], |r| Ok(columns!(r; 0 1 2 3)))?
                    .collect()
            })
            .map_err(db_error)?;
        sql_reads::order_view(order_code, row, lines)
    }

    async fn products(
        &mut self,
        ids: &[i64],
        now: &Now,
        _lock: Lock,
    ) -> Result<HashMap<i64, Facts>, StoreError> {
        let mut stmt = self
            .0
            .prepare_cached(concat!(rows::facts_select!(), " WHERE p.id = $2"))
            .map_err(db_error)?;
        let mut found = HashMap::with_capacity(ids.len());
        let now = now.instant().to_string();
        for id in ids {
            let row: Option<FactsRow<String>> = stmt
                .query_row(params![now, id], |r| {
                    Ok(columns!(r; 0 1 2 3 4 5 6 7 8 9 10))
                })
                .optional()
                .map_err(db_error)?;
            if let Some(row) = row {
                let (id, facts) = rows::product_facts(row)?;
                found.insert(id, facts);
            }
        }
        Ok(found)
    }

    async fn holds(&mut self, ids: &[i64]) -> Result<HashMap<i64, HoldFacts>, StoreError> {
        let mut stmt = self
            .0
            .prepare_cached(concat!(rows::hold_select!(), " WHERE h.id = $1"))
            .map_err(db_error)?;
        let mut found = HashMap::with_capacity(ids.len());
        for id in ids {
            let row: Option<HoldRow<String>> = stmt
                .query_row([id], |r| Ok(columns!(r; 0 1 2 3 4 5 6 7 8 9)))
                .optional()
                .map_err(db_error)?;
            if let Some(row) = row {
                found.insert(*id, rows::hold_facts(row)?);
            }
        }
        Ok(found)
    }

    async fn units_bought(
        &mut self,
        product_id: i64,
        phone_keys: &[&str],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut stmt = self
            .0
            .prepare_cached(
                "SELECT units FROM customer_units WHERE product_id = ? AND phone_key = ?",
            )
            .map_err(db_error)?;
        let mut found = HashMap::new();
        for phone_key in phone_keys {
            let units: Option<i64> = stmt
                .query_row(params![product_id, phone_key], |r| r.get(0))
                .optional()
                .map_err(db_error)?;
            if let Some(units) = units {
                found.insert((*phone_key).to_owned(), units);
            }
        }
        Ok(found)
    }

    async fn take_stock(&mut self, taken: &[(i64, i64)]) -> Result<(), StoreError> {
        for (product_id, units) in taken {
            self.one_row(
                "UPDATE products SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1",
                params![units, product_id],
                "stock",
            )?;
        }
        Ok(())
    }

    async fn return_stock(&mut self, product_id: i64, units: i64) -> Result<(), StoreError> {
        self.execute(
            "UPDATE products SET stock = stock + ? WHERE id = ?",
            params![units, product_id],
        )
        .map(|_| ())
    }

    async fn add_units(
        &mut self,
        product_id: i64,
        added: &[(&str, i64)],
    ) -> Result<(), StoreError> {
        for (phone_key, units) in added {
            self.execute(
                "INSERT INTO customer_units (product_id, phone_key, units) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (product_id, phone_key) DO UPDATE SET units = units + ?3",
                params![product_id, phone_key, units],
            )?;
        }
        Ok(())
    }

    async fn set_units(
        &mut self,
        product_id: i64,
        phone_key: &str,
        units: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE customer_units SET units = ?3 WHERE product_id = ?1 AND phone_key = ?2",
            params![product_id, phone_key, units],
        )
        .map(|_| ())
    }

    async fn insert_orders(
        &mut self,
        rows: &[NewOrderRow<'_>],
        now: &Now,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let mut stmt = self
            .0
            .prepare_cached(
                "INSERT INTO orders (code, status, customer_name, phone, address, note, \
                 total_cents, created_at, status_changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, \
                 ?8, ?8) \
                 ON CONFLICT (code) DO NOTHING RETURNING id",
            )
            .map_err(db_error)?;
        let mut ids = Vec::with_capacity(rows.len());
        let now = now.instant().to_string();
        for row in rows {
            let customer = row.customer;
            let id: Option<i64> = stmt
                .query_row(
                    params![
                        row.code.as_str(),
                        OrderStatus::AwaitingPayment.as_str(),
                        customer.name.as_str(),
                        customer.phone.as_str(),
                        customer.address.as_str(),
                        customer.note.as_str(),
                        row.total_cents,
                        now
                    ],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_error)?;
            ids.push(id);
        }
        Ok(ids)
    }

    async fn insert_lines(&mut self, lines: &[(i64, &OrderLineView)]) -> Result<(), StoreError> {
        let mut stmt = self
            .0
            .prepare_cached(
                "INSERT INTO order_lines (order_id, product_id, product_name, unit_price_cents, \
                 quantity) VALUES (?, ?, ?, ?, ?)",
            )
            .map_err(db_error)?;
        for (order_id, line) in lines {
            stmt.execute(params![
                order_id,
                line.product_id,
                line.product_name,
                line.unit_price_cents,
                i64::from(line.quantity)
            ])
            .map_err(db_error)?;
        }
        Ok(())
    }

    async fn use_holds(&mut self, used: &[(i64, i64)]) -> Result<(), StoreError> {
        for (hold_id, order_id) in used {
            self.one_row(
                "UPDATE holds SET state = ?, order_id = ? WHERE id = ? AND state = ?",
                params![
                    HoldState::Used.as_str(),
                    order_id,
                    hold_id,
                    HoldState::Live.as_str()
                ],
                "a hold",
            )?;
        }
        Ok(())
    }

    async fn record_keys(&mut self, keys: &[KeyRow<'_>], now: &Now) -> Result<u64, StoreError> {
        let now = now.instant().to_string();
        for key in keys {
            self.execute(
                "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) \
                 VALUES (?, ?, ?, ?)",
                params![key.key, key.hash, key.order_id, now],
            )?;
        }
        Ok(keys.len() as u64)
    }

    async fn savepoint(&mut self) -> Result<(), StoreError> {
        self.execute("SAVEPOINT orders", []).map(|_| ())
    }

    async fn undo_to_savepoint(&mut self) -> Result<(), StoreError> {
        self.execute("ROLLBACK TO orders", [])?;
        self.execute("RELEASE orders", []).map(|_| ())
    }

    async fn release_savepoint(&mut self) -> Result<(), StoreError> {
        self.execute("RELEASE orders", []).map(|_| ())
    }

    async fn ticket_in_line(
        &mut self,
        product_id: i64,
        phone_key: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.0
            .prepare_cached(
                "SELECT id FROM queue_tickets WHERE product_id = ? AND phone_key = ? \
                 AND state IN ('waiting', 'admitted')",
            )
            .and_then(|mut s| {
                s.query_row(params![product_id, phone_key], |r| r.get(0))
                    .optional()
            })
            .map_err(db_error)
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
        self.0
            .prepare_cached(
                "INSERT INTO queue_tickets (product_id, phone_key, quantity, rank, state, \
                 joined_at, updated_at) VALUES (?1, ?2, ?3, CASE WHEN ?4 THEN ?5 + \
                 (SELECT IFNULL(MAX(id), 0) + 1 FROM queue_tickets) ELSE ?6 END, 'waiting', ?7, ?7) \
                 RETURNING id",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![product_id, phone_key, quantity, arrival, ARRIVAL_RANKS, drawn, now.instant().to_string()],
                    |r| r.get(0),
                )
            })
            .map(Some)
            .map_err(db_error)
    }

    async fn ticket(&mut self, ticket_id: i64) -> Result<Option<TicketRow>, StoreError> {
        let row: Option<(i64, String, Option<i64>)> = self
            .0
            .prepare_cached("SELECT product_id, state, hold_id FROM queue_tickets WHERE id = ?")
            .and_then(|mut s| {
                s.query_row([ticket_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(db_error)?;
        row.map(rows::ticket_row).transpose()
    }

    async fn set_tickets(
        &mut self,
        ticket_ids: &[i64],
        state: TicketState,
        now: &Now,
    ) -> Result<(), StoreError> {
        for ticket_id in ticket_ids {
            self.execute(
                "UPDATE queue_tickets SET state = ?, updated_at = ? WHERE id = ?",
                params![state.as_str(), now.instant().to_string(), ticket_id],
            )?;
        }
        Ok(())
    }

    async fn end_ticket(
        &mut self,
        ticket_id: i64,
        state: TicketState,
        now: &Now,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE queue_tickets SET state = ?, updated_at = ? WHERE id = ? \
             AND state IN ('waiting', 'admitted')",
            params![state.as_str(), now.instant().to_string(), ticket_id],
        )
        .map(|_| ())
    }

    async fn end_hold(
        &mut self,
        hold_id: i64,
        state: HoldState,
    ) -> Result<Option<EndedHold>, StoreError> {
        self.0
            .prepare_cached(
                "UPDATE holds SET state = ? WHERE id = ? AND state = 'live' \
                 RETURNING product_id, phone_key, quantity",
            )
            .and_then(|mut s| {
                s.query_row(params![state.as_str(), hold_id], |r| {
                    Ok(EndedHold {
                        product_id: r.get(0)?,
                        phone_key: r.get(1)?,
                        quantity: r.get(2)?,
                    })
                })
                .optional()
            })
            .map_err(db_error)
    }

    async fn overdue_holds(&mut self, now: &Now) -> Result<Vec<(i64, i64)>, StoreError> {
        self.0
            .prepare_cached(
                "SELECT h.id, h.ticket_id FROM holds h WHERE h.state = 'live' AND h.expires_at <= ? \
                 AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, h.product_id))",
            )
            .and_then(|mut s| {
                s.query_map([now.instant().to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(db_error)
    }

    async fn close_ended_lines(&mut self, now: &Now) -> Result<u64, StoreError> {
        self.execute(
            "UPDATE queue_tickets SET state = 'sold_out', updated_at = ?1 WHERE state = 'waiting' \
             AND product_id IN (SELECT product_id FROM sales WHERE ends_at <= ?1)",
            [now.instant().to_string()],
        )
        .map(|n| n as u64)
    }

    async fn lines_to_serve(&mut self, now: &Now) -> Result<Vec<i64>, StoreError> {
        self.0
            .prepare_cached(
                "SELECT s.product_id FROM sales s WHERE s.waiting_room = 1 AND s.starts_at <= ?1 \
                 AND s.ends_at > ?1 AND EXISTS (SELECT 1 FROM queue_tickets t \
                 WHERE t.product_id = s.product_id AND t.state = 'waiting') \
                 AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, s.product_id))",
            )
            .and_then(|mut s| {
                s.query_map([now.instant().to_string()], |r| r.get(0))?
                    .collect()
            })
            .map_err(db_error)
    }

    async fn serving(&mut self, product_id: i64, now: &Now) -> Result<Option<Serving>, StoreError> {
        self.0
            .prepare_cached(
                "SELECT hold_seconds, sale_price_cents, per_customer_limit FROM sales \
                 WHERE product_id = ?1 AND waiting_room = 1 AND starts_at <= ?2 AND ends_at > ?2 \
                 AND NOT EXISTS (SELECT 1 FROM brakes b WHERE b.product_id IN (0, ?1))",
            )
            .and_then(|mut s| {
                s.query_row(params![product_id, now.instant().to_string()], |r| {
                    Ok(Serving {
                        hold_seconds: r.get(0)?,
                        price_cents: r.get(1)?,
                        limit: r.get(2)?,
                    })
                })
                .optional()
            })
            .map_err(db_error)
    }

    async fn stock_to_serve(&mut self, product_id: i64) -> Result<i64, StoreError> {
        self.0
            .prepare_cached("SELECT stock FROM products WHERE id = ?")
            .and_then(|mut s| s.query_row([product_id], |r| r.get(0)))
            .map_err(db_error)
    }

    async fn heads(&mut self, product_id: i64, limit: i64) -> Result<Vec<Head>, StoreError> {
        self.0
            .prepare_cached(
                "SELECT id, phone_key, quantity FROM queue_tickets \
                 WHERE product_id = ? AND state = 'waiting' ORDER BY rank LIMIT ?",
            )
            .and_then(|mut s| {
                s.query_map(params![product_id, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            })
            .map_err(db_error)
    }

    async fn grant_holds(
        &mut self,
        product_id: i64,
        serving: &Serving,
        expires_at: At,
        admitted: &[Head],
        now: &Now,
    ) -> Result<(), StoreError> {
        let (now, expires_at) = (now.instant().to_string(), expires_at.to_string());
        for (ticket_id, phone_key, quantity) in admitted {
            let hold_id: i64 = self
                .0
                .prepare_cached(
                    "INSERT INTO holds (ticket_id, product_id, phone_key, quantity, \
                     unit_price_cents, state, expires_at, created_at) \
                     VALUES (?, ?, ?, ?, ?, 'live', ?, ?) RETURNING id",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![
                            ticket_id,
                            product_id,
                            phone_key,
                            quantity,
                            serving.price_cents,
                            expires_at,
                            now
                        ],
                        |r| r.get(0),
                    )
                })
                .map_err(db_error)?;
            self.execute(
                "UPDATE queue_tickets SET state = 'admitted', hold_id = ?, updated_at = ? \
                 WHERE id = ?",
                params![hold_id, now, ticket_id],
            )?;
        }
        Ok(())
    }

    async fn held_units(&mut self, product_id: i64) -> Result<i64, StoreError> {
        self.0
            .prepare_cached(
                "SELECT IFNULL(SUM(quantity), 0) FROM holds WHERE product_id = ? AND state = 'live'",
            )
            .and_then(|mut s| s.query_row([product_id], |r| r.get(0)))
            .map_err(db_error)
    }

    async fn waiting_after(
        &mut self,
        product_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Waiting>, StoreError> {
        self.0
            .prepare_cached(
                "SELECT id, rank, quantity FROM queue_tickets WHERE product_id = ? \
                 AND state = 'waiting' AND rank > ? ORDER BY rank LIMIT ?",
            )
            .and_then(|mut s| {
                s.query_map(params![product_id, after, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            })
            .map_err(db_error)
    }

    async fn sell_out_after(
        &mut self,
        product_id: i64,
        after: i64,
        now: &Now,
    ) -> Result<u64, StoreError> {
        self.execute(
            "UPDATE queue_tickets SET state = 'sold_out', updated_at = ? WHERE product_id = ? \
             AND state = 'waiting' AND rank > ?",
            params![now.instant().to_string(), product_id, after],
        )
        .map(|n| n as u64)
    }
}
