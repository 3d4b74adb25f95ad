//! `GET /live/products?ids=1,2`: a shopper's page listens for its products' news
//! ([`crate::live_feed`]) as Server-Sent Events. On connecting it is told each product's news at
//! once (a page that reconnects after a lost connection or a restarted server is brought up to
//! date the same way, so `Last-Event-ID` needs no replay), then each change as it happens; a
//! comment every 15 s keeps proxies from closing a quiet stream.
//!
//! `&poll=1` answers the news once, as a JSON array: for a phone without `EventSource`, and for
//! one turned away because the server already has `HOLDFAST_MAX_LIVE` pages listening (204 No
//! Content, which tells `EventSource` not to reconnect; the page's script then polls).

use crate::live_feed::{Listener, ShopNews};
use app::language::Language;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// How long a page turned away waits before it asks (its script adds its own spread).
const POLL_SECS: &str = "5";

#[derive(Debug, Deserialize)]
pub struct Ask {
    #[serde(default)]
    ids: String,
    #[serde(default)]
    poll: Option<String>,
}

pub async fn products(
    State(news): State<Arc<ShopNews>>,
    headers: HeaderMap,
    Query(ask): Query<Ask>,
) -> Response {
    let ids = match app::live::parse_ids(&ask.ids) {
        Ok(ids) => ids,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let lang = Language::of_request(&headers, crate::shop_look::current().default_language);
    if ask.poll.is_some() {
        return once(&news, &ids, lang);
    }
    let Some(listener) = news.listen() else {
        return (StatusCode::NO_CONTENT, [(RETRY_AFTER, POLL_SECS)]).into_response();
    };
    stream(listener, ids, lang)
}

/// The news of `ids` now, as one JSON array.
fn once(news: &ShopNews, ids: &[i64], lang: Language) -> Response {
    let now = news.now();
    let items: Vec<&str> = ids
        .iter()
        .filter_map(|id| now.of(*id, lang))
        .map(|n| n.as_ref())
        .collect();
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-store"),
        ],
        format!("[{}]", items.join(",")),
    )
        .into_response()
}

/// What one page's stream keeps between events.
struct Watch {
    listener: Listener,
    ids: Vec<i64>,
    lang: Language,
    /// The news last sent for each product (the same `Arc` is news not yet changed).
    sent: HashMap<i64, Arc<str>>,
    pending: VecDeque<Event>,
    first: bool,
}

fn stream(listener: Listener, ids: Vec<i64>, lang: Language) -> Response {
    let watch = Watch {
        listener,
        ids,
        lang,
        sent: HashMap::new(),
        pending: VecDeque::new(),
        first: true,
    };
    let events = futures::stream::unfold(watch, |mut w| async move {
        loop {
            if let Some(event) = w.pending.pop_front() {
                return Some((Ok::<Event, std::convert::Infallible>(event), w));
            }
            if !w.first {
                tokio::select! {
                    changed = w.listener.changes.changed() => {
                        if changed.is_err() {
                            return None;
                        }
                    }
                    _ = w.listener.closing.changed() => return None,
                }
            }
            let news = w.listener.changes.borrow_and_update().clone();
            for id in &w.ids {
                let Some(now) = news.of(*id, w.lang) else {
                    continue;
                };
                if w.sent
                    .get(id)
                    .is_some_and(|sent| Arc::ptr_eq(sent, now) || sent == now)
                {
                    continue;
                }
                w.sent.insert(*id, now.clone());
                let mut event = Event::default()
                    .event("stock")
                    .id(news.version.to_string())
                    .data(now.as_ref());
                if w.first {
                    // phones come back after a lost connection spread over 1–3 s, not all at once
                    event = event.retry(Duration::from_millis(1000 + rand::random_range(0..2000)));
                    w.first = false;
                }
                w.pending.push_back(event);
            }
            w.first = false;
        }
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    // nginx and other proxies: pass each event on at once
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    response.headers_mut().insert(
        CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}
