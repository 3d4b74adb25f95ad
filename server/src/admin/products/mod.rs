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
use super::pages::{money, when};
use super::pictures;
use super::products_db::Outcome;
use super::session::Owner;
use super::{pages, AdminState};
use crate::store::clock::system_now;
use app::domain::SalePhase;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use leptos::prelude::*;
use std::sync::Arc;

/// The shop's time zone: sale times are typed and shown in it.
fn shop_zone() -> app::shop_time::ShopZone {
    app::shop_time::ShopZone::of_setting(&crate::shop_look::current().time_zone)
}

fn actor(owner: &Owner) -> String {
    format!("owner {}", owner.email)
}

/// The product's page after a change (POST → redirect → GET).
fn back_to(id: i64) -> Response {
    Redirect::to(&format!("/admin/products/{id}")).into_response()
}

/// A change refused because of the product's state: 409, nothing done.
fn refused(reason: String) -> Response {
    (
        StatusCode::CONFLICT,
        pages::message("Nothing was changed", &reason),
    )
        .into_response()
}

fn outcome<T>(result: Outcome<T>, id: i64) -> Result<Response, AdminError> {
    match result {
        Outcome::Done(_) => Ok(back_to(id)),
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
    let now = system_now();
    let rows = products
        .into_iter()
        .map(|p| {
            let href = format!("/admin/products/{}", p.id);
            let sale = match p.sale.as_ref().map(|s| s.phase(now.text())) {
                Some(SalePhase::Upcoming) => "sale announced",
                Some(SalePhase::Live) => "on sale",
                _ => "",
            };
            let label = if p.archived { "archived" } else { sale };
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
        "Products",
        view! {
            <h1>"Products"</h1>
            <p><a href="/admin/products/new" class="admin-button">"+ New product"</a></p>
            <div class="admin-scroll">
                <table>
                    <thead><tr><th>"Product"</th><th>"Price"</th><th>"Free stock"</th><th></th></tr></thead>
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
            .ok_or_else(|| "The stock is a whole number from 0 to 1,000,000.".to_owned()),
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
    let now = system_now();
    match state
        .db
        .create_product(&fields, stock, &actor(&owner), now.text())
        .await?
    {
        Outcome::Done(id) => {
            tracing::info!(product.id = id, owner = owner.id, "product created");
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
    let now = system_now();
    match state
        .db
        .update_product(id, &fields, &actor(&owner), now.text())
        .await?
    {
        Outcome::Refused(reason) => Ok(invalid(product_form_page(
            Some(&product),
            &form,
            &owner.csrf_token,
            &[reason],
        ))),
        other => outcome(other, id),
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
    let csrf = owner.csrf_token.clone();
    let now = system_now();
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
                        <button type="submit" class="admin-quiet">"Remove"</button>
                    </form>
                </li>
            }
        })
        .collect_view();

    let log = audit
        .into_iter()
        .map(|e| {
            let stock = match (e.stock_delta, e.stock_after) {
                (Some(d), Some(a)) => format!(" ({d:+} → {a} free)"),
                _ => String::new(),
            };
            let line = format!(
                "{} — {}{}{}{} ({})",
                when(&e.at),
                e.action,
                if e.detail.is_empty() { "" } else { ": " },
                e.detail,
                stock,
                e.actor
            );
            view! { <li>{line}</li> }
        })
        .collect_view();

    let stage = product.sale.as_ref().map(|s| s.phase(now.text()));
    let sale_summary = product.sale.as_ref().map(|s| {
        let stage = match s.phase(now.text()) {
            SalePhase::Upcoming => "Announced",
            SalePhase::Live => "Running",
            SalePhase::Ended => "Over",
        };
        format!(
            "{stage}: {} to {} (UTC) at {}{}{}",
            when(&s.starts_at),
            when(&s.ends_at),
            money(s.sale_price_cents),
            s.per_customer_limit
                .map(|l| format!(", {l} per customer"))
                .unwrap_or_default(),
            if s.waiting_room { ", waiting room" } else { "" },
        )
    });
    let sale_form = sale_fields(
        &product,
        &SaleForm::of(&product, shop_zone()),
        &owner.csrf_token,
        &now,
    );
    let end_label = match stage {
        Some(SalePhase::Live) => Some("End the sale now"),
        Some(SalePhase::Upcoming) => Some("Call off the sale"),
        _ => None,
    };
    let archived = product.archived;
    let title = product.name.clone();
    let shop_link = format!("/p/{}", product.slug);
    let line_note = (product.in_line > 0 || product.held > 0).then(|| {
        format!(
            "{} in the waiting line, {} units held.",
            product.in_line, product.held
        )
    });
    let body = view! {
        <p><a href="/admin/products">"← All products"</a></p>
        <h1>{title}</h1>
        {archived.then(|| view! { <p class="admin-error">"Archived: not shown in the shop and not sold."</p> })}
        {paused.then(|| view! { <p class="admin-error">"Checkout for this product is paused."</p> })}
        <p>
            {money(product.price_cents)} " · " <strong>{product.stock}</strong> " free in stock"
            {(!archived).then(|| view! { " · " <a href=shop_link>"See it in the shop"</a> })}
        </p>
        {line_note.map(|n| view! { <p>{n}</p> })}

        <section class="admin-card">
            <h2>"Stock"</h2>
            <form method="post" action={format!("{base}/stock")} class="admin-step">
                {hidden()}
                <label>"Add or take away (e.g. 12 or -3)"
                    <input name="delta" required inputmode="numeric" pattern="\\+?-?[0-9]+" />
                </label>
                <label>"Reason (kept in the log)"
                    <input name="reason" required minlength="3" maxlength="200" placeholder="New batch from the printer" />
                </label>
                <button type="submit">"Adjust stock"</button>
            </form>
        </section>

        <section class="admin-card">
            <h2>"Pictures"</h2>
            <ul class="admin-pictures">{picture_items}</ul>
            <form method="post" action={format!("{base}/pictures")} enctype="multipart/form-data" class="admin-step">
                {hidden()}
                <label>"Add a picture (JPEG, PNG or WebP, up to 15 MB)"
                    <input type="file" name="picture" accept="image/jpeg,image/png,image/webp" required />
                </label>
                <label>"What it shows (for screen readers)"
                    <input name="alt" maxlength="200" value=product.name.clone() />
                </label>
                <button type="submit">"Upload"</button>
            </form>
        </section>

        <section class="admin-card">
            <h2>"Flash sale"</h2>
            {sale_summary.map(|s| view! { <p>{s}</p> })}
            {sale_form}
            {end_label.map(|label| view! {
                <form method="post" action={format!("{base}/sale/end")}>
                    {hidden()}
                    <button type="submit" class="brake-pause">{label}</button>
                </form>
            })}
        </section>

        <section class="admin-card">
            <h2>"Details"</h2>
            {product_fields(&base, &ProductForm::of(&product), &owner.csrf_token, false, "Save")}
        </section>

        <section class="admin-card">
            <h2>"Checkout and archive"</h2>
            <form method="post" action="/admin/brake">
                {hidden()}
                <input type="hidden" name="scope" value=id.to_string() />
                <input type="hidden" name="back" value="product" />
                <input type="hidden" name="action" value={if paused { "resume" } else { "pause" }} />
                <button type="submit" class={if paused { "" } else { "brake-pause" }}>
                    {if paused { "Resume checkout" } else { "Pause checkout" }}
                </button>
            </form>
            <form method="post" action=format!("{base}/archive")>
                {hidden()}
                <input type="hidden" name="archived" value={if archived { "no" } else { "yes" }} />
                <button type="submit">{if archived { "Restore to the shop" } else { "Archive" }}</button>
            </form>
        </section>

        <section class="admin-card">
            <h2>"Log"</h2>
            <ul class="admin-log">{log}</ul>
        </section>
    };
    Ok(pages::document(&product.name, body).into_response())
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
        .ok_or_else(|| {
            AdminError::BadInput(
                "Give the change in stock as a whole number, like 12 or -3 (not 0).".into(),
            )
        })?;
    let reason = form.reason.trim();
    if !(3..=200).contains(&reason.chars().count()) || reason.chars().any(char::is_control) {
        return Err(AdminError::BadInput(
            "Say why the stock changes (3 to 200 characters): it goes in the log.".into(),
        ));
    }
    let now = system_now();
    let result = state
        .db
        .adjust_stock(id, delta, reason, &actor(&owner), now.text())
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
    outcome(result, id)
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
        _ => return Err(AdminError::BadInput("Archive or restore?".into())),
    };
    let now = system_now();
    let result = state
        .db
        .set_archived(id, archived, &actor(&owner), now.text())
        .await?;
    outcome(result, id)
}

/// `POST /admin/products/{id}/pictures`, multipart: `csrf`, `picture` (the file), `alt`. The
/// token is checked before the picture is looked at.
pub async fn upload_picture(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
    mut multipart: Multipart,
) -> Result<Response, AdminError> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AdminError::TooLarge(pictures::PictureError::TooLarge.to_string())
        } else {
            AdminError::BadInput(format!("The upload could not be read: {}", e.body_text()))
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
    let bytes = picture.ok_or_else(|| AdminError::BadInput("No picture was chosen.".into()))?;
    let alt = alt.trim();
    let alt = if alt.is_empty() {
        product.name.clone()
    } else {
        alt.chars().take(200).filter(|c| !c.is_control()).collect()
    };
    let dir = state.media_dir.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let web = pictures::process(&bytes).map_err(|e| match e {
            pictures::PictureError::TooLarge => AdminError::TooLarge(e.to_string()),
            other => AdminError::BadInput(other.to_string()),
        })?;
        pictures::store(&dir, &web).map_err(|e| {
            AdminError::Store(app::store::StoreError::unexpected(format!(
                "cannot store a picture in {}: {e}",
                dir.display()
            )))
        })
    })
    .await
    .map_err(|e| {
        AdminError::Store(app::store::StoreError::unexpected(app::store::Cause::of(e)))
    })??;
    let (Some(small), Some(large)) = (stored.first(), stored.get(1)) else {
        return Err(AdminError::Store(app::store::StoreError::Unexpected(
            "a picture was stored without its sizes".into(),
        )));
    };
    let now = system_now();
    let result = state
        .db
        .add_picture(id, small, large, &alt, &actor(&owner), now.text())
        .await?;
    if matches!(result, Outcome::Done(_)) {
        tracing::info!(product.id = id, picture = %large, owner = owner.id, "picture added");
    }
    outcome(result, id)
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
        .map_err(|_| AdminError::BadInput("Which picture?".into()))?;
    let now = system_now();
    let result = state
        .db
        .remove_picture(id, position, &actor(&owner), now.text())
        .await?;
    outcome(result, id)
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
            let now = system_now();
            let page = pages::document(
                "Check the sale",
                view! {
                    <p><a href={format!("/admin/products/{id}")}>"← Back to the product"</a></p>
                    <h1>"Check the sale"</h1>
                    {problem_list(&problems)}
                    {sale_fields(&product, &form, &owner.csrf_token, &now)}
                },
            );
            return Ok(invalid(page));
        }
    };
    let now = system_now();
    let result = state
        .db
        .save_sale(id, &input, &actor(&owner), now.text())
        .await?;
    if matches!(result, Outcome::Done(_)) {
        tracing::info!(product.id = id, owner = owner.id, starts_at = %input.starts_at, "sale saved");
    }
    outcome(result, id)
}

pub async fn end_sale(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    let now = system_now();
    let result = state.db.end_sale(id, &actor(&owner), now.text()).await?;
    if matches!(result, Outcome::Done(_)) {
        tracing::warn!(product.id = id, owner = owner.id, "sale ended by the owner");
    }
    outcome(result, id)
}
