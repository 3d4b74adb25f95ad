//! `GET /live/products?ids=1,2`: a shopper's page listens for its products' news
//! ([`crate::live::feed`]) as Server-Sent Events. On connecting it is told each product's news at
//! once (a page that reconnects after a lost connection or a restarted server is brought up to
//! date the same way, so `Last-Event-ID` needs no replay), then each change as it happens; a
//! comment every 15 s keeps proxies from closing a quiet stream.
//!
//! `&poll=1` answers the news once, as a JSON array: for a phone without `EventSource`, and for
//! one turned away because the server already has `HOLDFAST_MAX_LIVE` pages listening (204 No
//! Content, which tells `EventSource` not to reconnect; the page's script then polls).

use crate::live::feed::{Listener, ShopNews};
use app::language::Language;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
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

/// What the live streams need: the news, and to read the tokens pages show.
#[derive(Clone)]
pub struct Live {
    pub news: Arc<ShopNews>,
    pub signer: Arc<app::tokens::Signer>,
    pub queue: Arc<dyn app::store::WaitingRoom>,
    /// Whether clients are named by `X-Forwarded-For` (behind the shop's proxy).
    pub trust_proxy: bool,
}

impl Live {
    /// A page of the client the request comes from starts listening, unless the server's cap or
    /// the client's is reached (then: [`poll_instead`]).
    fn listen(&self, headers: &HeaderMap, peer: Peer) -> Option<Listener> {
        let client =
            crate::edge::rate_limit::client_of(headers, peer.map(|p| p.0 .0), self.trust_proxy);
        self.news.listen(client)
    }
}

/// A page turned away from listening: 204 tells `EventSource` not to reconnect; its script polls.
fn poll_instead() -> Response {
    (StatusCode::NO_CONTENT, [(RETRY_AFTER, POLL_SECS)]).into_response()
}

/// The peer's address, when the server knows it (it does, except in some tests).
pub type Peer = Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>;

pub async fn products(
    State(live): State<Live>,
    peer: Peer,
    headers: HeaderMap,
    Query(ask): Query<Ask>,
) -> Response {
    let ids = match app::live::parse_ids(&ask.ids) {
        Ok(ids) => ids,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let lang = Language::of_request(&headers, crate::edge::shop_look::current().default_language);
    if ask.poll.is_some() {
        return once(&live.news, &ids, lang);
    }
    match live.listen(&headers, peer) {
        Some(listener) => stream(listener, ids, lang),
        None => poll_instead(),
    }
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
                    event = event.retry(spread_retry());
                    w.first = false;
                }
                w.pending.push_back(event);
            }
            w.first = false;
        }
    });
    sse(events)
}

/// Phones come back after a lost connection spread over 1–3 s, not all at once.
fn spread_retry() -> Duration {
    Duration::from_millis(1000 + rand::random_range(0..2000))
}

/// A stream of events as the answer, with a comment every 15 s to keep proxies from closing it.
fn sse(
    events: impl futures::Stream<Item = Result<Event, std::convert::Infallible>> + Send + 'static,
) -> Response {
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

/// What one waiting page's stream keeps between events.
struct Following {
    listener: Listener,
    product_id: i64,
    rank: i64,
    /// When the page connected (its ticket was read as waiting then).
    since: std::time::Instant,
    /// Places are told from the sale's start (the line is drawn then); `None`: already.
    places_from: Option<tokio::time::Instant>,
    /// The page's words, shared by every page in its language.
    words: Arc<app::pages::queue::WaitingWords>,
    /// The place and estimate the page shows.
    shown: Option<(u64, String)>,
    first: bool,
    turned: bool,
}

impl Following {
    /// Whether places are told yet; once they are, always.
    fn telling_places(&mut self) -> bool {
        if self
            .places_from
            .is_some_and(|from| tokio::time::Instant::now() >= from)
        {
            self.places_from = None;
        }
        self.places_from.is_none()
    }
}

fn turn() -> Event {
    Event::default().event("turn").data("{}")
}

#[derive(Debug, Deserialize)]
pub struct TokenAsk {
    #[serde(default)]
    t: String,
    #[serde(default)]
    poll: Option<String>,
}

/// Reads a waiting page's ticket as it connects, and when (its absence from a line's reading
/// counts only in a reading begun after that). When thousands of waiting pages connect at once
/// the database's pool may not have a connection for every one in time: the page's stream then
/// waits and asks again (up to four times, a random 0.5–1.5 s apart) rather than give up at
/// once (measured on Postgres: 10,000 waiting pages connecting within a second, refused at the
/// first failed read, got 5,000 refusals).
async fn read_ticket(
    queue: &dyn app::store::WaitingRoom,
    ticket_id: i64,
) -> (
    std::time::Instant,
    Result<Option<app::store::TicketInfo>, app::store::StoreError>,
) {
    let mut attempt = 1;
    loop {
        let since = std::time::Instant::now();
        match queue.ticket(ticket_id).await {
            Err(e) if attempt < 4 => {
                tracing::debug!(error = %e, attempt, "live line: ticket not read yet");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500 + rand::random_range(0..1000))).await;
            }
            read => return (since, read),
        }
    }
}

/// `GET /live/order?t=<sealed code>`: an order's page is told how the order looks
/// ([`app::live::order_look`]) whenever the owner changes it. The token is the one the order's
/// page was drawn with, shown only to its shopper: a made-up one is refused. `&poll=1`
/// answers once: `{"look": …}` (`null`: no change lately).
pub async fn order(
    State(live): State<Live>,
    peer: Peer,
    headers: HeaderMap,
    Query(ask): Query<TokenAsk>,
) -> Response {
    let Some(code) = live
        .signer
        .open(app::live::ORDER_TOKEN_PURPOSE, &ask.t)
        .map(str::to_owned)
    else {
        return (StatusCode::BAD_REQUEST, "not an order's live token").into_response();
    };
    if ask.poll.is_some() {
        let news = live.news.orders().borrow().clone();
        let look = news.look(&code).map(|l| l.to_string());
        return (
            [
                (CONTENT_TYPE, "application/json"),
                (CACHE_CONTROL, "no-store"),
            ],
            serde_json::json!({ "look": look }).to_string(),
        )
            .into_response();
    }
    let Some(listener) = live.listen(&headers, peer) else {
        return poll_instead();
    };
    let start = (listener, live.news.orders(), code, None::<Arc<str>>, true);
    let events = futures::stream::unfold(
        start,
        |(mut l, mut orders, code, mut sent, first)| async move {
            loop {
                let look = orders.borrow_and_update().look(&code).cloned();
                if let Some(look) = look.filter(|look| sent.as_ref() != Some(look)) {
                    sent = Some(look.clone());
                    let mut event = Event::default()
                        .event("order")
                        .data(serde_json::json!({ "look": look.as_ref() }).to_string());
                    if first {
                        event = event.retry(spread_retry());
                    }
                    return Some((Ok(event), (l, orders, code, sent, false)));
                }
                tokio::select! {
                    changed = orders.changed() => if changed.is_err() { return None },
                    _ = l.closing.changed() => return None,
                }
            }
        },
    );
    sse(events)
}

/// The waiting page's words in `lang`, made once: 10,000 waiting pages share two copies
/// rather than keep one each.
fn waiting_words(lang: Language) -> Arc<app::pages::queue::WaitingWords> {
    static WORDS: std::sync::OnceLock<[Arc<app::pages::queue::WaitingWords>; 2]> =
        std::sync::OnceLock::new();
    let all = WORDS.get_or_init(|| {
        Language::ALL.map(|lang| Arc::new(app::pages::queue::WaitingWords::new(lang)))
    });
    let at = Language::ALL.iter().position(|l| *l == lang).unwrap_or(0);
    all[at].clone()
}

/// `GET /live/line?t=<ticket>`: a waiting shopper's page is told its place in line and its
/// estimate as they change (`place`, `{"position": n, "eta": "<the page's words>"}`; from the
/// sale's start, when the line is drawn), and `turn` when its ticket is no longer waiting — its
/// page then loads again and shows what the ticket became (the hold's checkout, or sold out).
/// The ticket is read once, when the page connects, inside the stream (the answer's head goes
/// first); after that its place comes from the line's reading that all its pages share. A
/// ticket that is not found is told `turn` too (its page loads again and says so); one the
/// database is too busy to read ends the stream, and the page comes back in 5–7 s.
pub async fn line(
    State(live): State<Live>,
    peer: Peer,
    headers: HeaderMap,
    Query(ask): Query<TokenAsk>,
) -> Response {
    let Some(ticket_id) = live.signer.verify(app::tokens::TokenKind::Ticket, &ask.t) else {
        return (StatusCode::BAD_REQUEST, "not a ticket").into_response();
    };
    let Some(listener) = live.listen(&headers, peer) else {
        return poll_instead();
    };
    let lang = Language::of_request(&headers, crate::edge::shop_look::current().default_language);
    let (queue, news) = (live.queue.clone(), live.news.clone());
    // the ticket is read inside the stream: the answer's head goes at once and the request's
    // middleware is done with. When 10,000 pages connect at once the pool reads their tickets
    // one after another; answering only after the read kept ~17 KiB of futures per page
    // meanwhile (heaptrack), memory the allocator kept after they were gone
    let events = futures::stream::once(async move {
        let (since, read) = read_ticket(queue.as_ref(), ticket_id).await;
        match read {
            Ok(Some(ticket)) => follow_line(&news, listener, ticket, since, lang),
            // no such ticket (any more): the page loads again and says so
            Ok(None) => futures::stream::iter([Ok(turn())]).boxed(),
            Err(e) => {
                tracing::debug!(error = %e, "live line: ticket not read");
                futures::stream::iter([Ok(busy())]).boxed()
            }
        }
    })
    .flatten();
    sse(events)
}

/// What a waiting page's stream tells.
type LineEvents = futures::stream::BoxStream<'static, Result<Event, std::convert::Infallible>>;

/// The ticket could not be read (the database busy): the stream ends, and the page's
/// `EventSource` comes back in 5–7 s (its island asks meanwhile), not all pages at once.
fn busy() -> Event {
    Event::default()
        .comment("busy")
        .retry(Duration::from_millis(5_000 + rand::random_range(0..2_000)))
}

/// The stream of a page whose `ticket` was read at `since`: its place as it changes, then its turn.
fn follow_line(
    news: &Arc<ShopNews>,
    listener: Listener,
    ticket: app::store::TicketInfo,
    since: std::time::Instant,
    lang: Language,
) -> LineEvents {
    let app::store::Standing::Waiting {
        position,
        eta_seconds,
        starts_in_secs,
    } = ticket.standing
    else {
        // already its turn (or over): one event, and the page goes to see
        return futures::stream::iter([Ok(turn())]).boxed();
    };
    let words = waiting_words(lang);
    let follow = Following {
        listener,
        product_id: ticket.product_id,
        rank: ticket.rank,
        since,
        places_from: match (position, starts_in_secs) {
            (None, Some(secs)) => {
                Some(tokio::time::Instant::now() + Duration::from_secs(secs.min(86_400 * 366)))
            }
            _ => None,
        },
        shown: position.map(|p| (p, words.eta_line(eta_seconds))),
        words,
        first: true,
        turned: false,
    };
    let (lines, watch) = news.line(ticket.product_id);
    futures::stream::unfold(
        (follow, lines, watch),
        |(mut f, mut lines, watch)| async move {
            loop {
                // the turn is the last word: the page goes to see (and closes the stream)
                if f.turned {
                    return None;
                }
                if !f.first {
                    let start = f.places_from;
                    tokio::select! {
                        changed = lines.changed() => if changed.is_err() { return None },
                        _ = f.listener.closing.changed() => return None,
                        // the sale starts: the page is told its place in the line drawn
                        _ = tokio::time::sleep_until(start.unwrap_or_else(tokio::time::Instant::now)),
                            if start.is_some() => {}
                    }
                }
                let place = lines
                    .borrow_and_update()
                    .place(f.product_id, f.rank, f.since);
                let event = match place {
                    crate::live::lines::Place::Gone => {
                        f.turned = true;
                        turn()
                    }
                    crate::live::lines::Place::At { position, eta_secs } if f.telling_places() => {
                        let now = (position, f.words.eta_line(eta_secs));
                        if f.shown.as_ref() == Some(&now) {
                            if f.first {
                                Event::default().comment("listening")
                            } else {
                                continue;
                            }
                        } else {
                            let data = serde_json::json!({
                                "position": now.0,
                                "eta": now.1,
                                "eta_seconds": eta_secs,
                            });
                            f.shown = Some(now);
                            Event::default().event("place").data(data.to_string())
                        }
                    }
                    // nothing new yet: the first answer only opens the stream
                    _ if f.first => Event::default().comment("listening"),
                    _ => continue,
                };
                let event = if f.first {
                    f.first = false;
                    event.retry(spread_retry())
                } else {
                    event
                };
                return Some((Ok(event), (f, lines, watch)));
            }
        },
    )
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::JoinRequest;
    use app::store::{AdmissionRound, JoinError, StoreError, TicketInfo, WaitingRoom};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A database whose pool has no connection for the first `fails` reads.
    struct Busy {
        fails: AtomicUsize,
        reads: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl WaitingRoom for Busy {
        async fn join_queue(&self, _: JoinRequest) -> Result<TicketInfo, JoinError> {
            unreachable!("not asked")
        }
        async fn ticket(&self, _: i64) -> Result<Option<TicketInfo>, StoreError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let left = self.fails.load(Ordering::Relaxed);
            if left > 0 {
                self.fails.store(left - 1, Ordering::Relaxed);
                return Err(StoreError::unexpected("pool timed out"));
            }
            Ok(None)
        }
        async fn hold_line(&self, _: i64) -> Result<Option<(i64, i64)>, StoreError> {
            unreachable!("not asked")
        }
        async fn leave_queue(&self, _: i64) -> Result<Option<TicketInfo>, StoreError> {
            unreachable!("not asked")
        }
        async fn run_admission(&self) -> Result<AdmissionRound, StoreError> {
            unreachable!("not asked")
        }
    }

    fn busy(fails: usize) -> Busy {
        Busy {
            fails: AtomicUsize::new(fails),
            reads: AtomicUsize::new(0),
        }
    }

    /// The body of `line`'s answer for a ticket `db` is asked about, up to its end.
    async fn line_answer(db: Busy) -> (StatusCode, String) {
        let signer = Arc::new(app::tokens::Signer::new(&[7; 32]).unwrap());
        let (news, _feeds) = ShopNews::idle(crate::live::feed::Caps {
            total: 10,
            per_client: 10,
        });
        let live = Live {
            news: Arc::new(news),
            signer: signer.clone(),
            queue: Arc::new(db),
            trust_proxy: false,
        };
        let ask = TokenAsk {
            t: signer.sign(app::tokens::TokenKind::Ticket, 7),
            poll: None,
        };
        let answer = line(State(live), None, HeaderMap::new(), Query(ask)).await;
        let status = answer.status();
        let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_ticket_the_database_cannot_read_ends_the_stream_with_a_later_retry() {
        let (status, body) = line_answer(busy(10)).await;
        assert_eq!(status, StatusCode::OK, "the head went before the read");
        assert!(body.starts_with(": busy\n"), "{body:?}");
        let retry: u64 = body
            .lines()
            .find_map(|l| l.strip_prefix("retry: "))
            .and_then(|ms| ms.parse().ok())
            .unwrap();
        assert!((5_000..7_000).contains(&retry), "{body:?}");
        assert!(!body.contains("event:"), "no turn told: {body:?}");

        let (status, body) = line_answer(busy(0)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("event: turn"),
            "not found: the page goes to see: {body:?}"
        );
    }

    #[tokio::test]
    async fn a_waiting_page_connecting_to_a_busy_database_waits_and_asks_again() {
        let db = busy(2);
        let (_, read) = read_ticket(&db, 7).await;
        assert!(matches!(read, Ok(None)), "the third read answers");
        assert_eq!(db.reads.load(Ordering::Relaxed), 3);

        let db = busy(10);
        let (_, read) = read_ticket(&db, 7).await;
        assert!(read.is_err(), "after four reads it gives up");
        assert_eq!(db.reads.load(Ordering::Relaxed), 4);
    }
}
