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
#[component]
pub fn LiveUpdates(ids: Vec<i64>) -> impl IntoView {
    if ids.is_empty() {
        return ().into_any();
    }
    let list: Vec<String> = ids.iter().take(MAX_IDS).map(i64::to_string).collect();
    let src = format!("{STREAM_PATH}?ids={}", list.join(","));
    // its facts come from data-*; a page is drawn again at most once every 5 s (a page cache
    // and a feed that disagree must not make a phone reload without end), later rather than
    // never, and not before the catalogue's cache (250 ms) has caught up with the news; never
    // while the shopper is typing into a form or has filled one in (it would lose what she
    // typed, or cut off her submit — the server's answer to it is the truth anyway)
    const SCRIPT: &str =
        "(function(){var d=document.currentScript.dataset,src=d.src,fails=0,es=null;\
function typing(){var e=document.activeElement;if(e&&/^(INPUT|TEXTAREA|SELECT)$/.test(e.tagName))return true;\
var f=document.querySelectorAll('input,textarea');for(var i=0;i<f.length;i++){var x=f[i];\
if(x.type!=='hidden'&&x.value!==x.defaultValue)return true}return false}\
function go(){if(typing())return setTimeout(go,2000);location.reload()}\
function redraw(){if(es){es.close();es=null}var w=300;try{var t=+sessionStorage.getItem('hf-redrawn')||0,\
a=Date.now()-t;if(a<5000)w=5000-a;sessionStorage.setItem('hf-redrawn',String(Date.now()+w))}catch(x){}\
setTimeout(go,w+Math.random()*1000)}\
function apply(m){var b=document.getElementById('stock-'+m.id);if(!b)return false;\
if(b.textContent!==m.badge)b.textContent=m.badge;b.className=m.class;\
if(b.getAttribute('data-look')!==m.look){redraw();return true}return false}\
function poll(){setTimeout(function(){fetch(src+'&poll=1',{cache:'no-store'}).then(function(r){\
if(!r.ok)throw r.status;return r.json()}).then(function(l){fails=0;for(var i=0;i<l.length;i++)\
if(apply(l[i]))return;poll()},function(){fails++;poll()})},\
Math.min(60000,3000*Math.pow(2,fails))+Math.random()*1000)}\
if(!window.EventSource)return poll();es=new EventSource(src);\
es.addEventListener('stock',function(e){try{apply(JSON.parse(e.data))}catch(x){}});\
es.onerror=function(){if(es&&es.readyState===2){es=null;poll()}}})()";
    view! {
        <script nonce=leptos::nonce::use_nonce() data-src=src inner_html=SCRIPT></script>
    }
    .into_any()
}

/// The listening script of an order's page: when the owner changes the order (paid, shipped
/// with its tracking number, cancelled), the page loads again and shows it. Without
/// `EventSource`, or turned away, it asks `&poll=1` every 10 s, doubling after each failure up
/// to a minute, plus a random second; it never stops.
#[component]
pub fn OrderLive(token: String, look: String) -> impl IntoView {
    if token.is_empty() {
        return ().into_any();
    }
    let src = format!("{ORDER_STREAM_PATH}?t={token}");
    const SCRIPT: &str =
        "(function(){var d=document.currentScript.dataset,src=d.src,mine=d.look,fails=0,es=null;\
function seen(l){if(!l||l===mine)return;if(es){es.close();es=null}\
setTimeout(function(){location.reload()},Math.random()*500)}\
function poll(){setTimeout(function(){fetch(src+'&poll=1',{cache:'no-store'}).then(function(r){\
if(!r.ok)throw r.status;return r.json()}).then(function(m){fails=0;seen(m.look);poll()},\
function(){fails++;poll()})},Math.min(60000,10000*Math.pow(2,fails))+Math.random()*1000)}\
if(!window.EventSource)return poll();es=new EventSource(src);\
es.addEventListener('order',function(e){try{seen(JSON.parse(e.data).look)}catch(x){}});\
es.onerror=function(){if(es&&es.readyState===2){es=null;poll()}}})()";
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
/// asking (with backoff) is the fallback.
#[component]
pub fn LineLive(ticket: String) -> impl IntoView {
    let src = format!("{LINE_STREAM_PATH}?t={ticket}");
    const SCRIPT: &str =
        "(function(){var d=document.currentScript.dataset,src=d.src,b=document.documentElement,\
title=document.title,t0=Date.now(),es;if(!window.EventSource)return;\
function again(){try{var t=+sessionStorage.getItem('hf-turn')||0;if(Date.now()-t<3000)return;\
sessionStorage.setItem('hf-turn',String(Date.now()))}catch(x){}location.reload()}\
es=new EventSource(src);es.onopen=function(){b.setAttribute('data-hf-line','open')};\
es.addEventListener('place',function(e){try{var m=JSON.parse(e.data),p=m.position;\
document.title='#'+p+' \\u00b7 '+title;b.setAttribute('data-hf-place',e.data);\
dispatchEvent(new Event('hf-place'));if(b.hasAttribute('data-hydrated'))return;\
var n=document.querySelector('[data-testid=position]'),t=document.querySelector('[data-testid=eta]');\
if(Date.now()-t0<15000)return;if(!n)return again();\
if(n.textContent!==String(p))n.textContent=p;if(t&&m.eta&&t.textContent!==m.eta)t.textContent=m.eta\
}catch(x){}});\
es.addEventListener('turn',function(){es.close();b.removeAttribute('data-hf-line');again()});\
es.onerror=function(){b.removeAttribute('data-hf-line')}})()";
    view! {
        <script nonce=leptos::nonce::use_nonce() data-src=src inner_html=SCRIPT></script>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
