//! The catalogue: every product with its price, picture and stock badge.

use crate::api::catalogue::list_products;
use crate::components::{ErrorBox, ProductCard};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CataloguePage() -> impl IntoView {
    let products = Resource::new(|| (), |_| list_products());
    let lang = crate::language::use_language();
    let loading = crate::tr!(lang, catalogue_loading);
    view! {
        <Title text=crate::components::titled(&crate::tr!(lang, catalogue_title)) />
        <h1>{crate::tr!(lang, catalogue_title)}</h1>
        <Suspense fallback=move || view! { <p class="muted">{loading.clone()}</p> }>
            {move || Suspend::new(async move {
                match products.await {
                    Ok(list) => {
                        let ids: Vec<i64> = list.iter().map(|p| p.id).collect();
                        let card = crate::share::Card::catalogue(&list, lang, &crate::shop::use_shop());
                        view! {
                            <crate::share::ShareCard card />
                            <ul class="grid" aria-label=crate::tr!(lang, products_label)>
                                {list
                                    .into_iter()
                                    .enumerate()
                                    // the first row is on screen at once: load it eagerly,
                                    // the first picture first; the rest as they scroll in
                                    .map(|(i, product)| view! { <ProductCard product first_row=i < 2 lead=i == 0 /> })
                                    .collect_view()}
                            </ul>
                            // every card's badge kept true while the page is open
                            <crate::live::LiveUpdates ids />
                        }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
