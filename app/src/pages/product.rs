//! One product: pictures, description, price, stock, and a quantity to add to the cart.

use crate::api::cart::AddToCart;
use crate::api::catalogue::get_product;
use crate::api::queue::QueueJoinForm;
use crate::components::{form_error, price, Countdown, ErrorBox, FormError};
use crate::domain::{ProductView, Quantity, SalePhase, SaleView};
use crate::language::Language;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let product = Resource::new(slug, |slug| get_product(None, Some(slug)));
    let lang = crate::language::use_language();
    view! {
        <Suspense fallback=move || view! { <p class="muted">{crate::tr!(lang, loading)}</p> }>
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
    let max = product.max_quantity();
    let sold_out = product.stock <= 0;
    let lang = crate::language::use_language();
    let card = crate::share::Card::product(&product, lang, &crate::shop::use_shop());
    view! {
        <Title text=crate::components::titled(product.name_in(lang)) />
        <crate::share::ShareCard card />
        <article class="product">
            <div class="gallery">
                // the first picture is the page's largest paint: loaded first; the others as
                // they scroll in
                {product
                    .images
                    .iter()
                    .enumerate()
                    .map(|(i, img)| {
                        // on a phone (one column) only the 320 and 640 px sizes are offered,
                        // whatever the screen's density; wider screens may take 1280 px
                        let phones = crate::domain::picture_srcset_for_phones(&img.url);
                        view! {
                            <picture>
                                {phones.map(|srcset| view! {
                                    <source
                                        media="(max-width: 47.99rem)"
                                        srcset=srcset
                                        sizes="calc(100vw - 2rem)"
                                    />
                                })}
                                <img
                                    srcset=crate::domain::picture_srcset(&img.url)
                                    sizes="(min-width: 48rem) 28rem, calc(100vw - 2rem)"
                                    src=img.url.clone()
                                    alt=img.alt.clone()
                                    width="640"
                                    height="480"
                                    loading=if i == 0 { "eager" } else { "lazy" }
                                    fetchpriority=(i == 0).then_some("high")
                                />
                            </picture>
                        }
                    })
                    .collect_view()}
            </div>
            <div class="product-info">
                <h1>{product.name_in(lang).to_owned()}</h1>
                {product.flash_sale.then(|| view! { <p class="flash">{crate::tr!(lang, flash_limited)}</p> })}
                <p class="price big" data-testid="price">
                    {price(product.price_now_cents())}
                    {(product.price_now_cents() != product.price_cents)
                        .then(|| view! { " " <s class="was">{price(product.price_cents)}</s> })}
                </p>
                // the sale's countdown is an island: only then does the page load the WASM
                {product.sale.clone().map(|sale| view! {
                    <crate::IslandScripts />
                    <SaleNotice sale normal=product.price_cents lang />
                })}
                <p data-testid="stock">
                    <crate::live::LiveBadge product=product.clone() />
                </p>
                <p class="description">{product.description_in(lang).to_owned()}</p>
                // the owner's brake: told before the shopper fills in a form (the live channel
                // draws the page again when it is pulled or released)
                {product.paused.then(|| view! {
                    <p class="notice paused" role="status" data-testid="paused">
                        {crate::tr!(lang, product_paused)}
                    </p>
                })}
                <FormError error />
                {if product.queues() {
                    view! { <JoinLine product=product.clone() /> }.into_any()
                } else if product.not_yet_on_sale() {
                    view! {
                        <p class="notice" role="status">
                            {crate::tr!(lang, orders_open_at_start)}
                        </p>
                    }
                        .into_any()
                } else if sold_out {
                    view! {
                        <p class="notice" role="status">
                            {crate::tr!(lang, item_sold_out)}
                        </p>
                    }
                        .into_any()
                } else {
                    let limit_note = product.max_per_order.map(|l| {
                        view! { <p class="muted">{crate::tr!(lang, at_most_per_order, count = l)}</p> }
                    });
                    view! {
                        {limit_note}
                        <ActionForm action=add attr:class="buy">
                            <input type="hidden" name="product_id" value=product.id />
                            <label for="quantity">{crate::tr!(lang, quantity)}</label>
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
                                {crate::tr!(lang, add_to_cart)}
                            </button>
                        </ActionForm>
                    }
                        .into_any()
                }}
            </div>
        </article>
        // its badge kept true, and the page drawn again when it sells out or its sale starts
        <crate::live::LiveUpdates ids=vec![product.id] />
    }
}

/// When the sale runs, its price and its rules, with a live countdown.
#[component]
fn SaleNotice(sale: SaleView, normal: i64, lang: Language) -> impl IntoView {
    let limit = sale
        .per_customer_limit
        .map(|l| crate::tr!(lang, sale_limit, count = l));
    let pay = crate::tr!(
        lang,
        sale_pay_within,
        minutes = (sale.pay_seconds / 60).max(1)
    );
    view! {
        <div class="notice sale" data-testid="sale">
            {match sale.phase {
                SalePhase::Upcoming => {
                    view! {
                        // without JavaScript the page draws itself again until the sale opens
                        // (with it the live channel redraws it at the start)
                        <noscript inner_html=format!(
                            r#"<meta http-equiv="refresh" content="{}">"#,
                            refresh_before_start(sale.starts_in_secs),
                        ) />
                        <p>
                            <strong>{crate::tr!(lang, sale_upcoming_price, price = price(sale.sale_price_cents))}</strong>
                            {crate::tr!(lang, sale_upcoming_now, price = price(normal))}
                            <Countdown secs=sale.starts_in_secs units=crate::domain::CountdownUnits::of(lang) />
                            {crate::tr!(lang, full_stop)}
                        </p>
                    }
                        .into_any()
                }
                _ => {
                    view! {
                        <p>
                            <strong>{crate::tr!(lang, flash_sale)}</strong>
                            {crate::tr!(lang, sale_ends_in)}
                            <Countdown secs=sale.ends_in_secs units=crate::domain::CountdownUnits::of(lang) />
                            {crate::tr!(lang, full_stop)}
                        </p>
                    }
                        .into_any()
                }
            }}
            {limit.map(|l| view! { <p>{l}</p> })}
            <p class="muted">{pay}</p>
        </div>
    }
}

/// Seconds after which a page showing a sale that has not started loads again without
/// JavaScript: just after the start when it is near, every 10 s otherwise (a page served from the
/// page cache may be a little older than its countdown says) — longer while the shop is
/// strained ([`crate::components::refresh_after`]).
fn refresh_before_start(starts_in_secs: i64) -> i64 {
    let usual = i64::try_from(crate::components::refresh_after(10)).unwrap_or(60);
    starts_in_secs.saturating_add(1).clamp(1, usual)
}

/// The waiting line's door: quantity and phone number (limits are counted per phone).
#[component]
fn JoinLine(product: ProductView) -> impl IntoView {
    let join = ServerAction::<QueueJoinForm>::new();
    let error = form_error(join.value());
    let pending = join.pending();
    let limit = product
        .sale
        .as_ref()
        .and_then(|s| s.per_customer_limit)
        .unwrap_or(Quantity::MAX);
    let upcoming = product.not_yet_on_sale();
    let lang = crate::language::use_language();
    let phone_error = Memo::new(move |_| error.get().and_then(|e| e.field_message("phone")));
    let quantity_error = Memo::new(move |_| error.get().and_then(|e| e.field_message("quantity")));
    view! {
        <p class="muted">
            {if upcoming { crate::tr!(lang, join_upcoming) } else { crate::tr!(lang, join_live) }}
        </p>
        <ActionForm action=join attr:class="buy join" attr:novalidate=true>
            <input type="hidden" name="product_id" value=product.id />
            <div class="field">
                <label for="quantity">{crate::tr!(lang, quantity)}</label>
                <input
                    id="quantity"
                    type="number"
                    name="quantity"
                    value="1"
                    min="1"
                    max=limit
                    inputmode="numeric"
                    aria-invalid=move || quantity_error.get().is_some().then_some("true")
                    aria-describedby="quantity-error"
                />
                <p class="field-error" id="quantity-error" role="alert">
                    {move || quantity_error.get()}
                </p>
            </div>
            <div class="field">
                <label for="phone">{crate::tr!(lang, your_phone)}</label>
                <input
                    id="phone"
                    type="tel"
                    name="phone"
                    autocomplete="tel"
                    maxlength="40"
                    aria-invalid=move || phone_error.get().is_some().then_some("true")
                    aria-describedby="phone-error"
                />
                <p class="field-error" id="phone-error" role="alert">
                    {move || phone_error.get()}
                </p>
            </div>
            <button type="submit" class="button primary" disabled=move || pending.get()>
                {crate::tr!(lang, join_line)}
            </button>
        </ActionForm>
    }
}
