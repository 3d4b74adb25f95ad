//! The pieces of the owner's product pages that several handlers render: the product form, its
//! list of problems, and the sale form.

use super::super::pages::{self, problem_list, t, when};
use super::super::products_db::AdminProduct;
use super::forms::{ProductForm, SaleForm};
use crate::store::clock::Now;
use app::domain::SalePhase;
use axum::response::Html;
use leptos::prelude::*;

/// The create form (`product` None) or the edit form, with what was typed and its problems.
pub(super) fn product_form_page(
    product: Option<&AdminProduct>,
    form: &ProductForm,
    csrf: &str,
    problems: &[String],
) -> Html<String> {
    let (action, title, button) = match product {
        Some(p) => (
            format!("/admin/products/{}", p.id),
            t!(admin_product_edit, name = &p.name),
            t!(admin_save),
        ),
        None => (
            "/admin/products".to_owned(),
            t!(admin_product_new),
            t!(admin_product_create),
        ),
    };
    let creating = product.is_none();
    let body = view! {
        <h1>{title.clone()}</h1>
        {problem_list(problems)}
        {product_fields(&action, form, csrf, creating, &button)}
    };
    pages::document(&title, body)
}

pub(super) fn product_fields(
    action: &str,
    form: &ProductForm,
    csrf: &str,
    creating: bool,
    button: &str,
) -> impl IntoView {
    let f = form.clone();
    let button = button.to_owned();
    view! {
        <form method="post" action=action.to_owned() class="admin-form">
            <input type="hidden" name="csrf" value=csrf.to_owned() />
            <label>{t!(admin_product_name)} <input name="name" required maxlength="100" value=f.name /></label>
            <label>{t!(admin_product_price)}
                <input name="price" required inputmode="decimal" value=f.price />
            </label>
            {creating.then(|| view! {
                <label>{t!(admin_product_opening_stock)} <input name="stock" inputmode="numeric" value=f.stock.clone() placeholder="0" /></label>
            })}
            <label>{t!(admin_product_description)} <textarea name="description" rows="4" maxlength="2000" inner_html=app::components::textarea_text(&f.description)></textarea></label>
            <label>{t!(admin_product_max_per_order)}
                <input name="max_per_order" inputmode="numeric" value=f.max_per_order />
            </label>
            <label>{t!(admin_product_slug)}
                <input name="slug" maxlength="60" value=f.slug autocapitalize="none" />
            </label>
            <button type="submit">{button}</button>
        </form>
    }
}

pub(super) fn sale_fields(
    p: &AdminProduct,
    form: &SaleForm,
    csrf: &str,
    now: &Now,
) -> impl IntoView {
    let running = p
        .sale
        .as_ref()
        .is_some_and(|s| s.phase(now.instant()) == SalePhase::Live);
    let f = form.clone();
    let action = format!("/admin/products/{}/sale", p.id);
    let button = if p
        .sale
        .as_ref()
        .is_some_and(|s| s.phase(now.instant()) != SalePhase::Ended)
    {
        t!(admin_sale_save)
    } else {
        t!(admin_sale_schedule)
    };
    let shop_now = when(now.instant());
    let zone = crate::edge::shop_look::current().time_zone.clone();
    view! {
        <form method="post" action=action class="admin-step">
            <input type="hidden" name="csrf" value=csrf.to_owned() />
            <p><small>{t!(admin_sale_clock, zone = zone, now = shop_now)}</small></p>
            {running.then(|| view! {
                <p><small>{t!(admin_sale_running_note)}</small></p>
            })}
            <label>{t!(admin_sale_starts)} <input type="datetime-local" name="starts_at" required value=f.starts_at readonly=running /></label>
            <label>{t!(admin_sale_ends)} <input type="datetime-local" name="ends_at" required value=f.ends_at /></label>
            <label>{t!(admin_sale_price)} <input name="sale_price" required inputmode="decimal" value=f.sale_price /></label>
            <label>{t!(admin_sale_per_customer)}
                <input name="per_customer_limit" inputmode="numeric" value=f.per_customer_limit readonly=running />
            </label>
            <label class="admin-check">
                <input type="checkbox" name="waiting_room" value="on" checked={f.waiting_room == "on"} disabled=running />
                " " {t!(admin_sale_waiting_room)}
            </label>
            {running.then(|| view! { <input type="hidden" name="waiting_room" value=f.waiting_room.clone() /> })}
            <label>{t!(admin_sale_hold)} <input name="hold_minutes" required inputmode="numeric" value=f.hold_minutes /></label>
            <label>{t!(admin_sale_pay)}
                <input name="pay_minutes" required inputmode="numeric" value=f.pay_minutes />
            </label>
            <button type="submit">{button}</button>
        </form>
    }
}
