//! The pieces of the owner's product pages that several handlers render: the product form, its
//! list of problems, and the sale form.

use super::super::pages::{self, problem_list, when};
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

pub(super) fn product_fields(
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

pub(super) fn sale_fields(
    p: &AdminProduct,
    form: &SaleForm,
    csrf: &str,
    now: &Now,
) -> impl IntoView {
    let running = p
        .sale
        .as_ref()
        .is_some_and(|s| s.phase(now.text()) == SalePhase::Live);
    let f = form.clone();
    let action = format!("/admin/products/{}/sale", p.id);
    let button = if p
        .sale
        .as_ref()
        .is_some_and(|s| s.phase(now.text()) != SalePhase::Ended)
    {
        "Save the sale"
    } else {
        "Schedule the sale"
    };
    let shop_now = when(now.text());
    let zone = crate::shop_look::current().time_zone.clone();
    view! {
        <form method="post" action=action class="admin-step">
            <input type="hidden" name="csrf" value=csrf.to_owned() />
            <p><small>"Times are on the shop's clock, " {zone} " (now " {shop_now} "); change it in the shop settings."</small></p>
            {running.then(|| view! {
                <p><small>"While the sale runs, its end, price, hold time and payment window can change; its start, waiting room and per-customer limit stay."</small></p>
            })}
            <label>"Starts" <input type="datetime-local" name="starts_at" required value=f.starts_at readonly=running /></label>
            <label>"Ends" <input type="datetime-local" name="ends_at" required value=f.ends_at /></label>
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
