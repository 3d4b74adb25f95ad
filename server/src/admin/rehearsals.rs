//! "Rehearse this sale" on the owner's product page: the form, starting one (checked and claimed
//! here, then run by `server rehearse --claimed ID` as a child process of this server, at a lower
//! priority), its page (a progress bar while it runs, refreshing itself without JavaScript; a
//! cancel button; then the report in the owner's language), and the list of past ones.

use super::error::AdminError;
use super::pages::{self, t, when};
use super::session::Owner;
use super::AdminState;
use crate::rehearsal::report::Report;
use crate::rehearsal::{self, ledger, Plan, PlanError, Progress, Refusal};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use leptos::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// How this server starts rehearsals.
#[derive(Debug, Clone)]
pub struct Rehearsals {
    /// The server binary (this one) that runs `rehearse --claimed ID`.
    pub server: PathBuf,
}

/// The rehearsal form as posted: numbers as typed, checked into a [`Plan`].
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RehearseForm {
    #[serde(default)]
    pub shoppers: String,
    #[serde(default)]
    pub over: String,
    #[serde(default)]
    pub give_up: String,
    #[serde(default)]
    pub stock: String,
    pub retry: Option<String>,
    pub browse: Option<String>,
}

impl RehearseForm {
    /// The plan the form asks for, or what is wrong with it in the owner's words. Something
    /// that is not a whole number counts as out of bounds (-1 is outside every bound).
    fn plan(&self, product_id: i64) -> Result<Plan, String> {
        let number = |typed: &str, empty: i64| -> i64 {
            let typed = typed.trim().replace([',', ' '], "");
            if typed.is_empty() {
                empty
            } else {
                typed.parse().unwrap_or(-1)
            }
        };
        let stock = (!self.stock.trim().is_empty()).then(|| number(&self.stock, 0));
        let mut plan = Plan::new(
            product_id,
            number(&self.shoppers, 1000),
            number(&self.over, 0),
            number(&self.give_up, 0),
            stock,
        )
        .map_err(|e| problem(&e))?;
        plan.retry_busy = self.retry.is_some();
        plan.browse = self.browse.is_some();
        Ok(plan)
    }
}

/// A plan's problem in the owner's words.
fn problem(e: &PlanError) -> String {
    match e {
        PlanError::Shoppers(_) => t!(
            admin_rehearse_bad_shoppers,
            most = rehearsal::plan::MOST_SHOPPERS
        ),
        PlanError::Arrival(_) => t!(
            admin_rehearse_bad_over,
            most = rehearsal::plan::LONGEST_ARRIVAL_SECS
        ),
        PlanError::GiveUp(_) => t!(admin_rehearse_bad_give_up),
        PlanError::Stock(_) => t!(admin_rehearse_bad_stock),
    }
}

/// The product page's section: the form and the product's past rehearsals.
pub fn section(
    product_id: i64,
    stock: i64,
    csrf: &str,
    past: Vec<ledger::Rehearsal>,
    now: &crate::store::clock::Now,
) -> impl IntoView {
    let past = past
        .into_iter()
        .map(|r| {
            let summary = r
                .report
                .as_deref()
                .and_then(|json| serde_json::from_str::<Report>(json).ok())
                .map(|rep| {
                    t!(
                        admin_rehearsal_summary,
                        shoppers = rep.plan.shoppers,
                        sold = rep.units_sold,
                        units = rep.units_available
                    )
                })
                .unwrap_or_default();
            let line = format!(
                "{} — {} {}",
                when(r.started_at),
                state_word(r.state_now(now)),
                summary
            );
            view! { <li><a href=format!("/admin/rehearsals/{}", r.id)>{line}</a></li> }
        })
        .collect_view();
    view! {
        <section class="admin-card" id="rehearse">
            <h2>{t!(admin_rehearse_title)}</h2>
            <p>{t!(admin_rehearse_intro)}</p>
            <form method="post" action=format!("/admin/products/{product_id}/rehearse") class="admin-step">
                <input type="hidden" name="csrf" value=csrf.to_owned() />
                <label>{t!(admin_rehearse_shoppers)}
                    <input name="shoppers" required inputmode="numeric" value="1000" />
                </label>
                <label>{t!(admin_rehearse_over)}
                    <input name="over" inputmode="numeric" value="0" />
                </label>
                <label>{t!(admin_rehearse_give_up)}
                    <input name="give_up" inputmode="numeric" value="0" />
                </label>
                <label>{t!(admin_rehearse_stock)}
                    <input name="stock" inputmode="numeric" placeholder=stock.to_string() />
                </label>
                <label class="admin-check">
                    <input type="checkbox" name="browse" value="yes" checked /> {t!(admin_rehearse_browse)}
                </label>
                <label class="admin-check">
                    <input type="checkbox" name="retry" value="yes" checked /> {t!(admin_rehearse_retry)}
                </label>
                <button type="submit">{t!(admin_rehearse_start)}</button>
            </form>
            <h3>{t!(admin_rehearse_past)}</h3>
            <ul class="admin-log">{past}</ul>
        </section>
    }
}

/// `POST /admin/products/{id}/rehearse`: checks, claims, starts the child, and goes to its page.
pub async fn start(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
    Form(form): Form<RehearseForm>,
) -> Result<Response, AdminError> {
    state.db.product(id).await?.ok_or(AdminError::NotFound)?;
    let plan = match form.plan(id) {
        Ok(plan) => plan,
        Err(problem) => {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::message(&t!(admin_rehearse_title), &problem),
            )
                .into_response())
        }
    };
    let rid = match rehearsal::admit(&state.db, &plan, &state.clock.now()).await {
        Ok(rid) => rid,
        Err(refusal) => return refusal_page(refusal),
    };
    let spawned = std::process::Command::new(&state.rehearsals.server)
        .args(["rehearse", "--claimed", &rid.to_string(), "--quiet"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            tracing::info!(
                rehearsal = rid,
                product.id = id,
                owner = owner.id,
                shoppers = plan.shoppers,
                "rehearsal started"
            );
            // reaped when it ends (a thread that only waits); it outlives this request
            std::thread::spawn(move || match child.wait() {
                Ok(status) if status.success() => {}
                Ok(status) => tracing::warn!(rehearsal = rid, %status, "rehearsal ended badly"),
                Err(e) => tracing::warn!(rehearsal = rid, error = %e, "rehearsal lost"),
            });
        }
        Err(e) => {
            tracing::error!(rehearsal = rid, error = %e, "cannot start the rehearsal");
            let now = state.clock.now();
            ledger::end(&state.db, rid, "failed", None, Some(&e.to_string()), &now).await?;
        }
    }
    Ok(Redirect::to(&format!("/admin/rehearsals/{rid}")).into_response())
}

fn refusal_page(refusal: Refusal) -> Result<Response, AdminError> {
    let text = match refusal {
        Refusal::SaleRunning { product } => t!(admin_rehearse_refused_running, product = product),
        Refusal::SaleSoon {
            product,
            minutes,
            longest_minutes,
        } => t!(
            admin_rehearse_refused_soon,
            product = product,
            minutes = minutes,
            longest = longest_minutes
        ),
        Refusal::AnotherRunning => t!(admin_rehearse_refused_another),
        Refusal::NoProduct(_) => return Err(AdminError::NotFound),
        Refusal::Plan(e) => problem(&e),
        Refusal::Store(e) => return Err(AdminError::Store(e)),
        Refusal::Failed(why) => {
            tracing::error!(error = %why, "rehearsal could not start");
            t!(admin_err_internal)
        }
    };
    Ok((
        StatusCode::CONFLICT,
        pages::message(&t!(admin_rehearse_title), &text),
    )
        .into_response())
}

/// `POST /admin/rehearsals/{id}/cancel`.
pub async fn cancel(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    if ledger::request_cancel(&state.db, id).await? {
        tracing::info!(rehearsal = id, owner = owner.id, "rehearsal cancel asked");
    }
    Ok(Redirect::to(&format!("/admin/rehearsals/{id}")).into_response())
}

/// `GET /admin/rehearsals/{id}`: its progress while it runs (the page refreshes itself every
/// 2 s), then its report.
pub async fn page(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    let r = ledger::get(&state.db, id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let product = state.db.product(r.product_id).await?;
    let name = product.map(|p| p.name).unwrap_or_default();
    let title = t!(admin_rehearsal_heading, name = name);
    let back = format!("/admin/products/{}#rehearse", r.product_id);
    let now = state.clock.now();
    let state = r.state_now(&now);
    let running = state == "running";
    let head = view! {
        <p><a href=back>{t!(admin_back_to_product)}</a></p>
        <h1>{title.clone()}</h1>
        <p data-testid="rehearsal-state">{format!("{} · {}", when(r.started_at), state_word(state))}</p>
    };
    let body = if running {
        let progress: Option<Progress> = r
            .progress
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok());
        let (done, total) = progress
            .as_ref()
            .map_or((0, 1), |p| (p.shoppers_done, p.shoppers.max(1)));
        let said = progress.as_ref().map_or_else(
            || t!(admin_rehearsal_starting),
            |p| {
                t!(
                    admin_rehearsal_running,
                    done = p.shoppers_done,
                    total = p.shoppers,
                    sold = p.units_sold,
                    sold_out = p.sold_out,
                    busy = p.busy,
                    secs = format!("{:.0}", p.seconds)
                )
            },
        );
        let chart = progress.as_ref().filter(|p| !p.left.is_empty()).map(|p| {
            view! {
                <p data-testid="rehearsal-left">{t!(admin_rehearsal_burn, left = p.left.last().copied().unwrap_or(p.units), units = p.units)}</p>
                {burn_chart(&p.left, p.units)}
                <p><small>{t!(admin_rehearsal_memory_now, mib = format!("{:.0}", p.memory_mib))}</small></p>
            }
        });
        view! {
            {head}
            <progress max=total.to_string() value=done.to_string() data-testid="rehearsal-progress" style="width:100%;height:1.5rem"></progress>
            <p>{said}</p>
            {chart}
            <form method="post" action=format!("/admin/rehearsals/{id}/cancel")>
                <input type="hidden" name="csrf" value=owner.csrf_token.clone() />
                <button type="submit" class="brake-pause">{t!(admin_rehearsal_cancel)}</button>
            </form>
        }
        .into_any()
    } else if let Some(report) = r
        .report
        .as_deref()
        .and_then(|json| serde_json::from_str::<Report>(json).ok())
    {
        view! { {head} {report_view(&report)} }.into_any()
    } else {
        let why = r.error.clone().unwrap_or_else(|| ledger::DIED.to_owned());
        view! {
            {head}
            <p class="admin-error" data-testid="rehearsal-failed">{t!(admin_rehearsal_failed, why = why)}</p>
        }
        .into_any()
    };
    Ok(pages::document_refreshing(&title, running.then_some(2), body).into_response())
}

/// Units left each second, drawn as the control room draws a sale's.
fn burn_chart(left: &[i64], units: i64) -> impl IntoView {
    let svg = crate::admin::live::burn_svg(left, units, &t!(admin_rehearsal_burn_label));
    view! { <div class="rehearsal-burn" data-testid="rehearsal-burn" inner_html=svg></div> }
}

/// What the rehearsal's shop counted itself, beside what the phones saw.
fn counted_view(c: &crate::rehearsal::counted::Counted) -> impl IntoView {
    let ms = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |ms| format!("{ms:.0} ms"));
    let answers = c
        .checkout_answers
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(kind, n)| {
            view! { <tr><td>{crate::admin::live::answer_word(kind, app::pulse::Answer::metric)}</td><td class="num" data-answer=kind.clone()>{*n}</td></tr> }
        })
        .collect_view();
    view! {
        <h2>{t!(admin_rehearsal_counted)}</h2>
        <table data-testid="rehearsal-counted"><tbody>{answers}</tbody></table>
        <p>{t!(
            admin_rehearsal_counted_desk,
            batches = c.desk_batches,
            jobs = format!("{:.1}", c.jobs_per_batch()),
            commit = ms(c.desk_commit_p95_ms),
            checkout = ms(c.checkout_p95_ms)
        )}</p>
        <p>{t!(admin_rehearsal_counted_refused, limited = c.rate_limited, refused = c.connections_refused)}</p>
    }
}

fn state_word(state: &str) -> String {
    match state {
        "running" => t!(admin_rehearsal_state_running),
        "finished" => t!(admin_rehearsal_state_finished),
        "cancelled" => t!(admin_rehearsal_state_cancelled),
        _ => t!(admin_rehearsal_state_failed),
    }
}

fn outcome_word(kind: &str) -> String {
    match kind {
        "ordered" => t!(admin_rehearsal_outcome_ordered),
        "sold_out" => t!(admin_rehearsal_outcome_sold_out),
        "gave_up" => t!(admin_rehearsal_outcome_gave_up),
        "busy" => t!(admin_rehearsal_outcome_busy),
        "rate_limited" => t!(admin_rehearsal_outcome_rate_limited),
        "still_waiting" => t!(admin_rehearsal_outcome_still_waiting),
        "hold_expired" => t!(admin_rehearsal_outcome_hold_expired),
        other => other.to_owned(),
    }
}

fn report_view(report: &Report) -> impl IntoView {
    let a = report.audit;
    let audit = if a.holds() {
        t!(
            admin_rehearsal_audit_ok,
            stock = a.stock,
            sold = a.sold,
            held = a.held,
            total = a.stock + a.sold + a.held
        )
    } else {
        t!(
            admin_rehearsal_audit_failed,
            oversold = a.oversold,
            lost = a.lost
        )
    };
    let sold = match report.sold_out_after_secs {
        Some(secs) => t!(
            admin_rehearsal_sold_out_after,
            units = report.units_sold,
            secs = format!("{secs:.1}")
        ),
        None => t!(
            admin_rehearsal_sold_of,
            sold = report.units_sold,
            units = report.units_available
        ),
    };
    let outcomes = report
        .outcomes
        .iter()
        .map(|(kind, n)| {
            view! { <tr><td>{outcome_word(kind)}</td><td class="num">{*n}</td></tr> }
        })
        .collect_view();
    let answers = report
        .answers
        .iter()
        .map(|x| {
            view! {
                <tr>
                    <td>{x.request.clone()}</td><td>{x.kind.clone()}</td>
                    <td class="num">{x.count}</td>
                    <td class="num">{format!("{:.0}", x.latency.p50_ms)}</td>
                    <td class="num">{format!("{:.0}", x.latency.p95_ms)}</td>
                    <td class="num">{format!("{:.0}", x.latency.p99_ms)}</td>
                </tr>
            }
        })
        .collect_view();
    let advice = report
        .advice
        .iter()
        .map(|x| view! { <li>{x.words(pages::lang())}</li> })
        .collect_view();
    let line = report.waiting_room.then(|| {
        t!(
            admin_rehearsal_line,
            line = report.longest_line,
            secs = format!("{:.0}", report.longest_wait_secs)
        )
    });
    let plan = t!(
        admin_rehearsal_plan,
        shoppers = report.plan.shoppers,
        over = report.plan.arrive_over_secs,
        give_up = report.plan.give_up_percent
    );
    view! {
        <p>{plan}</p>
        <p class=if a.holds() { "admin-ok" } else { "admin-error" } data-testid="rehearsal-audit">{audit}</p>
        <p data-testid="rehearsal-sold">{sold}</p>
        {(!report.left.is_empty()).then(|| burn_chart(&report.left, report.units_available))}
        <p>{t!(admin_rehearsal_orders_per_sec, n = format!("{:.0}", report.orders_per_sec))}</p>
        <h2>{t!(admin_rehearsal_advice)}</h2>
        <ul data-testid="rehearsal-advice">{advice}</ul>
        <h2>{t!(admin_rehearsal_outcomes)}</h2>
        <table data-testid="rehearsal-outcomes"><tbody>{outcomes}</tbody></table>
        {line.map(|l| view! { <p>{l}</p> })}
        <p>{t!(admin_rehearsal_used, mib = format!("{:.0}", report.peak_memory_mib), cpu = format!("{:.1}", report.cpu_secs))}</p>
        {report.counted.as_ref().map(counted_view)}
        <h2>{t!(admin_rehearsal_answers)}</h2>
        <div class="admin-scroll">
            <table>
                <thead><tr><th></th><th></th><th class="num">"#"</th><th class="num">"p50"</th><th class="num">"p95"</th><th class="num">"p99 ms"</th></tr></thead>
                <tbody>{answers}</tbody>
            </table>
        </div>
    }
}
