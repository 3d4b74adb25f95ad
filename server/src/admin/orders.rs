//! The owner's orders: the list (filters by status, dates, product; search by code or phone),
//! one order with its history and the next steps (paid → shipped with a tracking number →
//! completed, or cancelled with its units back on the shelf), the CSV export, and the task that
//! cancels orders left unpaid past the deadline.

use super::error::AdminError;
use super::orders_db::{Changed, OrderDetail, OrderFilter, OrderSummary};
use super::pages::{self, money, t, when};
use super::session::Owner;
use super::AdminState;
use crate::store::clock::Now;
use app::domain::{Money, OrderStatus};
use app::language::Language;
use app::shop_time::ShopZone;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{NaiveDate, NaiveTime};
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
            s => Some(OrderStatus::parse(s).ok_or_else(|| bad(&t!(admin_err_unknown_status)))?),
        };
        let day = |s: &str, what: String| -> Result<Option<NaiveDate>, AdminError> {
            match s.trim() {
                "" => Ok(None),
                d => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| bad(&t!(admin_err_date, what = what))),
            }
        };
        // a day on the shop's clock: from its midnight there (UTC's, where the clocks skip it)
        let zone = ShopZone::of_setting(&crate::edge::shop_look::current().time_zone);
        let stamp = |d: NaiveDate| {
            zone.to_utc(&format!("{}T00:00", d.format("%Y-%m-%d")))
                .unwrap_or_else(|_| app::domain::At::from(d.and_time(NaiveTime::MIN).and_utc()))
        };
        let from = day(&self.from, t!(admin_orders_from))?;
        let to = day(&self.to, t!(admin_orders_to))?;
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                return Err(bad(&t!(admin_err_dates_reversed)));
            }
        }
        let number = |s: &str, what: String| -> Result<Option<i64>, AdminError> {
            match s.trim() {
                "" => Ok(None),
                n => n
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Some)
                    .ok_or_else(|| bad(&t!(admin_err_number, what = what))),
            }
        };
        let search = self.q.trim();
        if search.chars().count() > 64 {
            return Err(bad(&t!(admin_err_search_long)));
        }
        Ok(OrderFilter {
            status,
            from: from.map(stamp),
            // "to" is a whole day: before the next midnight
            until: to.and_then(|t| t.succ_opt()).map(stamp),
            product: number(&self.product, t!(admin_orders_product_id))?,
            search: (!search.is_empty()).then(|| search.to_owned()),
            before_id: number(&self.before, t!(admin_orders_page))?,
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
                    <td>{when(o.created_at)}</td>
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
        &t!(admin_orders_title),
        view! {
            <h1>{t!(admin_orders_title)}</h1>
            <form method="get" action="/admin/orders" class="admin-filters">
                <label>{t!(admin_orders_status)}
                    <select name="status">
                        <option value="">{t!(admin_orders_any)}</option>
                        {options}
                    </select>
                </label>
                <label>{t!(admin_orders_from)} <input type="date" name="from" value=from /></label>
                <label>{t!(admin_orders_to)} <input type="date" name="to" value=to /></label>
                <label>{t!(admin_orders_product_id)} <input type="number" name="product" min="1" value=product /></label>
                <label>{t!(admin_orders_search)} <input type="search" name="q" value=q /></label>
                <button type="submit">{t!(admin_orders_filter)}</button>
            </form>
            <p><a href=csv download>{t!(admin_orders_export)}</a></p>
            {if empty {
                view! { <p>{t!(admin_orders_none)}</p> }.into_any()
            } else {
                view! {
                    <div class="admin-scroll">
                        <table>
                            <thead><tr>
                                <th>{t!(admin_orders_code)}</th>
                                <th>{t!(admin_orders_placed)}</th>
                                <th>{t!(admin_orders_customer)}</th>
                                <th>{t!(admin_orders_items)}</th>
                                <th>{t!(admin_orders_total)}</th>
                                <th>{t!(admin_orders_status)}</th>
                            </tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {next.map(|href| view! { <p><a href=href>{t!(admin_orders_older)}</a></p> })}
        },
    )
}

/// A stored status as the owner reads it (the shopper's words for it, in the owner's language).
fn status_label(s: &str) -> String {
    status_in(s, pages::lang())
}

fn status_in(s: &str, lang: Language) -> String {
    match OrderStatus::parse(s) {
        Some(status) => app::components::status_text(status, lang),
        None => app::tr!(lang, admin_status_unknown),
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
    let step = |to: OrderStatus, label: String, confirm: bool| {
        let (action, csrf, from) = (action.clone(), csrf.to_owned(), o.status.clone());
        let shipping = to == OrderStatus::Shipped;
        view! {
            <form method="post" action=action class="admin-step">
                <input type="hidden" name="csrf" value=csrf />
                <input type="hidden" name="from" value=from />
                <input type="hidden" name="to" value=to.as_str() />
                {shipping.then(|| view! {
                    <label>{t!(admin_order_tracking_number)} <input name="tracking" required maxlength="64" /></label>
                })}
                {confirm.then(|| view! {
                    <label class="admin-confirm"><input type="checkbox" name="confirm" value="yes" required />" " {t!(admin_order_confirm_cancel)}</label>
                })}
                <button type="submit">{label}</button>
            </form>
        }
    };
    let steps = current.map(|c| {
        [
            (OrderStatus::Paid, t!(admin_order_mark_paid), false),
            (OrderStatus::Shipped, t!(admin_order_mark_shipped), false),
            (
                OrderStatus::Completed,
                t!(admin_order_mark_completed),
                false,
            ),
            (OrderStatus::Cancelled, t!(admin_order_cancel), true),
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
                when(e.at),
                status_label(&e.from_status),
                status_label(&e.to_status),
                pages::actor(&e.actor),
                e.note
            );
            view! { <li>{line}</li> }
        })
        .collect_view();
    let tracking = (!o.tracking_number.is_empty()).then(|| {
        view! { <p>{t!(admin_order_tracking)} " " <strong>{o.tracking_number.clone()}</strong></p> }
    });
    let title = t!(admin_order_title, code = &o.code);
    pages::document(
        &title.clone(),
        view! {
            <p><a href="/admin/orders">{t!(admin_order_all)}</a></p>
            <h1>{title}</h1>
            {notice.map(|n| view! { <p class="admin-error" role="alert">{n}</p> })}
            <p>{t!(admin_orders_status)} ": " <strong>{status_label(&o.status)}</strong></p>
            {tracking}
            <section class="admin-card">
                <h2>{t!(admin_orders_customer)}</h2>
                <p>{o.customer_name}<br />{app::domain::phone::pretty(&o.phone)}<br />{o.address}</p>
                {(!o.note.is_empty()).then(|| view! { <p><em>{o.note.clone()}</em></p> })}
            </section>
            <section class="admin-card">
                <h2>{t!(admin_orders_items)}</h2>
                <div class="admin-scroll">
                    <table>
                        <thead><tr>
                            <th>{t!(admin_order_product)}</th>
                            <th>{t!(admin_order_qty)}</th>
                            <th>{t!(admin_order_each)}</th>
                            <th>{t!(admin_order_line)}</th>
                        </tr></thead>
                        <tbody>{lines}</tbody>
                        <tfoot><tr><th colspan="3">{t!(admin_orders_total)}</th><th class="num">{money(o.total_cents)}</th></tr></tfoot>
                    </table>
                </div>
                <p><small>{t!(admin_order_placed)} " " {when(o.created_at)}</small></p>
            </section>
            <section class="admin-card">
                <h2>{t!(admin_order_next_step)}</h2>
                {steps}
            </section>
            <section class="admin-card">
                <h2>{t!(admin_order_history)}</h2>
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
    let from =
        OrderStatus::parse(&form.from).ok_or_else(|| bad(&t!(admin_err_unknown_current_status)))?;
    let to = OrderStatus::parse(&form.to).ok_or_else(|| bad(&t!(admin_err_unknown_new_status)))?;
    if !from.can_become(to) {
        return Err(bad(&t!(
            admin_err_cannot_become,
            from = status_label(from.as_str()),
            to = status_label(to.as_str())
        )));
    }
    let tracking = form.tracking.trim();
    if to == OrderStatus::Shipped
        && (tracking.is_empty()
            || tracking.chars().count() > 64
            || tracking.chars().any(char::is_control))
    {
        return Err(bad(&t!(admin_err_tracking)));
    }
    if to == OrderStatus::Cancelled && form.confirm != "yes" {
        return Err(bad(&t!(admin_err_confirm_cancel)));
    }
    let tracking = if to == OrderStatus::Shipped {
        tracking
    } else {
        ""
    };
    let actor = owner.actor();
    let now = state.clock.now();
    match state
        .db
        .change_status(&code, from, to, tracking, &actor, now.instant())
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
            let notice = t!(admin_err_changed_meanwhile, status = status_label(&status));
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
    // the stream runs after this handler has returned: it is given the language and settings
    let shop = crate::edge::shop_look::current();
    let look = CsvLook {
        lang: pages::lang(),
        zone: ShopZone::of_setting(&shop.time_zone),
        shop,
    };
    // the file is named for the shop's day, as the owner counts days
    let today = look
        .zone
        .input_value(state.clock.now().instant())
        .get(..10)
        .unwrap_or("orders")
        .to_owned();
    let first = Some(Bytes::from(look.header()));
    let stream = futures::stream::unfold(
        (state, filter, first, false),
        move |(state, mut filter, first, done)| {
            let look = look.clone();
            async move {
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
                            look.row(&mut chunk, o);
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
            }
        },
    );
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

/// How the export reads: the owner's language for the column names and statuses, the shop's
/// clock for the time placed (UTC beside it, for other tools).
#[derive(Clone)]
struct CsvLook {
    lang: Language,
    shop: Arc<app::shop::ShopSettings>,
    zone: ShopZone,
}

impl CsvLook {
    /// The byte-order mark and the column names.
    fn header(&self) -> String {
        let lang = self.lang;
        let zone = self.zone.name();
        let names = [
            app::tr!(lang, admin_csv_code),
            app::tr!(lang, admin_csv_placed, zone = zone),
            app::tr!(lang, admin_csv_placed_utc),
            app::tr!(lang, admin_csv_status),
            app::tr!(lang, admin_csv_customer),
            app::tr!(lang, admin_csv_phone),
            app::tr!(lang, admin_csv_address),
            app::tr!(lang, admin_csv_note),
            app::tr!(lang, admin_csv_items),
            app::tr!(lang, admin_csv_total, currency = self.shop.currency.code()),
            app::tr!(lang, admin_csv_total_minor),
            app::tr!(lang, admin_csv_tracking),
        ]
        .map(|n: String| csv_cell(&n));
        format!("\u{feff}{}\r\n", names.join(","))
    }

    fn row(&self, out: &mut String, o: &OrderSummary) {
        let total = Money::from_cents(o.total_cents)
            .map(|m| format!("{}.{:02}", m.cents() / 100, m.cents() % 100))
            .unwrap_or_default();
        let cells = [
            o.code.as_str(),
            &self.zone.show(o.created_at),
            &o.created_at.to_string(),
            &status_in(&o.status, self.lang),
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
}

/// One CSV cell, always quoted (RFC 4180: quotes doubled), so a spreadsheet whose list
/// separator is `;` or TAB (German, French, Spanish, Italian, Dutch, Russian defaults) keeps
/// the cell whole. A spreadsheet that reads the file with another separator, or ignores the
/// quotes, may still start a cell wherever a separator or line break stands inside the value:
/// wherever a cell may start — the value's start, and after a `,`, `;`, TAB, CR or LF in it,
/// spaces and quotes passed over — a leading `=`, `+`, `-`, `@`, TAB or CR gets an apostrophe
/// first, so the spreadsheet shows it rather than running it.
pub fn csv_cell(value: &str) -> String {
    const FORMULA: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut cell_may_start = true;
    for c in value.chars() {
        if cell_may_start && FORMULA.contains(&c) {
            out.push('\'');
            cell_may_start = false;
        } else if c != ' ' && c != '"' {
            cell_may_start = false;
        }
        if c == '"' {
            out.push('"');
        }
        out.push(c);
        if matches!(c, ',' | ';' | '\t' | '\r' | '\n') {
            cell_may_start = true;
        }
    }
    out.push('"');
    out
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
    passes: ExpiryPasses,
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
            passes.0.fetch_add(1, std::sync::atomic::Ordering::Release);
        }
    })
}

/// How many passes this server's expiry task has finished, whatever each found: so a test (or a
/// monitor) can wait for the task to have looked again instead of guessing how long that takes.
#[derive(Debug, Clone, Default)]
pub struct ExpiryPasses(Arc<std::sync::atomic::AtomicU64>);

impl ExpiryPasses {
    pub fn count(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// At most this many orders are cancelled per deadline in one pass (the next pass takes more).
const PER_PASS: i64 = 200;

/// How the expiry task signs a cancellation (read back by `pages::actor`): past the shop-wide
/// deadline, or past a sale's window (`… after 15 min`).
pub const EXPIRY_PAST_DEADLINE: &str = "expiry: unpaid past the deadline";
pub const EXPIRY_SALE_PREFIX: &str = "expiry: sale order unpaid after ";

/// One expiry pass: how many orders this call cancelled.
pub async fn expire_unpaid(
    db: &super::db::AdminDb,
    after: Option<Duration>,
    now: &Now,
) -> Result<u64, app::store::StoreError> {
    let mut cancelled = 0;
    for window in db.sale_pay_windows().await? {
        let cutoff = now.instant().plus_secs(-window);
        let codes = db
            .unpaid_sale_orders_before(window, cutoff, PER_PASS)
            .await?;
        let why = format!("{EXPIRY_SALE_PREFIX}{} min", (window / 60).max(1));
        cancelled += cancel_unpaid(db, &codes, &why, now).await?;
    }
    if let Some(after) = after {
        let cutoff = now
            .instant()
            .plus_secs(-i64::try_from(after.as_secs()).unwrap_or(i64::MAX / 2));
        let codes = db.unpaid_before(cutoff, PER_PASS).await?;
        cancelled += cancel_unpaid(db, &codes, EXPIRY_PAST_DEADLINE, now).await?;
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
                now.instant(),
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
    fn csv_cells_are_quoted_and_formulas_are_defused() {
        assert_eq!(csv_cell("plain"), "\"plain\"");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+15550102030"), "\"'+15550102030\"");
        assert_eq!(csv_cell("王小明"), "\"王小明\"");
        assert_eq!(csv_cell("Mallory;=1+1;"), "\"Mallory;'=1+1;\"");
        assert_eq!(csv_cell("a\t-2"), "\"a\t'-2\"");
        assert_eq!(csv_cell("x; \"@SUM(A1)\""), "\"x; \"\"'@SUM(A1)\"\"\"");
        assert_eq!(csv_cell("Flat 3-4, Block 2"), "\"Flat 3-4, Block 2\"");
    }

    /// Cells a spreadsheet reading `row` with `separator` would make, with or without honouring
    /// the quotes, spaces and quotes at their start passed over.
    fn cells_as_read(row: &str, separator: u8, quotes: bool) -> Vec<String> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(separator)
            .quoting(quotes)
            .has_headers(false)
            .flexible(true)
            .from_reader(row.as_bytes());
        reader
            .records()
            .flat_map(|r| {
                r.map(|r| r.iter().map(str::to_owned).collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .map(|cell| cell.trim_start_matches([' ', '"']).to_owned())
            .collect()
    }

    #[test]
    fn no_separator_a_spreadsheet_may_use_starts_a_formula() {
        let hostile = [
            "Mallory;=1+1;",
            "Mallory\t=1+1",
            "a;\"=cmd|' /C calc'!A0\"",
            "x,+1",
            "line\n@SUM(A1)",
            "; -3",
            "\t=1",
            "=1",
        ];
        let row: Vec<String> = ["ABC-123", "王小明"]
            .into_iter()
            .chain(hostile)
            .map(csv_cell)
            .collect();
        let row = row.join(",") + "\r\n";
        for separator in [b',', b';', b'\t'] {
            for quotes in [true, false] {
                let cells = cells_as_read(&row, separator, quotes);
                assert!(cells.len() >= 2, "{cells:?}");
                for cell in &cells {
                    assert!(
                        !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                        "separator {:?}, quotes {quotes}: {cell:?} in {cells:?}",
                        separator as char
                    );
                }
            }
        }
        // read as written (commas, quotes), every value comes back whole, defused
        let cells = cells_as_read(&row, b',', true);
        assert_eq!(cells.len(), 10, "{cells:?}");
        assert_eq!(cells[2], "Mallory;'=1+1;");
    }
}
