//! The owner's products: the list (archived ones too), creating and editing (name, address,
//! description, price, per-order limit), stock adjustments with a reason, pictures from the
//! phone, the flash-sale settings, archiving, and each product's audit log.
//!
//! Forms are parsed into checked values here, at the edge; a bad value re-shows the form with
//! what was typed and a 422, and changes nothing. What may be done depends on the stored state
//! (a running sale, people in line, free stock) and is decided in `products_db`, inside the
//! change's own transaction.
//!
//! The handlers are here; the forms and their checks in `forms.rs`, the pieces of page they
//! share in `views.rs`, the queries in `products_db`.

mod forms;
mod views;

use super::pages::problem_list;
pub use forms::{slug_from, ArchiveForm, ProductForm, RemovePictureForm, SaleForm, StockForm};
use views::{product_fields, product_form_page, sale_fields};

use super::error::AdminError;
use super::pages::{money, t, when};
use super::pictures;
use super::products_db::Outcome;
use super::session::Owner;
use super::{pages, AdminState};
use app::domain::SalePhase;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use leptos::prelude::*;
use std::sync::Arc;

/// The shop's time zone: sale times are typed and shown in it.
fn shop_zone() -> app::shop_time::ShopZone {
    app::shop_time::ShopZone::of_setting(&crate::edge::shop_look::current().time_zone)
}

/// The product's page after a change (POST → redirect → GET).
fn back_to(id: i64) -> Response {
    Redirect::to(&format!("/admin/products/{id}")).into_response()
}

/// A change refused because of the product's state: 409, nothing done.
fn refused(reason: String) -> Response {
    (
        StatusCode::CONFLICT,
        pages::message(&t!(admin_nothing_changed), &reason),
    )
        .into_response()
}

/// A change done shows in the shop at once on this server (the owner follows her "See it in
/// the shop" link); other servers read it within their catalogue cache's window.
async fn outcome<T>(
    result: Outcome<T>,
    id: i64,
    state: &AdminState,
) -> Result<Response, AdminError> {
    match result {
        Outcome::Done(_) => {
            state.catalogue.forget().await;
            Ok(back_to(id))
        }
        Outcome::NotFound => Err(AdminError::NotFound),
        Outcome::Refused(reason) => Ok(refused(reason)),
    }
}

pub async fn list(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
) -> Result<Response, AdminError> {
    let _ = owner;
    let products = state.db.list_products().await?;
    let now = state.clock.now();
    let rows = products
        .into_iter()
        .map(|p| {
            let href = format!("/admin/products/{}", p.id);
            let sale = match p.sale.as_ref().map(|s| s.phase(now.instant())) {
                Some(SalePhase::Upcoming) => t!(admin_products_sale_announced),
                Some(SalePhase::Live) => t!(admin_products_on_sale),
                _ => String::new(),
            };
            let label = if p.archived {
                t!(admin_products_archived)
            } else {
                sale
            };
            view! {
                <tr>
                    <td><a href=href>{p.name}</a><br /><small>{format!("/p/{}", p.slug)}</small></td>
                    <td class="num">{money(p.price_cents)}</td>
                    <td class="num">{p.stock}</td>
                    <td>{label}</td>
                </tr>
            }
        })
        .collect_view();
    Ok(pages::document(
        &t!(admin_products_title),
        view! {
            <h1>{t!(admin_products_title)}</h1>
            <p><a href="/admin/products/new" class="admin-button">{t!(admin_products_new)}</a></p>
            <div class="admin-scroll">
                <table>
                    <thead><tr>
                        <th>{t!(admin_order_product)}</th>
                        <th>{t!(admin_products_price)}</th>
                        <th>{t!(admin_products_free_stock)}</th>
                        <th></th>
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        },
    )
    .into_response())
}

pub async fn new_page(owner: Owner) -> Result<Response, AdminError> {
    Ok(product_form_page(None, &ProductForm::default(), &owner.csrf_token, &[]).into_response())
}

pub async fn create(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Form(form): Form<ProductForm>,
) -> Result<Response, AdminError> {
    let stock = match form.stock.trim() {
        "" => Ok(0),
        s => s
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=1_000_000).contains(n))
            .ok_or_else(|| t!(admin_err_stock)),
    };
    let fields = form.fields();
    let (fields, stock) = match (fields, stock) {
        (Ok(f), Ok(s)) => (f, s),
        (fields, stock) => {
            let mut problems = fields.err().unwrap_or_default();
            problems.extend(stock.err());
            return Ok(invalid(product_form_page(
                None,
                &form,
                &owner.csrf_token,
                &problems,
            )));
        }
    };
    let now = state.clock.now();
    match state
        .db
        .create_product(&fields, stock, &owner.actor(), now.instant())
        .await?
    {
        Outcome::Done(id) => {
            tracing::info!(product.id = id, owner = owner.id, "product created");
            state.catalogue.forget().await;
            Ok(back_to(id))
        }
        Outcome::NotFound => Err(AdminError::NotFound),
        Outcome::Refused(reason) => Ok(invalid(product_form_page(
            None,
            &form,
            &owner.csrf_token,
            &[reason],
        ))),
    }
}

fn invalid(page: Html<String>) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

pub async fn update(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
    Form(form): Form<ProductForm>,
) -> Result<Response, AdminError> {
    let product = state.db.product(id).await?.ok_or(AdminError::NotFound)?;
    let fields = match form.fields() {
        Ok(f) => f,
        Err(problems) => {
            return Ok(invalid(product_form_page(
                Some(&product),
                &form,
                &owner.csrf_token,
                &problems,
            )))
        }
    };
    let now = state.clock.now();
    match state
        .db
        .update_product(id, &fields, &owner.actor(), now.instant())
        .await?
    {
        Outcome::Refused(reason) => Ok(invalid(product_form_page(
            Some(&product),
            &form,
            &owner.csrf_token,
            &[reason],
        ))),
        other => outcome(other, id, &state).await,
    }
}

/// One product: its details, stock, pictures, sale, brake and archive controls, and its log.
pub async fn detail(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    let product = state.db.product(id).await?.ok_or(AdminError::NotFound)?;
    let pictures = state.db.pictures(id).await?;
    let audit = state.db.audit(id, 50).await?;
    let paused = state.db.paused().await?.contains(&id);
    let rehearsals = crate::rehearsal::ledger::of_product(&state.db, id, 10).await?;
    let csrf = owner.csrf_token.clone();
    let now = state.clock.now();
    let base = format!("/admin/products/{id}");
    let hidden = move || view! { <input type="hidden" name="csrf" value=csrf.clone() /> };

    let picture_items = pictures
        .into_iter()
        .map(|pic| {
            let action = format!("{base}/pictures/remove");
            view! {
                <li class="admin-picture">
                    <img src=pic.url alt=pic.alt width="160" height="120" />
                    <form method="post" action=action>
                        {hidden()}
                        <input type="hidden" name="position" value=pic.position.to_string() />
                        <button type="submit" class="admin-quiet">{t!(admin_remove)}</button>
                    </form>
                </li>
            }
        })
        .collect_view();

    let log = audit
        .into_iter()
        .map(|e| {
            let stock = match (e.stock_delta, e.stock_after) {
                (Some(d), Some(a)) => t!(admin_log_stock, delta = format!("{d:+}"), after = a),
                _ => String::new(),
            };
            let line = format!(
                "{} — {}{}{}{} ({})",
                when(e.at),
                action_word(&e.action),
                if e.detail.is_empty() { "" } else { ": " },
                e.detail,
                stock,
                pages::actor(&e.actor)
            );
            view! { <li>{line}</li> }
        })
        .collect_view();

    let stage = product.sale.as_ref().map(|s| s.phase(now.instant()));
    let sale_summary = product.sale.as_ref().map(|s| {
        let stage = match s.phase(now.instant()) {
            SalePhase::Upcoming => t!(admin_sale_announced),
            SalePhase::Live => t!(admin_sale_running),
            SalePhase::Ended => t!(admin_sale_over),
        };
        let mut summary = t!(
            admin_sale_summary,
            stage = stage,
            starts = when(s.starts_at),
            ends = when(s.ends_at),
            price = money(s.sale_price_cents)
        );
        if let Some(l) = s.per_customer_limit {
            summary.push_str(&t!(admin_sale_summary_limit, limit = l));
        }
        if s.waiting_room {
            summary.push_str(&t!(admin_sale_summary_waiting_room));
        }
        summary
    });
    let sale_form = sale_fields(
        &product,
        &SaleForm::of(&product, shop_zone()),
        &owner.csrf_token,
        &now,
    );
    let end_label = match stage {
        Some(SalePhase::Live) => Some(t!(admin_sale_end_now)),
        Some(SalePhase::Upcoming) => Some(t!(admin_sale_call_off)),
        _ => None,
    };
    let archived = product.archived;
    let title = product.name.clone();
    let shop_link = format!("/p/{}", product.slug);
    let line_note = (product.in_line > 0 || product.held > 0).then(|| {
        t!(
            admin_product_line_note,
            in_line = product.in_line,
            held = product.held
        )
    });
    let body = view! {
        <p><a href="/admin/products">{t!(admin_products_all)}</a></p>
        <h1>{title}</h1>
        {archived.then(|| view! { <p class="admin-error">{t!(admin_product_archived_note)}</p> })}
        {paused.then(|| view! { <p class="admin-error">{t!(admin_product_paused_note)}</p> })}
        <p>
            {money(product.price_cents)} " · " {t!(admin_product_free_before)} <strong>{product.stock}</strong>
            {t!(admin_product_free_after)}
            {(!archived).then(|| view! { " · " <a href=shop_link>{t!(admin_product_see_in_shop)}</a> })}
        </p>
        {line_note.map(|n| view! { <p>{n}</p> })}

        <section class="admin-card">
            <h2>{t!(admin_product_stock)}</h2>
            <form method="post" action={format!("{base}/stock")} class="admin-step">
                {hidden()}
                <label>{t!(admin_product_stock_delta)}
                    <input name="delta" required inputmode="numeric" pattern="\\+?-?[0-9]+" />
                </label>
                <label>{t!(admin_product_stock_reason)}
                    <input name="reason" required minlength="2" maxlength="200" placeholder=t!(admin_product_stock_reason_example) />
                </label>
                <button type="submit">{t!(admin_product_adjust_stock)}</button>
            </form>
        </section>

        <section class="admin-card">
            <h2>{t!(admin_product_pictures)}</h2>
            <ul class="admin-pictures">{picture_items}</ul>
            <form method="post" action={format!("{base}/pictures")} enctype="multipart/form-data" class="admin-step">
                {hidden()}
                <label>{t!(admin_product_add_picture)}
                    <input type="file" name="picture" accept="image/jpeg,image/png,image/webp" required />
                </label>
                <label>{t!(admin_product_picture_alt)}
                    <input name="alt" maxlength="200" value=product.name.clone() />
                </label>
                <button type="submit">{t!(admin_upload)}</button>
            </form>
        </section>

        <section class="admin-card">
            <h2>{t!(admin_product_flash_sale)}</h2>
            {sale_summary.map(|s| view! { <p>{s}</p> })}
            {sale_form}
            {end_label.map(|label| view! {
                <form method="post" action={format!("{base}/sale/end")}>
                    {hidden()}
                    <button type="submit" class="brake-pause">{label}</button>
                </form>
            })}
        </section>

        {super::rehearsals::section(id, product.stock, &owner.csrf_token, rehearsals, &now)}

        <section class="admin-card">
            <h2>{t!(admin_product_details)}</h2>
            {product_fields(&base, &ProductForm::of(&product), &owner.csrf_token, false, &t!(admin_save))}
        </section>

        <section class="admin-card">
            <h2>{t!(admin_product_checkout_archive)}</h2>
            <form method="post" action="/admin/brake">
                {hidden()}
                <input type="hidden" name="scope" value=id.to_string() />
                <input type="hidden" name="back" value="product" />
                <input type="hidden" name="action" value={if paused { "resume" } else { "pause" }} />
                <button type="submit" class={if paused { "" } else { "brake-pause" }}>
                    {if paused { t!(admin_product_resume_checkout) } else { t!(admin_product_pause_checkout) }}
                </button>
            </form>
            <form method="post" action=format!("{base}/archive")>
                {hidden()}
                <input type="hidden" name="archived" value={if archived { "no" } else { "yes" }} />
                <button type="submit">{if archived { t!(admin_product_restore) } else { t!(admin_product_archive) }}</button>
            </form>
        </section>

        <section class="admin-card">
            <h2>{t!(admin_product_log)}</h2>
            <ul class="admin-log">{log}</ul>
        </section>
    };
    Ok(pages::document(&product.name, body).into_response())
}

/// How much a reason says: a Chinese (or Japanese, Korean) character counts as two letters, so
/// "盘点" (stocktake) is as good a reason as "lost" and "ok" is not one.
fn reason_width(reason: &str) -> usize {
    reason
        .chars()
        .map(|c| if c >= '\u{2E80}' { 2 } else { 1 })
        .sum()
}

/// A log line's stored action, in the owner's language (one it does not know, as stored).
fn action_word(action: &str) -> String {
    match action {
        "created" => t!(admin_action_created),
        "edited" => t!(admin_action_edited),
        "picture" => t!(admin_action_picture),
        "sale" => t!(admin_action_sale),
        "stock" => t!(admin_action_stock),
        "archived" => t!(admin_action_archived),
        "restored" => t!(admin_action_restored),
        other => other.to_owned(),
    }
}

pub async fn adjust_stock(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
    Form(form): Form<StockForm>,
) -> Result<Response, AdminError> {
    let delta = form
        .delta
        .trim()
        .trim_start_matches('+')
        .parse::<i64>()
        .ok()
        .filter(|d| *d != 0 && d.abs() <= 1_000_000)
        .ok_or_else(|| AdminError::BadInput(t!(admin_err_stock_delta)))?;
    let reason = form.reason.trim();
    if !(3..=400).contains(&reason_width(reason))
        || reason.chars().count() > 200
        || reason.chars().any(char::is_control)
    {
        return Err(AdminError::BadInput(t!(admin_err_stock_reason)));
    }
    let now = state.clock.now();
    let result = state
        .db
        .adjust_stock(id, delta, reason, &owner.actor(), now.instant())
        .await?;
    if let Outcome::Done(after) = &result {
        tracing::info!(
            product.id = id,
            delta,
            stock = after,
            owner = owner.id,
            "stock adjusted"
        );
    }
    outcome(result, id, &state).await
}

pub async fn archive(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
    Form(form): Form<ArchiveForm>,
) -> Result<Response, AdminError> {
    let archived = match form.archived.as_str() {
        "yes" => true,
        "no" => false,
        _ => return Err(AdminError::BadInput(t!(admin_err_archive))),
    };
    let now = state.clock.now();
    let result = state
        .db
        .set_archived(id, archived, &owner.actor(), now.instant())
        .await?;
    outcome(result, id, &state).await
}

/// `POST /admin/products/{id}/pictures`, multipart: `csrf`, `picture` (the file), `alt`. The
/// token is checked before the picture is looked at.
pub async fn upload_picture(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
    mut multipart: Multipart,
) -> Result<Response, AdminError> {
    let lang = pages::lang();
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            pictures::PictureError::TooLarge.refusal(lang)
        } else {
            AdminError::BadInput(t!(admin_err_upload, why = e.body_text()))
        }
    };
    let (mut alt, mut picture) = (String::new(), None);
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().map(str::to_owned);
        match name.as_deref() {
            Some("alt") => alt = field.text().await.map_err(unreadable)?,
            Some("picture") => {
                picture = Some(field.bytes().await.map_err(unreadable)?);
            }
            _ => {}
        }
    }
    let product = state.db.product(id).await?.ok_or(AdminError::NotFound)?;
    let bytes = picture.ok_or_else(|| pictures::PictureError::Empty.refusal(lang))?;
    let alt = alt.trim();
    let alt = if alt.is_empty() {
        product.name.clone()
    } else {
        alt.chars().take(200).filter(|c| !c.is_control()).collect()
    };
    let dir = state.media_dir.clone();
    let stored = pictures::one_at_a_time(move || {
        let web = pictures::process(&bytes).map_err(|e| e.refusal(lang))?;
        pictures::store(&dir, &web).map_err(|e| {
            AdminError::Store(app::store::StoreError::unexpected(format!(
                "cannot store a picture in {}: {e}",
                dir.display()
            )))
        })
    })
    .await
    .map_err(|e| e.refusal(lang))??;
    let (Some(small), Some(large)) = (stored.first(), stored.get(1)) else {
        return Err(AdminError::Store(app::store::StoreError::Unexpected(
            "a picture was stored without its sizes".into(),
        )));
    };
    let now = state.clock.now();
    let result = state
        .db
        .add_picture(id, small, large, &alt, &owner.actor(), now.instant())
        .await?;
    if matches!(result, Outcome::Done(_)) {
        tracing::info!(product.id = id, picture = %large, owner = owner.id, "picture added");
    }
    outcome(result, id, &state).await
}

pub async fn remove_picture(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
    Form(form): Form<RemovePictureForm>,
) -> Result<Response, AdminError> {
    let position = form
        .position
        .trim()
        .parse::<i64>()
        .map_err(|_| AdminError::BadInput(t!(admin_err_which_picture)))?;
    let now = state.clock.now();
    let result = state
        .db
        .remove_picture(id, position, &owner.actor(), now.instant())
        .await?;
    outcome(result, id, &state).await
}

pub async fn save_sale(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
    Form(form): Form<SaleForm>,
) -> Result<Response, AdminError> {
    let product = state.db.product(id).await?.ok_or(AdminError::NotFound)?;
    let input = match form.input(shop_zone()) {
        Ok(input) => input,
        Err(problems) => {
            let now = state.clock.now();
            let page = pages::document(
                &t!(admin_check_sale),
                view! {
                    <p><a href={format!("/admin/products/{id}")}>{t!(admin_back_to_product)}</a></p>
                    <h1>{t!(admin_check_sale)}</h1>
                    {problem_list(&problems)}
                    {sale_fields(&product, &form, &owner.csrf_token, &now)}
                },
            );
            return Ok(invalid(page));
        }
    };
    let now = state.clock.now();
    let result = state.db.save_sale(id, &input, &owner.actor(), &now).await?;
    if matches!(result, Outcome::Done(_)) {
        tracing::info!(product.id = id, owner = owner.id, starts_at = %input.starts_at, "sale saved");
    }
    outcome(result, id, &state).await
}

pub async fn end_sale(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    let now = state.clock.now();
    let result = state.db.end_sale(id, &owner.actor(), &now).await?;
    if matches!(result, Outcome::Done(_)) {
        tracing::warn!(product.id = id, owner = owner.id, "sale ended by the owner");
    }
    outcome(result, id, &state).await
}
