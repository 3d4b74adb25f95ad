//! Order status lookup by code and phone number (a plain GET form: works without JavaScript).

use crate::api::orders::order_status;
use crate::components::{ErrorBox, OrderSummary, PaymentInstructions};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn StatusPage() -> impl IntoView {
    let query = use_query_map();
    let asked = move || {
        let q = query.read();
        (q.get("code"), q.get("phone"))
    };
    let result = Resource::new(asked, |asked| async move {
        match asked {
            (Some(code), Some(phone)) => Some(order_status(code, phone).await),
            _ => None,
        }
    });
    let (code, phone) = asked();
    let lang = crate::language::use_language();
    view! {
        <Title text=crate::components::titled(&crate::tr!(lang, status_title)) />
        <h1>{crate::tr!(lang, status_title)}</h1>
        <form method="get" action="/status" class="lookup">
            <div class="field">
                <label for="code">{crate::tr!(lang, order_code)}</label>
                <input
                    id="code"
                    name="code"
                    value=code.unwrap_or_default()
                    placeholder="K7M3-Q9PX"
                    autocapitalize="characters"
                    required
                />
            </div>
            <div class="field">
                <label for="phone">{crate::tr!(lang, field_phone)}</label>
                <input
                    id="phone"
                    name="phone"
                    type="tel"
                    value=phone.unwrap_or_default()
                    autocomplete="tel"
                    required
                />
            </div>
            <button type="submit" class="button primary">
                {crate::tr!(lang, look_up)}
            </button>
        </form>
        <Suspense fallback=move || view! { <p class="muted">{crate::tr!(lang, looking)}</p> }>
            {move || Suspend::new(async move {
                match result.await {
                    None => ().into_any(),
                    Some(Ok(order)) => {
                        let look = crate::live::order_look(
                            order.status.as_str(),
                            &order.tracking_number,
                        );
                        view! {
                            <crate::live::OrderLive token=order.live_token.clone() look />
                            <OrderSummary order=order.clone() />
                            <PaymentInstructions order />
                        }
                            .into_any()
                    }
                    Some(Err(error)) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
