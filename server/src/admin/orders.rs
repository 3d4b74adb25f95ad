//! The owner's orders: the list (filters by status, dates, product; search by code or phone),
//! one order with its history and the next steps (paid → shipped with a tracking number →
//! completed, or cancelled with its units back on the shelf), the CSV export, and the task that
//! cancels orders left unpaid past the deadline.

use super::error::AdminError;
use super::orders_db::{Changed, OrderDetail, OrderFilter, OrderSummary};
use super::pages::{money, when};
use super::session::Owner;
use super::{pages, AdminState};
use crate::store::clock::{system_now, Now};
use app::domain::{Money, OrderStatus};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use leptos::prelude::*;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

const PAGE: i64 = 50;
const CSV_PAGE: i64 = 500;

/// The list's query string, as typed by the owner: every field may be empty.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    before: String,
}

impl ListQuery {
    /// The filter, or what is wrong with the query (a clear 422, not an empty list).
    fn filter(&self) -> Result<OrderFilter, AdminError> {
        let bad = |m: &str| AdminError::BadInput(m.to_owned());
        let status = match self.status.as_str() {
            "" => None,
            s => Some(OrderStatus::parse(s).ok_or_else(|| bad("Unknown order status."))?),
        };
        let day = |s: &str, what: &str| -> Result<Option<NaiveDate>, AdminError> {
            match s.trim() {
                "" => Ok(None),
                d => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| bad(&format!("The {what} date must look like 2026-11-25."))),
            }
        };
        let stamp = |d: NaiveDate| format!("{}T00:00:00.000Z", d.format("%Y-%m-%d"));
        let from = day(&self.from, "from")?;
        let to = day(&self.to, "to")?;
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                return Err(bad("The to date is before the from date."));
            }
        }
        let number = |s: &str, what: &str| -> Result<Option<i64>, AdminError> {
            match s.trim() {
                "" => Ok(None),
                n => n
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Some)
                    .ok_or_else(|| bad(&format!("The {what} must be a number."))),
            }
        };
        let search = self.q.trim();
        if search.chars().count() > 64 {
            return Err(bad("The search is too long."));
        }
        Ok(OrderFilter {
            status,
            from: from.map(stamp),
            // "to" is a whole day: before the next midnight
            until: to.and_then(|t| t.succ_opt()).map(stamp),
            product: number(&self.product, "product")?,
            search: (!search.is_empty()).then(|| search.to_owned()),
            before_id: number(&self.before, "page")?,
        })
    }

    /// This query's string, for links (CSV export, next page).
    fn query_string(&self) -> String {
        let pairs = [
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
            ("product", &self.product),
            ("q", &self.q),
        ];
        pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn list(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Query(query): Query<ListQuery>,
) -> Result<Response, AdminError> {
    let _ = owner;
    let filter = query.filter()?;
    let orders = state.db.list_orders(&filter, PAGE + 1).await?;
    let more = orders.len() > PAGE as usize;
    let orders: Vec<OrderSummary> = orders.into_iter().take(PAGE as usize).collect();
    let next = more
        .then(|| orders.last().map(|o| o.id))
        .flatten()
        .map(|id| {
            let qs = query.query_string();
            if qs.is_empty() {
                format!("/admin/orders?before={id}")
            } else {
                format!("/admin/orders?{qs}&before={id}")
            }
        });
    Ok(list_page(&query, orders, next).into_response())
}

fn list_page(
    query: &ListQuery,
    orders: Vec<OrderSummary>,
    next: Option<String>,
) -> axum::response::Html<String> {
    let csv = format!("/admin/orders.csv?{}", query.query_string());
    let (status, from, to, product, q) = (
        query.status.clone(),
        query.from.clone(),
        query.to.clone(),
        query.product.clone(),
        query.q.clone(),
    );
    let empty = orders.is_empty();
    let rows = orders
        .into_iter()
        .map(|o| {
            let href = format!("/admin/orders/{}", o.code);
            view! {
                <tr>
                    <td><a href=href>{o.code}</a></td>
                    <td>{when(&o.created_at)}</td>
                    <td>{o.customer_name}<br /><small>{app::domain::phone::pretty(&o.phone)}</small></td>
                    <td>{o.items}</td>
                    <td class="num">{money(o.total_cents)}</td>
                    <td>{status_label(&o.status)}</td>
                </tr>
            }
        })
        .collect_view();
    let options = OrderStatus::ALL
        .into_iter()
        .map(|s| {
            let selected = s.as_str() == status;
            view! { <option value=s.as_str() selected=selected>{status_label(s.as_str())}</option> }
        })
        .collect_view();
    pages::document(
        "Orders",
        view! {
            <h1>"Orders"</h1>
            <form method="get" action="/admin/orders" class="admin-filters">
                <label>"Status"
                    <select name="status">
                        <option value="">"Any"</option>
                        {options}
                    </select>
                </label>
                <label>"From" <input type="date" name="from" value=from /></label>
                <label>"To" <input type="date" name="to" value=to /></label>
                <label>"Product id" <input type="number" name="product" min="1" value=product /></label>
                <label>"Code or phone" <input type="search" name="q" value=q /></label>
                <button type="submit">"Filter"</button>
            </form>
            <p><a href=csv download>"Export these orders (CSV)"</a></p>
            {if empty {
                view! { <p>"No orders match."</p> }.into_any()
            } else {
                view! {
                    <div class="admin-scroll">
                        <table>
                            <thead><tr><th>"Code"</th><th>"Placed (UTC)"</th><th>"Customer"</th><th>"Items"</th><th>"Total"</th><th>"Status"</th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {next.map(|href| view! { <p><a href=href>"Older orders →"</a></p> })}
        },
    )
}

fn status_label(s: &str) -> &'static str {
    match OrderStatus::parse(s) {
        Some(OrderStatus::AwaitingPayment) => "Awaiting payment",
        Some(OrderStatus::Paid) => "Paid",
        Some(OrderStatus::Shipped) => "Shipped",
        Some(OrderStatus::Completed) => "Completed",
        Some(OrderStatus::Cancelled) => "Cancelled",
        None => "Unknown",
    }
}

pub async fn detail(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(code): Path<String>,
) -> Result<Response, AdminError> {
    let order = state
        .db
        .order_detail(&code)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(detail_page(order, &owner.csrf_token, None).into_response())
}

fn detail_page(
    order: OrderDetail,
    csrf: &str,
    notice: Option<String>,
) -> axum::response::Html<String> {
    let o = order.summary;
    let current = OrderStatus::parse(&o.status);
    let action = format!("/admin/orders/{}/status", o.code);
    let step = |to: OrderStatus, label: &'static str, confirm: bool| {
        let (action, csrf, from) = (action.clone(), csrf.to_owned(), o.status.clone());
        let shipping = to == OrderStatus::Shipped;
        view! {
            <form method="post" action=action class="admin-step">
                <input type="hidden" name="csrf" value=csrf />
                <input type="hidden" name="from" value=from />
                <input type="hidden" name="to" value=to.as_str() />
                {shipping.then(|| view! {
                    <label>"Tracking number" <input name="tracking" required maxlength="64" /></label>
                })}
                {confirm.then(|| view! {
                    <label class="admin-confirm"><input type="checkbox" name="confirm" value="yes" required />" Yes, cancel it"</label>
                })}
                <button type="submit">{label}</button>
            </form>
        }
    };
    let steps = current.map(|c| {
        [
            (OrderStatus::Paid, "Mark paid", false),
            (OrderStatus::Shipped, "Mark shipped", false),
            (OrderStatus::Completed, "Mark completed", false),
            (OrderStatus::Cancelled, "Cancel and restock", true),
        ]
        .into_iter()
        .filter(|(to, ..)| c.can_become(*to))
        .map(|(to, label, confirm)| step(to, label, confirm))
        .collect_view()
    });
    let lines = order
        .lines
        .into_iter()
        .map(|l| {
            view! {
                <tr>
                    <td>{l.product_name}</td>
                    <td class="num">{l.quantity}</td>
                    <td class="num">{money(l.unit_price_cents)}</td>
                    <td class="num">{money(l.unit_price_cents.saturating_mul(l.quantity))}</td>
                </tr>
            }
        })
        .collect_view();
    let events = order
        .events
        .into_iter()
        .map(|e| {
            let line = format!(
                "{} — {} → {} ({}) {}",
                when(&e.at),
                status_label(&e.from_status),
                status_label(&e.to_status),
                e.actor,
                e.note
            );
            view! { <li>{line}</li> }
        })
        .collect_view();
    let tracking = (!o.tracking_number.is_empty()).then(|| {
        view! { <p>"Tracking: " <strong>{o.tracking_number.clone()}</strong></p> }
    });
    let title = format!("Order {}", o.code);
    pages::document(
        &title.clone(),
        view! {
            <p><a href="/admin/orders">"← All orders"</a></p>
            <h1>{title}</h1>
            {notice.map(|n| view! { <p class="admin-error" role="alert">{n}</p> })}
            <p>"Status: " <strong>{status_label(&o.status)}</strong></p>
            {tracking}
            <section class="admin-card">
                <h2>"Customer"</h2>
                <p>{o.customer_name}<br />{app::domain::phone::pretty(&o.phone)}<br />{o.address}</p>
                {(!o.note.is_empty()).then(|| view! { <p><em>{o.note.clone()}</em></p> })}
            </section>
            <section class="admin-card">
                <h2>"Items"</h2>
                <div class="admin-scroll">
                    <table>
                        <thead><tr><th>"Product"</th><th>"Qty"</th><th>"Each"</th><th>"Line"</th></tr></thead>
                        <tbody>{lines}</tbody>
                        <tfoot><tr><th colspan="3">"Total"</th><th class="num">{money(o.total_cents)}</th></tr></tfoot>
                    </table>
                </div>
                <p><small>"Placed " {o.created_at}</small></p>
            </section>
            <section class="admin-card">
                <h2>"Next step"</h2>
                {steps}
            </section>
            <section class="admin-card">
                <h2>"History"</h2>
                <ul>{events}</ul>
            </section>
        },
    )
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    tracking: String,
    #[serde(default)]
    confirm: String,
}

pub async fn change_status(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(code): Path<String>,
    Form(form): Form<StatusForm>,
) -> Result<Response, AdminError> {
    let bad = |m: &str| AdminError::BadInput(m.to_owned());
    let from = OrderStatus::parse(&form.from).ok_or_else(|| bad("Unknown current status."))?;
    let to = OrderStatus::parse(&form.to).ok_or_else(|| bad("Unknown new status."))?;
    if !from.can_become(to) {
        return Err(bad(&format!(
            "An order that is {} cannot become {}.",
            status_label(from.as_str()).to_lowercase(),
            status_label(to.as_str()).to_lowercase()
        )));
    }
    let tracking = form.tracking.trim();
    if to == OrderStatus::Shipped
        && (tracking.is_empty()
            || tracking.chars().count() > 64
            || tracking.chars().any(char::is_control))
    {
        return Err(bad(
            "Give the parcel's tracking number (up to 64 characters).",
        ));
    }
    if to == OrderStatus::Cancelled && form.confirm != "yes" {
        return Err(bad("Tick the box to confirm the cancellation."));
    }
    let tracking = if to == OrderStatus::Shipped {
        tracking
    } else {
        ""
    };
    let actor = format!("owner {}", owner.email);
    let now = system_now();
    match state
        .db
        .change_status(&code, from, to, tracking, &actor, now.text())
        .await?
    {
        Changed::Done => {
            tracing::info!(order.code = %code, from = from.as_str(), to = to.as_str(), owner = owner.id, "order status changed");
            Ok(Redirect::to(&format!("/admin/orders/{code}")).into_response())
        }
        Changed::NotFrom { now: None } => Err(AdminError::NotFound),
        Changed::NotFrom { now: Some(status) } => {
            let order = state
                .db
                .order_detail(&code)
                .await?
                .ok_or(AdminError::NotFound)?;
            let notice = format!(
                "Nothing done: this order is {} now (it changed meanwhile).",
                status_label(&status).to_lowercase()
            );
            Ok((
                axum::http::StatusCode::CONFLICT,
                detail_page(order, &owner.csrf_token, Some(notice)),
            )
                .into_response())
        }
    }
}

/// The orders matching the filter as CSV, streamed a page at a time: UTF-8 with a byte-order
/// mark (so spreadsheets read non-Latin names right), CRLF lines, RFC 4180 quoting, and cells
/// that a spreadsheet would run as a formula defused with a leading apostrophe.
pub async fn csv(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Query(query): Query<ListQuery>,
) -> Result<Response, AdminError> {
    let _ = owner;
    let filter = query.filter()?;
    let header = "\u{feff}code,placed_at_utc,status,customer_name,phone,address,note,items,total,total_cents,tracking_number\r\n";
    let first = Some(Bytes::from(header));
    let stream = futures::stream::unfold(
        (state, filter, first, false),
        |(state, mut filter, first, done)| async move {
            if let Some(header) = first {
                return Some((
                    Ok::<Bytes, std::io::Error>(header),
                    (state, filter, None, done),
                ));
            }
            if done {
                return None;
            }
            match state.db.list_orders(&filter, CSV_PAGE).await {
                Ok(rows) => {
                    if rows.is_empty() {
                        return None;
                    }
                    let last = rows.len() < CSV_PAGE as usize;
                    filter.before_id = rows.last().map(|o| o.id);
                    let mut chunk = String::new();
                    for o in &rows {
                        csv_row(&mut chunk, o);
                    }
                    Some((Ok(Bytes::from(chunk)), (state, filter, None, last)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "CSV export failed midway");
                    Some((
                        Err(std::io::Error::other("export failed")),
                        (state, filter, None, true),
                    ))
                }
            }
        },
    );
    let today = system_now().text().get(..10).unwrap_or("orders").to_owned();
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"orders-{today}.csv\""),
            ),
        ],
        // fused: the compression layer may ask again after the end
        Body::from_stream(futures::StreamExt::fuse(stream)),
    )
        .into_response())
}

fn csv_row(out: &mut String, o: &OrderSummary) {
    let total = Money::from_cents(o.total_cents)
        .map(|m| format!("{}.{:02}", m.cents() / 100, m.cents() % 100))
        .unwrap_or_default();
    let cells = [
        o.code.as_str(),
        o.created_at.as_str(),
        o.status.as_str(),
        o.customer_name.as_str(),
        o.phone.as_str(),
        o.address.as_str(),
        o.note.as_str(),
        o.items.as_str(),
        total.as_str(),
        &o.total_cents.to_string(),
        o.tracking_number.as_str(),
    ]
    .map(csv_cell);
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// One CSV cell: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-`, `@`,
/// tab or CR gets an apostrophe first so a spreadsheet shows it rather than running it.
pub fn csv_cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// Every `every`, cancels (and restocks) orders still unpaid past their deadline: `after` their
/// placing for every order (`None`: no shop-wide deadline), and each sale's own payment window
/// for orders placed during that sale. Safe with several servers: each order's cancellation is
/// one conditional update, so exactly one wins.
pub fn spawn_expiry(
    state: Arc<AdminState>,
    after: Option<Duration>,
    every: Duration,
    clock: crate::store::clock::Clock,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match expire_unpaid(&state.db, after, &clock.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "unpaid orders cancelled and restocked"),
                Err(e) => tracing::warn!(error = %e, "unpaid-order expiry failed; will retry"),
            }
        }
    })
}

/// At most this many orders are cancelled per deadline in one pass (the next pass takes more).
const PER_PASS: i64 = 200;

/// One expiry pass: how many orders this call cancelled.
pub async fn expire_unpaid(
    db: &super::db::AdminDb,
    after: Option<Duration>,
    now: &Now,
) -> Result<u64, app::store::StoreError> {
    let mut cancelled = 0;
    for window in db.sale_pay_windows().await? {
        let cutoff = now.plus_secs(-window);
        let codes = db
            .unpaid_sale_orders_before(window, &cutoff, PER_PASS)
            .await?;
        let why = format!(
            "expiry: sale order unpaid after {} min",
            (window / 60).max(1)
        );
        cancelled += cancel_unpaid(db, &codes, &why, now).await?;
    }
    if let Some(after) = after {
        let cutoff = now.plus_secs(-i64::try_from(after.as_secs()).unwrap_or(i64::MAX / 2));
        let codes = db.unpaid_before(&cutoff, PER_PASS).await?;
        cancelled += cancel_unpaid(db, &codes, "expiry: unpaid past the deadline", now).await?;
    }
    Ok(cancelled)
}

/// Cancels (and restocks) each order that is still awaiting payment: how many this call did.
async fn cancel_unpaid(
    db: &super::db::AdminDb,
    codes: &[String],
    why: &str,
    now: &Now,
) -> Result<u64, app::store::StoreError> {
    let mut cancelled = 0;
    for code in codes {
        let changed = db
            .change_status(
                code,
                OrderStatus::AwaitingPayment,
                OrderStatus::Cancelled,
                "",
                why,
                now.text(),
            )
            .await?;
        if changed == Changed::Done {
            cancelled += 1;
        }
    }
    Ok(cancelled)
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_when_needed_and_formulas_are_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+15550102030"), "'+15550102030");
        assert_eq!(csv_cell("王小明"), "王小明");
    }
}
