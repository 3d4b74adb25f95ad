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
    let lang = crate::language::use_language();
    view! {
        <Title text=crate::components::titled(&crate::tr!(lang, order_title)) />
        <Suspense fallback=move || view! { <p class="muted">{crate::tr!(lang, order_loading)}</p> }>
            {move || Suspend::new(async move {
                match order.await {
                    Ok(order) => {
                        let look = crate::live::order_look(
                            order.status.as_str(),
                            &order.tracking_number,
                        );
                        view! {
                            <crate::live::OrderLive token=order.live_token.clone() look />
                            <h1>{crate::tr!(lang, order_thanks)}</h1>
                            <p class="notice notice-ok" role="status">
                                {crate::tr!(lang, order_keep_code)}
                            </p>
                            <PaymentInstructions order=order.clone() />
                            <OrderSummary order />
                            <p>
                                <a href="/status">{crate::tr!(lang, check_status_link)}</a>
                            </p>
                        }
                            .into_any()
                    }
                    Err(ApiError::NotFound { message }) => {
                        view! {
                            <h1>{crate::tr!(lang, order_title)}</h1>
                            <p>{message}</p>
                            <a class="button" href=format!("/status?code={}", code())>
                                {crate::tr!(lang, look_up_order)}
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
