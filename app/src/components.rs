//! Small pieces shared by the pages.

use crate::api::ApiError;
use crate::domain::{Money, OrderView, ProductView};
use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos_router::hooks::use_query_map;

/// `$12.50` from cents.
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

pub fn price(cents: i64) -> String {
    Money::from_cents(cents)
        .map(|m| m.to_string())
        .unwrap_or_else(|| "—".to_owned())
}

#[component]
pub fn Header() -> impl IntoView {
    let lang = crate::language::use_language();
    let here = leptos_router::hooks::use_location();
    // a plain link: the server keeps the choice and sends the shopper back to this page
    let switch = format!(
        "/language/{}?back={}",
        lang.other().tag(),
        crate::percent::encode(
            &format!(
                "{}{}",
                here.pathname.get_untracked(),
                here.search.get_untracked()
            ),
            b"/"
        )
    );
    view! {
        <header class="site-header">
            <a class="brand" href="/">
                {crate::tr!(lang, shop_name)}
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

/// The error a server function left in the URL (`?__err=…`) after a plain form post without
/// JavaScript redirected back here.
pub fn url_error() -> Memo<Option<ApiError>> {
    let query = use_query_map();
    Memo::new(move |_| {
        query
            .read()
            .get("__err")
            .map(|e| ServerFnUrlError::<ApiError>::decode_err(&e))
    })
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
                <span class="card-name">{product.name}</span>
            </a>
            <span class="card-meta">
                <span class="price">{price(product.price_cents)}</span>
                <StockBadge stock=product.stock />
            </span>
            {product.flash_sale.then(|| view! { <span class="flash">"Flash sale"</span> })}
        </li>
    }
}

/// A placed order's summary: code, status, lines and total.
#[component]
pub fn OrderSummary(order: OrderView) -> impl IntoView {
    view! {
        <section class="order-summary" aria-label="Order summary">
            <p class="order-code">
                "Order code " <strong data-testid="order-code">{order.order_code.to_string()}</strong>
            </p>
            <p>
                "Status: " <strong data-testid="order-status">{order.status.label()}</strong>
            </p>
            <table class="lines">
                <thead>
                    <tr>
                        <th scope="col">"Item"</th>
                        <th scope="col">"Qty"</th>
                        <th scope="col">"Total"</th>
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
                            "Total"
                        </th>
                        <td data-testid="order-total">{price(order.total_cents)}</td>
                    </tr>
                </tfoot>
            </table>
            <p class="muted">
                "For " {order.customer_name} ", " {order.address}
            </p>
        </section>
    }
}

/// A countdown that the server renders as text and the browser (once hydrated) ticks down each
/// second. Counting from the server's figure avoids trusting the phone's clock.
#[island]
pub fn Countdown(secs: i64) -> impl IntoView {
    let left = RwSignal::new(secs.max(0));
    Effect::new(move |_| {
        let tick = move || left.update(|s| *s = (*s - 1).max(0));
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <span class="countdown" data-testid="countdown">
            {move || crate::domain::countdown_text(left.get())}
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
