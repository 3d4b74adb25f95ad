//! One product: pictures, description, price, stock, and a quantity to add to the cart.

use crate::api::cart::AddToCart;
use crate::api::catalogue::get_product;
use crate::components::{form_error, price, ErrorBox, FormError, StockBadge};
use crate::domain::{ProductView, Quantity};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let product = Resource::new(slug, |slug| get_product(None, Some(slug)));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match product.await {
                    Ok(product) => view! { <ProductDetail product /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProductDetail(product: ProductView) -> impl IntoView {
    let add = ServerAction::<AddToCart>::new();
    let error = form_error(add.value());
    let max = product.stock.clamp(1, i64::from(Quantity::MAX));
    let sold_out = product.stock <= 0;
    view! {
        <Title text=format!("{} — Holdfast", product.name) />
        <article class="product">
            <div class="gallery">
                {product
                    .images
                    .iter()
                    .map(|img| {
                        view! {
                            <img src=img.url.clone() alt=img.alt.clone() width="640" height="480" />
                        }
                    })
                    .collect_view()}
            </div>
            <div class="product-info">
                <h1>{product.name.clone()}</h1>
                {product.flash_sale.then(|| view! { <p class="flash">"Flash sale — limited stock"</p> })}
                <p class="price big" data-testid="price">
                    {price(product.price_cents)}
                </p>
                <p data-testid="stock">
                    <StockBadge stock=product.stock />
                </p>
                <p class="description">{product.description.clone()}</p>
                <FormError error />
                {if sold_out {
                    view! {
                        <p class="notice" role="status">
                            "This item is sold out."
                        </p>
                    }
                        .into_any()
                } else {
                    view! {
                        <ActionForm action=add attr:class="buy">
                            <input type="hidden" name="product_id" value=product.id />
                            <label for="quantity">"Quantity"</label>
                            <input
                                id="quantity"
                                type="number"
                                name="quantity"
                                value="1"
                                min="1"
                                max=max
                                inputmode="numeric"
                                required
                            />
                            <button type="submit" class="button primary">
                                "Add to cart"
                            </button>
                        </ActionForm>
                    }
                        .into_any()
                }}
            </div>
        </article>
    }
}
