//! The confirmation page for an order placed from this browser.

use crate::api::orders::my_order;
use crate::api::ApiError;
use crate::components::{OrderSummary, PaymentInstructions};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let code = move || params.read().get("code").unwrap_or_default();
    let order = Resource::new(code, my_order);
    view! {
        <Title text=crate::components::titled("Your order") />
        <Suspense fallback=|| view! { <p class="muted">"Loading your order…"</p> }>
            {move || Suspend::new(async move {
                match order.await {
                    Ok(order) => {
                        view! {
                            <h1>"Thank you — your order is in!"</h1>
                            <p class="notice notice-ok" role="status">
                                "Keep your order code: with your phone number it shows your order's status any time."
                            </p>
                            <PaymentInstructions order=order.clone() />
                            <OrderSummary order />
                            <p>
                                <a href="/status">"Check an order's status"</a>
                            </p>
                        }
                            .into_any()
                    }
                    Err(ApiError::NotFound { message }) => {
                        view! {
                            <h1>"Your order"</h1>
                            <p>{message}</p>
                            <a class="button" href=format!("/status?code={}", code())>
                                "Look up an order"
                            </a>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <crate::components::ErrorBox error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
