//! The cart: change quantities, remove lines, go to checkout.

use crate::api::cart::{get_cart, CartLine, RemoveFromCart, UpdateCart};
use crate::components::{form_error, price, ErrorBox, FormError, StockBadge};
use crate::domain::Quantity;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CartPage() -> impl IntoView {
    let update = ServerAction::<UpdateCart>::new();
    let remove = ServerAction::<RemoveFromCart>::new();
    let cart = Resource::new(
        move || (update.version().get(), remove.version().get()),
        |_| get_cart(),
    );
    let error = form_error(update.value());
    let lang = crate::language::use_language();
    view! {
        <Title text=crate::components::titled(&crate::tr!(lang, your_cart)) />
        <h1>{crate::tr!(lang, your_cart)}</h1>
        <FormError error />
        <Suspense fallback=move || view! { <p class="muted">{crate::tr!(lang, cart_loading)}</p> }>
            {move || Suspend::new(async move {
                match cart.await {
                    Ok(cart) if cart.lines.is_empty() => {
                        view! {
                            <p>{crate::tr!(lang, cart_empty)}</p>
                            <p>
                                <a class="button" href="/">
                                    {crate::tr!(lang, browse_shop)}
                                </a>
                            </p>
                        }
                            .into_any()
                    }
                    Ok(cart) => {
                        let all_in_stock = cart.lines.iter().all(CartLine::in_stock);
                        view! {
                            <ul class="cart-lines" aria-label=crate::tr!(lang, cart_items)>
                                {cart
                                    .lines
                                    .into_iter()
                                    .map(|line| view! { <CartRow line update remove /> })
                                    .collect_view()}
                            </ul>
                            <p class="total">
                                {crate::tr!(lang, total)} " " <strong data-testid="cart-total">{price(cart.total_cents)}</strong>
                            </p>
                            {if all_in_stock {
                                view! {
                                    <a class="button primary" href="/checkout">
                                        {crate::tr!(lang, checkout)}
                                    </a>
                                }
                                    .into_any()
                            } else {
                                view! {
                                    <p class="notice notice-error" role="alert">
                                        {crate::tr!(lang, cart_short)}
                                    </p>
                                }
                                    .into_any()
                            }}
                        }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CartRow(
    line: CartLine,
    update: ServerAction<UpdateCart>,
    remove: ServerAction<RemoveFromCart>,
) -> impl IntoView {
    let id = line.product.id;
    let input_id = format!("qty-{id}");
    let in_stock = line.in_stock();
    let lang = crate::language::use_language();
    let name = line.product.name_in(lang).to_owned();
    view! {
        <li class="cart-line" data-product=line.product.slug.clone()>
            <img src=line.product.image_url.clone() alt="" width="80" height="60" />
            <div class="cart-line-info">
                <a href=format!("/p/{}", line.product.slug)>{name.clone()}</a>
                <span class="muted">{price(line.product.price_now_cents())} " " {crate::tr!(lang, each)}</span>
                {(!in_stock).then(|| view! { <StockBadge stock=line.product.stock /> })}
                <span class="line-total">{price(line.line_total_cents)}</span>
            </div>
            <ActionForm action=update attr:class="inline">
                <input type="hidden" name="product_id" value=id />
                <label for=input_id.clone() class="sr-only">
                    {crate::tr!(lang, quantity_of, name = name)}
                </label>
                <input
                    id=input_id
                    type="number"
                    name="quantity"
                    value=line.quantity
                    min="0"
                    max=Quantity::MAX
                    inputmode="numeric"
                />
                <button type="submit" class="button small">
                    {crate::tr!(lang, update)}
                </button>
            </ActionForm>
            <ActionForm action=remove attr:class="inline">
                <input type="hidden" name="product_id" value=id />
                <button type="submit" class="button small quiet">
                    {crate::tr!(lang, remove)}
                </button>
            </ActionForm>
        </li>
    }
}
