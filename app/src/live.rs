//! Live pages: what a shopper's open catalogue or product page is told when a product changes
//! (its stock badge, and whether the page must be drawn again: sold out, a sale starting or
//! ending), and the small script that listens.
//!
//! The channel is Server-Sent Events (`GET /live/products?ids=…`, served by
//! `server::live_stream`): one way (server to phone) is all a shopper's page needs, it is plain
//! HTTP that proxies and chat-app browsers pass, the browser reconnects by itself, and a phone
//! without `EventSource` (or beyond the server's cap on live connections) asks the same address
//! with `&poll=1` every few seconds instead. The script is a few hundred bytes inline under the
//! page's nonce, not WASM: it works the moment the page arrives on a slow network.
//!
//! A page shows each product's badge in an element `id="stock-<id>"` that carries the product's
//! [`look`]: news with the same look changes the badge's text in place; news with another look
//! means the page itself would be drawn differently (the buy button gone, the sale's form open),
//! so the page loads again (from the page cache) after a random part of a second.

use crate::domain::ProductView;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a page listens.
pub const STREAM_PATH: &str = "/live/products";
/// Where an order's page listens (`?t=` its sealed code): told the order's [`order_look`]
/// when the owner changes it.
pub const ORDER_STREAM_PATH: &str = "/live/order";
/// Where a waiting shopper's page listens (`?t=` the ticket): told the place in line as it
/// changes, and the turn.
pub const LINE_STREAM_PATH: &str = "/live/line";
/// Where a waiting page's script leaves the last place it was told (JSON:
/// `{"position", "eta", "eta_seconds"}`), and the event it says so with, for the page's island.
pub const PLACE_ATTRIBUTE: &str = "data-hf-place";
pub const PLACE_EVENT: &str = "hf-place";
/// What an order's live token is sealed for.
pub const ORDER_TOKEN_PURPOSE: &str = "live-order";

/// The most products one page listens to (the catalogue's first page is smaller).
pub const MAX_IDS: usize = 64;

/// One product's news as a page is told it, in the page's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductNews {
    pub id: i64,
    /// The stock badge's text and CSS class.
    pub badge: String,
    pub class: String,
    /// [`look`]: when it differs from the page's, the page is drawn again.
    pub look: String,
}

impl ProductNews {
    pub fn of(product: &ProductView, lang: crate::language::Language) -> ProductNews {
        let badge = product.badge();
        ProductNews {
            id: product.id,
            badge: badge.text(lang),
            class: badge.css_class().to_owned(),
            look: look(product),
        }
    }
}

/// What a product's page looks like apart from its stock badge, as a short token: whether it can
/// be bought, the sale's phase, the price now, whether it sells through the waiting room. The
/// same product gives the same token on the server that drew the page and on the one that
/// sends the news, in any language.
pub fn look(product: &ProductView) -> String {
    let phase = product.sale.as_ref().map(|s| s.phase);
    let facts = format!(
        "{}|{:?}|{}|{}|{:?}|{}",
        product.stock > 0,
        phase,
        product.price_now_cents(),
        product.queues(),
        product.max_per_order,
        product.paused,
    );
    short_token(&facts)
}

/// What an order's page shows that the owner can change: its status and tracking number, as a
/// short token (the same on every server).
pub fn order_look(status: &str, tracking_number: &str) -> String {
    short_token(&format!("{status}|{tracking_number}"))
}

fn short_token(facts: &str) -> String {
    // FNV-1a: stable across builds and machines (std's hasher is not)
    let hash = facts.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The product ids of a `?ids=1,2,3` list: each a positive number, at least one, at most
/// [`MAX_IDS`], repeats dropped.
pub fn parse_ids(text: &str) -> Result<Vec<i64>, String> {
    let mut ids = Vec::new();
    for part in text.split(',') {
        let id: i64 = part
            .trim()
            .parse()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| format!("`{}` is not a product id", part.trim()))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() > MAX_IDS {
            return Err(format!("at most {MAX_IDS} products at once"));
        }
    }
    if ids.is_empty() {
        return Err("name at least one product id".to_owned());
    }
    Ok(ids)
}

/// A product's stock badge that the live channel keeps true.
#[component]
pub fn LiveBadge(product: ProductView) -> impl IntoView {
    let badge = product.badge();
    let text = badge.text(crate::language::use_language());
    view! {
        <span id=format!("stock-{}", product.id) class=badge.css_class() data-look=look(&product)>
            {text}
        </span>
    }
}

/// The listening script for the products whose [`LiveBadge`]s are on the page. Reconnects by
/// itself (the browser's `EventSource`); when the stream is refused or missing it asks every
/// 3 s, doubling after each failure up to a minute, plus a random second; it never stops.
/// The script is `app/js/live-products.js` (with `poll.js`; `app/build.rs`).
#[component]
pub fn LiveUpdates(ids: Vec<i64>) -> impl IntoView {
    if ids.is_empty() {
        return ().into_any();
    }
    let list: Vec<String> = ids.iter().take(MAX_IDS).map(i64::to_string).collect();
    let src = format!("{STREAM_PATH}?ids={}", list.join(","));
    const SCRIPT: &str = include_str!(concat!(env!("OUT_DIR"), "/live-products.js"));
    view! {
        <script nonce=leptos::nonce::use_nonce() data-src=src inner_html=SCRIPT></script>
    }
    .into_any()
}

/// The listening script of an order's page: when the owner changes the order (paid, shipped
/// with its tracking number, cancelled), the page loads again and shows it. Without
/// `EventSource`, or turned away, it asks `&poll=1` every 10 s, doubling after each failure up
/// to a minute, plus a random second; it never stops. The script is `app/js/live-order.js`.
#[component]
pub fn OrderLive(token: String, look: String) -> impl IntoView {
    if token.is_empty() {
        return ().into_any();
    }
    let src = format!("{ORDER_STREAM_PATH}?t={token}");
    const SCRIPT: &str = include_str!(concat!(env!("OUT_DIR"), "/live-order.js"));
    view! {
        <script nonce=leptos::nonce::use_nonce() data-src=src data-look=look inner_html=SCRIPT></script>
    }
    .into_any()
}

/// The listening script of a waiting shopper's page. The place in line shows in the tab's title
/// (`#12 · …`) at once; in the page it is shown by the page's island ([`PLACE_ATTRIBUTE`],
/// [`PLACE_EVENT`]) — the island's part of the page is its own, a change made under it before it
/// wakes would break its hydration — or by the script itself when the island has not woken
/// 15 s after the page came (its WASM lost on a slow network). A page drawn before the sale
/// started has no place on it: without its island it loads again at its first place. At the
/// turn the page loads again at once — the server draws the hold's checkout. Reloads are at
/// most one per 3 s. While the stream is open it marks the page (`data-hf-line="open"`) so the
/// island asks the shop only now and then; when the stream is refused or broken the island's
/// asking (with backoff) is the fallback. The script is `app/js/live-line.js`.
#[component]
pub fn LineLive(ticket: String) -> impl IntoView {
    let src = format!("{LINE_STREAM_PATH}?t={ticket}");
    const SCRIPT: &str = include_str!(concat!(env!("OUT_DIR"), "/live-line.js"));
    view! {
        <script nonce=leptos::nonce::use_nonce() data-src=src inner_html=SCRIPT></script>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live scripts as pages get them, read by Node's parser (`node --check`; Node comes
    /// with the browser tests' tools and is required here, not skipped): a syntax error in
    /// `app/js` fails here, not in a shopper's phone.
    #[test]
    fn the_live_scripts_parse() {
        let scripts = [
            (
                "live-products.js",
                include_str!(concat!(env!("OUT_DIR"), "/live-products.js")),
            ),
            (
                "live-order.js",
                include_str!(concat!(env!("OUT_DIR"), "/live-order.js")),
            ),
            (
                "live-line.js",
                include_str!(concat!(env!("OUT_DIR"), "/live-line.js")),
            ),
        ];
        let dir = std::env::temp_dir().join(format!("holdfast-js-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        for (name, script) in scripts {
            assert!(script.starts_with("(function(){") && script.ends_with("})()"));
            assert!(
                !script.contains("\n") && !script.contains("//"),
                "{name}: {script}"
            );
            let path = dir.join(name);
            std::fs::write(&path, script).unwrap_or_else(|e| panic!("{e}"));
            let out = std::process::Command::new("node")
                .arg("--check")
                .arg(&path)
                .output()
                .unwrap_or_else(|e| panic!("node is needed to check the live scripts: {e}"));
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn product_id_lists_are_read_strictly() {
        assert_eq!(parse_ids("1,2,2, 3"), Ok(vec![1, 2, 3]));
        assert!(parse_ids("").is_err());
        assert!(parse_ids("1,x").is_err());
        assert!(parse_ids("0").is_err());
        assert!(parse_ids("-4").is_err());
        let many: Vec<String> = (1..=65).map(|i| i.to_string()).collect();
        assert!(parse_ids(&many.join(",")).is_err());
        let enough: Vec<String> = (1..=64).map(|i| i.to_string()).collect();
        assert_eq!(parse_ids(&enough.join(",")).map(|v| v.len()), Ok(64));
    }

    #[test]
    fn the_look_changes_with_what_the_page_draws_not_with_the_stock_count() {
        let product = ProductView {
            id: 7,
            stock: 40,
            price_cents: 1200,
            ..ProductView::default()
        };
        let fewer = ProductView {
            stock: 3,
            ..product.clone()
        };
        assert_eq!(
            look(&product),
            look(&fewer),
            "fewer left: the badge changes, not the page"
        );
        let gone = ProductView {
            stock: 0,
            ..product.clone()
        };
        assert_ne!(look(&product), look(&gone), "sold out: the buy button goes");
        let dearer = ProductView {
            price_cents: 1300,
            ..product.clone()
        };
        assert_ne!(look(&product), look(&dearer));
        let paused = ProductView {
            paused: true,
            ..product.clone()
        };
        assert_ne!(look(&product), look(&paused), "a pause shows on the page");
        assert_eq!(look(&product).len(), 16);
    }
}
