//! Checkout: who and where to deliver to. Each bad field gets its message right beside it.

use crate::api::orders::{checkout_form, Checkout, CheckoutPageData};
use crate::api::ApiError;
use crate::components::{form_error, price, BusyRetry, ErrorBox};
use crate::domain::{Address, CustomerInput, CustomerName, Note};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CheckoutPage() -> impl IntoView {
    let form = Resource::new(|| (), |_| checkout_form());
    let lang = crate::language::use_language();
    view! {
        <Title text=crate::components::titled(&crate::tr!(lang, checkout_title)) />
        <h1>{crate::tr!(lang, checkout_title)}</h1>
        <Suspense fallback=move || view! { <p class="muted">{crate::tr!(lang, loading)}</p> }>
            {move || Suspend::new(async move {
                match form.await {
                    Ok(form) if form.cart.lines.is_empty() => {
                        view! {
                            <p>{crate::tr!(lang, cart_empty)}</p>
                            <a class="button" href="/">
                                {crate::tr!(lang, browse_shop)}
                            </a>
                        }
                            .into_any()
                    }
                    Ok(form) => view! { <CheckoutFormView form /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CheckoutFormView(form: CheckoutPageData) -> impl IntoView {
    let checkout = ServerAction::<Checkout>::new();
    let error = form_error(checkout.value());
    let pending = checkout.pending();
    // errors not tied to one of the visible fields (sold out, busy, empty cart) go on top
    let general = general_error(error);
    let v = form.values;
    let lang = crate::language::use_language();
    view! {
        <section class="checkout-cart" aria-label=crate::tr!(lang, your_order_label)>
            <ul class="summary">
                {form
                    .cart
                    .lines
                    .iter()
                    .map(|l| {
                        view! {
                            <li>
                                {format!("{} × {}", l.quantity, l.product.name_in(lang))}
                                <span>{price(l.line_total_cents)}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <p class="total">{crate::tr!(lang, total)} " " <strong>{price(form.cart.total_cents)}</strong></p>
            <p class="muted">{crate::tr!(lang, pay_told_next)}</p>
        </section>
        {move || {
            general
                .get()
                .map(|e| {
                    view! {
                        <div class="notice notice-error" role="alert" data-testid="checkout-error">
                            <p>{e.to_string()}</p>
                            <BusyRetry error=e form_id="checkout-form" />
                        </div>
                    }
                })
        }}
        <ActionForm action=checkout attr:id="checkout-form" attr:class="checkout-form" attr:novalidate=true>
            <input type="hidden" name="idempotency_key" value=form.idempotency_key />
            <CustomerFields values=v error phone_label=crate::tr!(lang, field_phone) />
            <button type="submit" class="button primary wide" disabled=move || pending.get()>
                {move || if pending.get() { crate::tr!(lang, placing_order) } else { crate::tr!(lang, place_order) }}
            </button>
        </ActionForm>
    }
}

/// The part of a checkout error not shown beside one of the customer fields (sold out, busy, an
/// empty cart, a used hold): it goes on top of the form.
pub(crate) fn general_error(error: Memo<Option<ApiError>>) -> Memo<Option<ApiError>> {
    Memo::new(move |_| {
        error.get().filter(|e| {
            ["name", "phone", "address", "note"]
                .iter()
                .all(|f| e.field_message(&format!("customer.{f}")).is_none())
        })
    })
}

/// Who and where to deliver to: the four customer fields, each with its error beside it.
#[component]
pub(crate) fn CustomerFields(
    values: CustomerInput,
    error: Memo<Option<ApiError>>,
    phone_label: String,
    /// The first field takes the focus when the page opens (the waiting page at the turn).
    #[prop(optional)]
    focus_first: bool,
) -> impl IntoView {
    let lang = crate::language::use_language();
    view! {
        <Field
            name="name"
            label=crate::tr!(lang, field_name)
            value=values.name
            error
            autocomplete="name"
            autofocus=focus_first
            max=CustomerName::MAX_CHARS
        />
        <Field
            name="phone"
            label=phone_label
            value=values.phone
            error
            autocomplete="tel"
            input_type="tel"
            max=40
        />
        <Field
            name="address"
            label=crate::tr!(lang, field_address)
            value=values.address
            error
            autocomplete="street-address"
            multiline=true
            max=Address::MAX_CHARS
        />
        <Field
            name="note"
            label=crate::tr!(lang, field_note)
            value=values.note
            error
            multiline=true
            max=Note::MAX_CHARS
        />
    }
}

/// A labelled input with its error message underneath, linked for screen readers.
#[component]
fn Field(
    name: &'static str,
    label: String,
    value: String,
    error: Memo<Option<ApiError>>,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] input_type: &'static str,
    #[prop(optional)] multiline: bool,
    #[prop(optional)] autofocus: bool,
    max: usize,
) -> impl IntoView {
    let message = Memo::new(move |_| {
        error
            .get()
            .and_then(|e| e.field_message(&format!("customer.{name}")))
    });
    let error_id = format!("{name}-error");
    let invalid = move || message.get().is_some().then_some("true");
    let described = error_id.clone();
    let input = if multiline {
        view! {
            <textarea
                id=name
                name=name
                rows="3"
                maxlength=max
                autocomplete=autocomplete
                aria-invalid=invalid
                aria-describedby=described
                inner_html=crate::components::textarea_text(&value)
            ></textarea>
        }
        .into_any()
    } else {
        view! {
            <input
                id=name
                name=name
                type=if input_type.is_empty() { "text" } else { input_type }
                value=value
                maxlength=max
                autocomplete=autocomplete
                autofocus=autofocus
                aria-invalid=invalid
                aria-describedby=described
            />
        }
        .into_any()
    };
    view! {
        <div class="field">
            <label for=name>{label}</label>
            {input}
            <p class="field-error" id=error_id role="alert">
                {move || message.get()}
            </p>
        </div>
    }
}
