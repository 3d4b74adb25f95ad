//! The owner's products: the list (archived ones too), creating and editing (name, address,
//! description, price, per-order limit), stock adjustments with a reason, pictures from the
//! phone, the flash-sale settings, archiving, and each product's audit log.
//!
//! Forms are parsed into checked values here, at the edge; a bad value re-shows the form with
//! what was typed and a 422, and changes nothing. What may be done depends on the stored state
//! (a running sale, people in line, free stock) and is decided in `products_db`, inside the
//! change's own transaction.

use super::error::AdminError;
use super::pages::{money, when};
use super::pictures;
use super::products_db::{AdminProduct, Outcome, ProductFields, SaleInput};
use super::session::Owner;
use super::{pages, AdminState};
use crate::store::clock::{system_now, Now};
use app::domain::Money;
use app::domain::SalePhase;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDateTime;
use leptos::prelude::*;
use serde::Deserialize;
use std::sync::Arc;

/// The product form as typed: every field a string, checked by [`ProductForm::fields`].
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ProductForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    max_per_order: String,
    /// Only when creating: the opening stock.
    #[serde(default)]
    stock: String,
}

/// A form's problems, shown above it.
type Problems = Vec<String>;

impl ProductForm {
    fn of(p: &AdminProduct) -> ProductForm {
        ProductForm {
            name: p.name.clone(),
            slug: p.slug.clone(),
            description: p.description.clone(),
            price: Money::from_cents(p.price_cents)
                .map(Money::plain)
                .unwrap_or_default(),
            max_per_order: p.max_per_order.map(|l| l.to_string()).unwrap_or_default(),
            stock: String::new(),
        }
    }

    fn fields(&self) -> Result<ProductFields, Problems> {
        let mut problems = Vec::new();
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            problems.push("Give the product a name of up to 100 characters.".to_owned());
        }
        let slug = if self.slug.trim().is_empty() {
            slug_from(&name)
        } else {
            self.slug.trim().to_lowercase()
        };
        if !valid_slug(&slug) {
            problems.push(
                "The address must be 1–60 of a–z, 0–9 and dashes (like harbour-mug).".to_owned(),
            );
        }
        let description = self.description.trim().replace("\r\n", "\n");
        if description.chars().count() > 2000
            || description
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            problems.push("The description may have up to 2,000 characters.".to_owned());
        }
        let price = Money::parse_amount(&self.price).map_err(|e| format!("Price: {e}"));
        let max_per_order = match optional_count(&self.max_per_order, 1, 99) {
            Ok(l) => l,
            Err(()) => {
                problems.push(
                    "The per-order limit is a number from 1 to 99, or empty for none.".to_owned(),
                );
                None
            }
        };
        match price {
            Ok(price) if problems.is_empty() => Ok(ProductFields {
                slug,
                name,
                description,
                price_cents: price.cents(),
                max_per_order,
            }),
            Ok(_) => Err(problems),
            Err(e) => {
                problems.push(e);
                Err(problems)
            }
        }
    }
}

/// An empty field is `None`; otherwise a whole number in `min..=max`.
/// How long a sale's orders may stay unpaid when the owner does not say.
const DEFAULT_PAY_MINUTES: i64 = 15;

fn optional_count(text: &str, min: i64, max: i64) -> Result<Option<i64>, ()> {
    match text.trim() {
        "" => Ok(None),
        t => t
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .map(Some)
            .ok_or(()),
    }
}

fn valid_slug(s: &str) -> bool {
    (1..=60).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `Big Harbour Mug (blue)` → `big-harbour-mug-blue`; letters outside a–z are dropped.
pub fn slug_from(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    slug.trim_end_matches('-').to_owned()
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
            let sale = match p.sale.as_ref().map(|s| s.stage(now.text())) {
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

/// The create form (`product` None) or the edit form, with what was typed and its problems.
fn product_form_page(
    product: Option<&AdminProduct>,
    form: &ProductForm,
    csrf: &str,
    problems: &[String],
) -> Html<String> {
    let (action, title, button) = match product {
        Some(p) => (
            format!("/admin/products/{}", p.id),
            format!("Edit {}", p.name),
            "Save",
        ),
        None => (
            "/admin/products".to_owned(),
            "New product".to_owned(),
            "Create the product",
        ),
    };
    let creating = product.is_none();
    let body = view! {
        <h1>{title.clone()}</h1>
        {problem_list(problems)}
        {product_fields(&action, form, csrf, creating, button)}
    };
    pages::document(&title, body)
}

fn problem_list(problems: &[String]) -> impl IntoView {
    (!problems.is_empty()).then(|| {
        let items = problems
            .iter()
            .map(|p| view! { <li>{p.clone()}</li> })
            .collect_view();
        view! { <ul class="admin-error" role="alert">{items}</ul> }
    })
}

fn product_fields(
    action: &str,
    form: &ProductForm,
    csrf: &str,
    creating: bool,
    button: &'static str,
) -> impl IntoView {
    let f = form.clone();
    view! {
        <form method="post" action=action.to_owned() class="admin-form">
            <input type="hidden" name="csrf" value=csrf.to_owned() />
            <label>"Name" <input name="name" required maxlength="100" value=f.name /></label>
            <label>"Price (e.g. 12.50)"
                <input name="price" required inputmode="decimal" value=f.price />
            </label>
            {creating.then(|| view! {
                <label>"Stock on the shelf" <input name="stock" inputmode="numeric" value=f.stock.clone() placeholder="0" /></label>
            })}
            <label>"Description" <textarea name="description" rows="4" maxlength="2000" inner_html=app::components::textarea_text(&f.description)></textarea></label>
            <label>"Most per order (empty: no limit)"
                <input name="max_per_order" inputmode="numeric" value=f.max_per_order />
            </label>
            <label>"Address /p/… (empty: made from the name)"
                <input name="slug" maxlength="60" value=f.slug autocapitalize="none" />
            </label>
            <button type="submit">{button}</button>
        </form>
    }
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

    let stage = product.sale.as_ref().map(|s| s.stage(now.text()));
    let sale_summary = product.sale.as_ref().map(|s| {
        let stage = match s.stage(now.text()) {
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
    let sale_form = sale_fields(&product, &SaleForm::of(&product), &owner.csrf_token, &now);
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

#[derive(Deserialize)]
pub struct StockForm {
    #[serde(default)]
    delta: String,
    #[serde(default)]
    reason: String,
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

#[derive(Deserialize)]
pub struct ArchiveForm {
    #[serde(default)]
    archived: String,
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
            AdminError::Store(app::store::StoreError::Unexpected(format!(
                "cannot store a picture in {}: {e}",
                dir.display()
            )))
        })
    })
    .await
    .map_err(|e| AdminError::Store(app::store::StoreError::Unexpected(e.to_string())))??;
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

#[derive(Deserialize)]
pub struct RemovePictureForm {
    #[serde(default)]
    position: String,
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

/// The sale form as typed. Times are UTC, as `datetime-local` inputs send them
/// (`2026-12-24T09:00`).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SaleForm {
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    sale_price: String,
    #[serde(default)]
    per_customer_limit: String,
    #[serde(default)]
    waiting_room: String,
    #[serde(default)]
    hold_minutes: String,
    #[serde(default)]
    pay_minutes: String,
}

impl SaleForm {
    fn of(p: &AdminProduct) -> SaleForm {
        let local = |t: &str| t.get(..16).unwrap_or_default().to_owned();
        match &p.sale {
            Some(s) => SaleForm {
                starts_at: local(&s.starts_at),
                ends_at: local(&s.ends_at),
                sale_price: Money::from_cents(s.sale_price_cents)
                    .map(Money::plain)
                    .unwrap_or_default(),
                per_customer_limit: s
                    .per_customer_limit
                    .map(|l| l.to_string())
                    .unwrap_or_default(),
                waiting_room: if s.waiting_room {
                    "on".into()
                } else {
                    String::new()
                },
                hold_minutes: (s.hold_seconds / 60).max(1).to_string(),
                pay_minutes: (s.pay_seconds / 60).max(1).to_string(),
            },
            None => SaleForm {
                hold_minutes: "5".into(),
                pay_minutes: "15".into(),
                ..SaleForm::default()
            },
        }
    }

    fn input(&self) -> Result<SaleInput, Problems> {
        let mut problems = Vec::new();
        let mut time = |t: &str, what: &str| match utc_stamp(t) {
            Some(s) => s,
            None => {
                problems.push(format!(
                    "The {what} must be a date and time, like 2026-12-24 09:00."
                ));
                String::new()
            }
        };
        let starts_at = time(&self.starts_at, "start");
        let ends_at = time(&self.ends_at, "end");
        let price = Money::parse_amount(&self.sale_price)
            .map_err(|e| problems.push(format!("Sale price: {e}")))
            .ok();
        let limit = optional_count(&self.per_customer_limit, 1, 99)
            .map_err(|()| {
                problems.push(
                    "The per-customer limit is a number from 1 to 99, or empty for none.".into(),
                )
            })
            .ok()
            .flatten();
        let hold = optional_count(&self.hold_minutes, 1, 60)
            .ok()
            .flatten()
            .or_else(|| {
                problems.push("Holds last 1 to 60 minutes.".into());
                None
            });
        // empty: the default window, 15 minutes
        let pay = optional_count(&self.pay_minutes, 1, 1440)
            .ok()
            .map(|m| m.unwrap_or(DEFAULT_PAY_MINUTES))
            .or_else(|| {
                problems.push("Sale orders must be paid within 1 to 1440 minutes (a day).".into());
                None
            });
        match (price, hold, pay) {
            (Some(price), Some(hold), Some(pay)) if problems.is_empty() => Ok(SaleInput {
                starts_at,
                ends_at,
                sale_price_cents: price.cents(),
                per_customer_limit: limit,
                waiting_room: self.waiting_room == "on",
                hold_seconds: hold * 60,
                pay_seconds: pay * 60,
            }),
            _ => Err(problems),
        }
    }
}

/// `2026-12-24T09:00` (or with seconds, or a space), read as UTC → `2026-12-24T09:00:00.000Z`.
pub fn utc_stamp(text: &str) -> Option<String> {
    let t = text.trim().replace(' ', "T");
    let at = NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    Some(at.format("%Y-%m-%dT%H:%M:%S.000Z").to_string())
}

fn sale_fields(p: &AdminProduct, form: &SaleForm, csrf: &str, now: &Now) -> impl IntoView {
    let running = p
        .sale
        .as_ref()
        .is_some_and(|s| s.stage(now.text()) == SalePhase::Live);
    let f = form.clone();
    let action = format!("/admin/products/{}/sale", p.id);
    let button = if p
        .sale
        .as_ref()
        .is_some_and(|s| s.stage(now.text()) != SalePhase::Ended)
    {
        "Save the sale"
    } else {
        "Schedule the sale"
    };
    let utc_now = when(now.text());
    view! {
        <form method="post" action=action class="admin-step">
            <input type="hidden" name="csrf" value=csrf.to_owned() />
            <p><small>"Times are UTC (now " {utc_now} ")."</small></p>
            {running.then(|| view! {
                <p><small>"While the sale runs, its end, price, hold time and payment window can change; its start, waiting room and per-customer limit stay."</small></p>
            })}
            <label>"Starts (UTC)" <input type="datetime-local" name="starts_at" required value=f.starts_at readonly=running /></label>
            <label>"Ends (UTC)" <input type="datetime-local" name="ends_at" required value=f.ends_at /></label>
            <label>"Sale price" <input name="sale_price" required inputmode="decimal" value=f.sale_price /></label>
            <label>"Most per customer (empty: no limit)"
                <input name="per_customer_limit" inputmode="numeric" value=f.per_customer_limit readonly=running />
            </label>
            <label class="admin-check">
                <input type="checkbox" name="waiting_room" value="on" checked={f.waiting_room == "on"} disabled=running />
                " Waiting room (shoppers queue for a timed hold)"
            </label>
            {running.then(|| view! { <input type="hidden" name="waiting_room" value=f.waiting_room.clone() /> })}
            <label>"Hold lasts (minutes)" <input name="hold_minutes" required inputmode="numeric" value=f.hold_minutes /></label>
            <label>"Sale orders unpaid after (minutes) are cancelled and restocked"
                <input name="pay_minutes" required inputmode="numeric" value=f.pay_minutes />
            </label>
            <button type="submit">{button}</button>
        </form>
    }
}

pub async fn save_sale(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<i64>,
    Form(form): Form<SaleForm>,
) -> Result<Response, AdminError> {
    let product = state.db.product(id).await?.ok_or(AdminError::NotFound)?;
    let input = match form.input() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_made_from_names() {
        assert_eq!(slug_from("Big Harbour Mug (blue)"), "big-harbour-mug-blue");
        assert_eq!(slug_from("  Crème brûlée!! "), "cr-me-br-l-e");
        assert_eq!(slug_from("王小明"), "");
        assert!(valid_slug("harbour-mug-2"));
        assert!(!valid_slug("-mug") && !valid_slug("Mug") && !valid_slug("") && !valid_slug("a b"));
    }

    #[test]
    fn sale_times_are_read_as_utc() {
        assert_eq!(
            utc_stamp("2026-12-24T09:00").as_deref(),
            Some("2026-12-24T09:00:00.000Z")
        );
        assert_eq!(
            utc_stamp("2026-12-24 09:00:30").as_deref(),
            Some("2026-12-24T09:00:30.000Z")
        );
        assert_eq!(utc_stamp("24/12/2026 9am"), None);
        assert_eq!(utc_stamp("2026-02-30T09:00"), None);
    }

    #[test]
    fn a_product_form_reports_every_bad_field() {
        let form = ProductForm {
            name: String::new(),
            price: "12.345".into(),
            max_per_order: "0".into(),
            slug: "Not OK".into(),
            ..ProductForm::default()
        };
        let problems = form.fields().err().unwrap_or_default();
        assert_eq!(problems.len(), 4, "{problems:?}");
        let good = ProductForm {
            name: "Harbour Mug".into(),
            price: "18".into(),
            ..ProductForm::default()
        };
        let fields = good.fields().unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(
            (fields.slug.as_str(), fields.price_cents),
            ("harbour-mug", 1800)
        );
    }
}
