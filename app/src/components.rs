//! Small pieces shared by the pages.

use crate::api::ApiError;
use crate::domain::{OrderStatus, OrderView, ProductView};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Text made safe to stand as HTML markup: `&`, `<`, `>` and quotes as entities.
///
/// Leptos 0.8's server renderer writes the children of `<textarea>` raw (it treats the element
/// like `<script>`), so a textarea's text must go in as escaped `inner_html` instead:
/// [`textarea_text`] does that. Anywhere else, pass text as children and the renderer escapes it.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The only way to put text in a `<textarea>`: always escaped (see [`escape_html`]).
pub fn textarea_text(text: &str) -> String {
    escape_html(text)
}

/// An amount in the shop's currency, `¥12.50`, from minor units.
pub fn price(cents: i64) -> String {
    crate::shop::use_shop().price(cents)
}

/// A page's title: what it shows, then the shop's name — escaped, because leptos_meta's
/// `<Title>` writes its text into the page raw (like a `<textarea>`'s, see [`escape_html`]), and
/// names are typed by people.
pub fn titled(what: &str) -> String {
    let shop = crate::shop::use_shop();
    escape_html(&format!(
        "{what} — {}",
        shop.display_name(crate::language::use_language())
    ))
}

#[component]
pub fn Header() -> impl IntoView {
    let lang = crate::language::use_language();
    let here = leptos_router::hooks::use_location();
    // a plain link: the server keeps the choice and sends the shopper back to this page
    let switch = format!(
        "/language/{}?back={}",
        lang.other().tag(),
        crate::percent::encode_path(&format!(
            "{}{}",
            here.pathname.get_untracked(),
            here.search.get_untracked()
        ))
    );
    let shop = crate::shop::use_shop();
    let logo = shop.logo.as_deref().map(crate::shop::picture_url);
    view! {
        <header class="site-header">
            <a class="brand" href="/">
                {logo.map(|src| view! { <img class="logo" src=src alt="" width="32" height="32" /> })}
                <span data-testid="shop-name">{shop.display_name(lang)}</span>
            </a>
            <nav>
                <a href="/">{crate::tr!(lang, nav_shop)}</a>
                <a href="/cart">{crate::tr!(lang, nav_cart)}</a>
                <a href="/status">{crate::tr!(lang, nav_status)}</a>
                <a class="language" href=switch lang=lang.other().tag() hreflang=lang.other().tag()>
                    {crate::tr!(lang, switch_to)}
                </a>
            </nav>
        </header>
    }
}

/// The foot of every page: how to reach the owner (as the owner set it), and what the shop is.
#[component]
pub fn Footer() -> impl IntoView {
    let lang = crate::language::use_language();
    let shop = crate::shop::use_shop();
    let line = |label: String, value: &str| {
        let value = value.trim().to_owned();
        (!value.is_empty()).then(|| view! { <li>{label} " " <span>{value}</span></li> })
    };
    let phone_href = format!(
        "tel:{}",
        shop.contact_phone
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect::<String>()
    );
    let email = shop.contact_email.trim().to_owned();
    view! {
        <footer class="site-footer">
            {shop.has_contact().then(|| view! {
                <ul class="contact" data-testid="contact">
                    {(!shop.contact_phone.trim().is_empty()).then(|| view! {
                        <li>
                            {crate::tr!(lang, contact_phone)} " "
                            <a href=phone_href>{shop.contact_phone.trim().to_owned()}</a>
                        </li>
                    })}
                    {line(crate::tr!(lang, contact_wechat), &shop.contact_wechat)}
                    {(!email.is_empty()).then(|| view! {
                        <li>
                            {crate::tr!(lang, contact_email)} " "
                            <a href=format!("mailto:{email}")>{email.clone()}</a>
                        </li>
                    })}
                </ul>
            })}
            <p>{crate::tr!(lang, footer)}</p>
        </footer>
    }
}

/// How to pay for an order awaiting payment: the owner's words and picture (a receiving code),
/// the order code to write as the payment's reference, and by when.
#[component]
pub fn PaymentInstructions(order: OrderView) -> impl IntoView {
    let lang = crate::language::use_language();
    let shop = crate::shop::use_shop();
    if order.status != OrderStatus::AwaitingPayment {
        return ().into_any();
    }
    let deadline = order.pay_by.map(|t| shop.local_time(t));
    let picture = shop
        .payment_picture
        .as_deref()
        .map(crate::shop::picture_url);
    let text = shop.payment_text.trim().to_owned();
    view! {
        <section class="payment" aria-label=crate::tr!(lang, pay_heading) data-testid="payment">
            <h2>{crate::tr!(lang, pay_heading)}</h2>
            <p>
                {crate::tr!(lang, pay_amount)} " " <strong>{shop.price(order.total_cents)}</strong>
            </p>
            <p>
                {crate::tr!(lang, pay_reference)} " "
                <strong class="reference" data-testid="pay-reference">{order.order_code.to_string()}</strong>
            </p>
            {deadline.map(|d| view! {
                <p>
                    {crate::tr!(lang, pay_by)} " " <strong data-testid="pay-by">{d}</strong>
                    " (" {shop.time_zone.clone()} ")"
                </p>
            })}
            {(!text.is_empty()).then(|| view! { <p class="pay-text" data-testid="pay-text">{text}</p> })}
            {picture.map(|src| view! {
                <img class="pay-code" src=src alt=crate::tr!(lang, pay_code_alt) />
            })}
            {(!shop.has_payment_instructions()).then(|| view! {
                <p class="muted">{crate::tr!(lang, pay_owner_will_tell)}</p>
            })}
        </section>
    }
    .into_any()
}

#[component]
pub fn StockBadge(stock: i64) -> impl IntoView {
    let badge = crate::domain::StockBadge::for_stock(stock);
    let text = badge.text(crate::language::use_language());
    view! { <span class=badge.css_class()>{text}</span> }
}

/// An error explained to the shopper. During server rendering it also sets the HTTP status, so a
/// missing product answers 404 rather than 200.
#[component]
pub fn ErrorBox(error: ApiError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(error.status_code()),
    ) {
        response.set_status(status);
    }
    view! {
        <div class="notice notice-error" role="alert">
            <p>{error.to_string()}</p>
        </div>
    }
}

/// The error a server function left in the address after a plain form post without JavaScript
/// redirected back here — only one this shop sealed on the way out (`server::url_error`):
/// anyone can put text in a link, and a link to the shop's own page must not show a stranger's
/// words in the shop's error box.
pub fn url_error() -> Memo<Option<ApiError>> {
    let query = use_query_map();
    Memo::new(move |_| {
        query
            .read()
            .get(crate::api::error::URL_ERROR_PARAM)
            .and_then(|e| sealed_by_the_shop(&e))
    })
}

/// The error in `sealed`, if the shop sealed it in the last ten minutes. Checked on the server,
/// where the pages that show it are rendered (the browser has no key to check a seal with: it
/// shows none).
fn sealed_by_the_shop(sealed: &str) -> Option<ApiError> {
    #[cfg(feature = "ssr")]
    {
        let state = use_context::<crate::state::AppState>()?;
        let payload = state
            .signer
            .open(crate::api::error::URL_ERROR_SEAL, sealed)?;
        let now = state.clock.now().instant().unix_secs();
        let encoded = crate::api::error::fresh_url_error(payload, now)?;
        Some(leptos::server_fn::error::ServerFnUrlError::<ApiError>::decode_err(encoded))
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = sealed;
        None
    }
}

/// The error to show for a form in a page rendered on the server: the one in the URL (a form
/// posted without JavaScript comes back with it), or the action's latest answer.
pub fn form_error<T, S>(value: S) -> Memo<Option<ApiError>>
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, ApiError>>> + Send + Sync + 'static,
{
    let from_url = url_error();
    Memo::new(move |_| match value.get() {
        Some(Err(e)) => Some(e),
        Some(Ok(_)) => None,
        None => from_url.get(),
    })
}

/// Shows a form-level error (not one tied to a field).
#[component]
pub fn FormError(error: Memo<Option<ApiError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! {
                <div class="notice notice-error" role="alert">
                    <p>{e.to_string()}</p>
                </div>
            }
        })
    }
}

/// A product in the catalogue. `first_row` cards are on screen at once (their picture loads
/// eagerly); the `lead` card's picture is the page's largest paint (loaded first).
#[component]
pub fn ProductCard(product: ProductView, first_row: bool, lead: bool) -> impl IntoView {
    let href = format!("/p/{}", product.slug);
    let badge = view! { <crate::live::LiveBadge product=product.clone() /> };
    let name = product.name_in(crate::language::use_language()).to_owned();
    let (now_cents, normal_cents) = (product.price_now_cents(), product.price_cents);
    view! {
        <li class="card">
            <a href=href class="card-link">
                // two columns on a phone, three from 40rem, four from 60rem (main is 60rem at most)
                <img
                    srcset=crate::domain::picture_srcset(&product.image_url)
                    sizes="(min-width: 60rem) 240px, (min-width: 40rem) 33vw, 50vw"
                    src=product.image_url
                    alt=""
                    width="320"
                    height="240"
                    loading=if first_row { "eager" } else { "lazy" }
                    fetchpriority=lead.then_some("high")
                />
                <span class="card-name">{name}</span>
            </a>
            <span class="card-meta">
                // the price a shopper pays now, as the product page shows it
                <span class="price">
                    {price(now_cents)}
                    {(now_cents != normal_cents)
                        .then(|| view! { " " <s class="was">{price(normal_cents)}</s> })}
                </span>
                {badge}
            </span>
            {product.flash_sale.then(|| {
                let lang = crate::language::use_language();
                view! { <span class="flash">{crate::tr!(lang, flash_sale)}</span> }
            })}
        </li>
    }
}

/// A placed order's summary: code, status, lines and total.
#[component]
pub fn OrderSummary(order: OrderView) -> impl IntoView {
    let lang = crate::language::use_language();
    view! {
        <section class="order-summary" aria-label=crate::tr!(lang, summary_label)>
            <p class="order-code">
                {crate::tr!(lang, order_code)} " "
                <strong data-testid="order-code">{order.order_code.to_string()}</strong>
            </p>
            <p>
                {crate::tr!(lang, status_label)} " "
                <strong data-testid="order-status">{status_text(order.status, lang)}</strong>
            </p>
            {(!order.tracking_number.is_empty()).then(|| view! {
                <p>
                    {crate::tr!(lang, tracking_label)} " "
                    <strong data-testid="tracking-number">{order.tracking_number.clone()}</strong>
                </p>
            })}
            <table class="lines">
                <thead>
                    <tr>
                        <th scope="col">{crate::tr!(lang, item)}</th>
                        <th scope="col">{crate::tr!(lang, qty)}</th>
                        <th scope="col">{crate::tr!(lang, total)}</th>
                    </tr>
                </thead>
                <tbody>
                    {order
                        .lines
                        .into_iter()
                        .map(|l| {
                            view! {
                                <tr>
                                    <td>{l.product_name}</td>
                                    <td>{l.quantity}</td>
                                    <td>{price(l.line_total_cents)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
                <tfoot>
                    <tr>
                        <th scope="row" colspan="2">
                            {crate::tr!(lang, total)}
                        </th>
                        <td data-testid="order-total">{price(order.total_cents)}</td>
                    </tr>
                </tfoot>
            </table>
            <p class="muted">
                {crate::tr!(lang, for_whom)} " " {order.customer_name} ", " {order.address}
            </p>
        </section>
    }
}

/// An order's status in the shopper's words.
pub fn status_text(status: OrderStatus, lang: crate::language::Language) -> String {
    match status {
        OrderStatus::AwaitingPayment => crate::tr!(lang, status_awaiting_payment),
        OrderStatus::Paid => crate::tr!(lang, status_paid),
        OrderStatus::Shipped => crate::tr!(lang, status_shipped),
        OrderStatus::Completed => crate::tr!(lang, status_completed),
        OrderStatus::Cancelled => crate::tr!(lang, status_cancelled),
    }
}

/// Seconds after which a page without JavaScript loads itself again: `usual_secs`, stretched
/// while the shop is strained ([`crate::strain::refresh_secs`]: ×2 past half of its connections
/// or its order desk's budget, ×4 past 80 %, at most a minute), so that waiting phones' reloads
/// do not add to a surge the server can hardly take.
pub fn refresh_after(usual_secs: u64) -> u64 {
    #[cfg(feature = "ssr")]
    if let Some(state) = use_context::<crate::state::AppState>() {
        return crate::strain::refresh_secs(usual_secs, state.strain());
    }
    usual_secs
}

/// After a "busy, try again in N s" answer to a checkout form: says the order is not placed yet
/// and when to send it again. With JavaScript, a small script (under the page's nonce) says
/// "still trying" at once and sends the form again by itself after N s and a random second (so
/// a thousand phones do not come back in the same instant). Sending again is safe: the form's
/// idempotency key is the same, so it can never make a second order.
#[component]
pub fn BusyRetry(error: ApiError, form_id: &'static str) -> impl IntoView {
    let ApiError::Overloaded {
        retry_after_secs, ..
    } = error
    else {
        return ().into_any();
    };
    let lang = crate::language::use_language();
    // no quotes, no markup characters: the script's text is fixed, its facts come from data-*
    const SCRIPT: &str = "(function(){var d=document.currentScript.dataset,\
        f=document.getElementById(d.form),n=document.getElementById(d.note);\
        if(!f||!f.requestSubmit)return;if(n)n.textContent=d.trying;\
        setTimeout(function(){f.requestSubmit()},d.secs*1000+Math.random()*1000)})()";
    view! {
        <p class="busy-retry" id="busy-retry" data-testid="busy-retry">
            {crate::tr!(lang, busy_retry_by_hand, secs = retry_after_secs)}
        </p>
        <script
            nonce=leptos::nonce::use_nonce()
            data-form=form_id
            data-note="busy-retry"
            data-secs=retry_after_secs
            data-trying=crate::tr!(lang, busy_still_trying)
            inner_html=SCRIPT
        ></script>
    }
    .into_any()
}

/// A countdown that the server renders as text and the browser (once hydrated) ticks down each
/// second. Counting from the server's figure avoids trusting the phone's clock.
#[island]
pub fn Countdown(secs: i64, units: crate::domain::CountdownUnits) -> impl IntoView {
    let left = RwSignal::new(secs.max(0));
    Effect::new(move |_| {
        let tick = move || left.update(|s| *s = (*s - 1).max(0));
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        // a timer, not news: screen readers must not read out every second (role="timer" is
        // never announced on its own; the shopper reads it when she wants to)
        <span class="countdown" role="timer" aria-live="off" data-testid="countdown">
            {move || crate::domain::countdown_text(left.get(), &units)}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_is_escaped_so_it_cannot_close_a_textarea() {
        assert_eq!(
            escape_html("</textarea><script>alert(1)</script> & 'x'"),
            "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;x&#39;"
        );
        assert_eq!(escape_html("李小龙, 2 Main St"), "李小龙, 2 Main St");
    }
}
