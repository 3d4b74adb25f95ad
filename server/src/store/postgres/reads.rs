//! Orders by code, read on Postgres. Catalogue reads live in `mod.rs`, ticket standings in
//! `tickets.rs`.

use super::classify;
use app::domain::{OrderCode, OrderLineView, OrderStatus, OrderView};
use app::store::StoreError;
use sqlx::PgConnection;

pub(super) async fn load_order(
    conn: &mut PgConnection,
    code: &OrderCode,
) -> Result<Option<OrderView>, StoreError> {
    type OrderRow = (i64, String, String, String, String, String, i64, String);
    let row: Option<OrderRow> = sqlx::query_as(
        "SELECT id, status, customer_name, phone, address, note, total_cents, created_at \
         FROM orders WHERE code = $1",
    )
    .bind(code.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(classify)?;
    let Some((id, status, customer_name, phone, address, note, total_cents, created_at)) = row
    else {
        return Ok(None);
    };
    let lines: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT product_id, product_name, unit_price_cents, quantity FROM order_lines \
         WHERE order_id = $1 ORDER BY product_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(classify)?;
    let status = OrderStatus::parse(&status)
        .ok_or_else(|| StoreError::Unexpected(format!("unknown order status {status}")))?;
    let lines = lines
        .into_iter()
        .map(|(product_id, product_name, unit_price_cents, quantity)| {
            Ok(OrderLineView {
                product_id,
                product_name,
                unit_price_cents,
                quantity: u32::try_from(quantity)
                    .map_err(|_| StoreError::Unexpected("bad stored quantity".into()))?,
                line_total_cents: unit_price_cents.saturating_mul(quantity),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(OrderView {
        order_code: code.clone(),
        status,
        total_cents,
        lines,
        customer_name,
        phone,
        address,
        note,
        created_at,
    }))
}
