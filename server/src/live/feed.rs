//! The shop's news for shoppers' open pages: what each product's page shows that can change
//! while it is open (its stock badge, whether it can be bought, its sale's phase), read from the
//! catalogue every quarter second and kept as one [`News`] that every listening page looks at.
//!
//! The reading goes to the shop's database itself, not through the page's catalogue cache (which
//! it would keep warm, so that a page drawn after a change behind the shop's back could be as
//! stale as the cache allows): one small query per tick per server. It is the shop's database,
//! so a unit sold on another server of the shop (Postgres) shows here at the next reading, with
//! no message between servers to lose.
//! The work is one reading and one rendering of each product's news (in each language) per
//! change, however many pages listen: a page's stream only picks the news already made.

use crate::live::lines::{LineNews, LineWatch, Watched};
use crate::live::orders::{OrderNews, OrderReader};
use app::domain::ProductView;
use app::language::Language;
use app::live::ProductNews;
use app::store::Store;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// How often the catalogue is looked at for news.
pub const EVERY: Duration = Duration::from_millis(250);

/// Pages are told new stock counts at most this often; a change of look (sold out, a sale
/// opening, a pause, a price) at the reading that finds it. While a product sells fast its
/// count changes at every reading: waking 10,000 pages' streams four times a second cost the
/// server more CPU than the orders themselves (measured by `surge --scenario live`). A count is
/// then at most this plus one reading old.
pub const COUNTS_EVERY: Duration = Duration::from_millis(700);

/// One reading's news: each product's [`ProductNews`] as JSON, in each language, and its look.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct News {
    /// Counts the readings that differed from the one before (the stream's event id).
    pub version: u64,
    products: HashMap<i64, Told>,
}

/// One product's news: as JSON in each language, and its look ([`app::live::look`]).
#[derive(Debug, PartialEq, Eq)]
struct Told {
    json: [Arc<str>; 2],
    look: Arc<str>,
}

impl News {
    fn of_products(products: &[ProductView]) -> HashMap<i64, Told> {
        products
            .iter()
            .map(|p| {
                let told = Told {
                    json: Language::ALL.map(|lang| json(&ProductNews::of(p, lang))),
                    look: app::live::look(p).into(),
                };
                (p.id, told)
            })
            .collect()
    }

    /// Whether `products` would draw some page differently from this news (a product's look
    /// changed, or one came or went), not only change a stock count.
    fn looks_differ(&self, products: &HashMap<i64, Told>) -> bool {
        products.len() != self.products.len()
            || products.iter().any(|(id, told)| {
                self.products
                    .get(id)
                    .is_none_or(|before| before.look != told.look)
            })
    }

    /// The news of product `id`, as JSON in `lang`; `None` for a product the shop does not show.
    pub fn of(&self, id: i64, lang: Language) -> Option<&Arc<str>> {
        let at = Language::ALL.iter().position(|l| *l == lang)?;
        self.products.get(&id).map(|told| &told.json[at])
    }
}

fn json(news: &ProductNews) -> Arc<str> {
    serde_json::to_string(news).unwrap_or_default().into()
}

/// How many pages may listen at once: on this server, and from one client.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub total: usize,
    pub per_client: usize,
}

/// The news as it is now (products, orders, waiting lines), the pages listening, and the caps on
/// them.
pub struct ShopNews {
    latest: watch::Receiver<Arc<News>>,
    orders: watch::Receiver<Arc<OrderNews>>,
    lines: watch::Receiver<Arc<LineNews>>,
    watched: Watched,
    listening: AtomicUsize,
    /// Pages listening from each client (that has any).
    by_client: Mutex<HashMap<IpAddr, usize>>,
    caps: Caps,
    /// Set when the server stops: every stream ends, so the server's last requests finish.
    closing: watch::Sender<bool>,
}

impl ShopNews {
    /// News that nothing feeds yet, and what feeds it.
    pub(crate) fn idle(caps: Caps) -> (ShopNews, Feeds) {
        let (products, latest) = watch::channel(Arc::new(News::default()));
        let (orders_tx, orders) = watch::channel(Arc::new(OrderNews::default()));
        let (lines_tx, lines) = watch::channel(Arc::new(LineNews::default()));
        let news = ShopNews {
            latest,
            orders,
            lines,
            watched: Watched::default(),
            listening: AtomicUsize::new(0),
            by_client: Mutex::new(HashMap::new()),
            caps,
            closing: watch::channel(false).0,
        };
        let feeds = Feeds {
            products,
            orders: orders_tx,
            lines: lines_tx,
        };
        (news, feeds)
    }

    /// Starts reading `store` (the database's catalogue), and through `ports` the orders' changes and
    /// the watched waiting lines, every [`EVERY`]; pages may listen within `caps`.
    pub fn start(
        store: Arc<dyn Store>,
        ports: crate::store::DeskStore,
        caps: Caps,
    ) -> (Arc<ShopNews>, tokio::task::JoinHandle<()>) {
        let (news, feeds) = ShopNews::idle(caps);
        let news = Arc::new(news);
        let watched = news.watched.clone();
        let task = tokio::spawn(async move {
            let tx = feeds.products;
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut version = 0;
            let mut told_at = tokio::time::Instant::now();
            let mut orders = OrderReader::default();
            loop {
                tick.tick().await;
                orders.read(&ports, &feeds.orders).await;
                crate::live::lines::read(&watched, &ports, &feeds.lines).await;
                match store.products().await {
                    Ok(products) => {
                        let products = News::of_products(&products);
                        let now = tx.borrow().clone();
                        // only counts changed, and lately told: a later reading tells them
                        let tell = products != now.products
                            && (now.looks_differ(&products) || told_at.elapsed() >= COUNTS_EVERY);
                        if tell {
                            version += 1;
                            told_at = tokio::time::Instant::now();
                            tx.send_replace(Arc::new(News { version, products }));
                        }
                    }
                    // the pages keep the last news; the next reading tries again
                    Err(e) => tracing::debug!(error = %e, "live news: catalogue not read"),
                }
            }
        });
        (news, task)
    }

    /// The news now.
    pub fn now(&self) -> Arc<News> {
        self.latest.borrow().clone()
    }

    /// The orders' news, to wait on.
    pub fn orders(&self) -> watch::Receiver<Arc<OrderNews>> {
        self.orders.clone()
    }

    /// The waiting lines' news, to wait on, and a watch on `product_id`'s line (read while
    /// the guard lives).
    pub fn line(&self, product_id: i64) -> (watch::Receiver<Arc<LineNews>>, LineWatch) {
        (self.lines.clone(), self.watched.watch(product_id))
    }

    /// A page of `client` (when known) starts listening, unless the server's cap or the
    /// client's is reached.
    pub fn listen(self: &Arc<ShopNews>, client: Option<IpAddr>) -> Option<Listener> {
        let before = self.listening.fetch_add(1, Ordering::Relaxed);
        // counted from here on: dropped, it gives back what it took
        let mut listener = Listener {
            news: self.clone(),
            client: None,
            changes: self.latest.clone(),
            closing: self.closing.subscribe(),
        };
        if before >= self.caps.total {
            return None;
        }
        if let Some(client) = client {
            let mut by_client = self
                .by_client
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let count = by_client.entry(client).or_default();
            if *count >= self.caps.per_client {
                return None;
            }
            *count += 1;
            listener.client = Some(client);
        }
        Some(listener)
    }

    /// Pages listening now.
    pub fn listening(&self) -> usize {
        self.listening.load(Ordering::Relaxed)
    }

    /// The server is stopping: every stream ends.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}

/// What feeds the news.
pub(crate) struct Feeds {
    products: watch::Sender<Arc<News>>,
    orders: watch::Sender<Arc<OrderNews>>,
    lines: watch::Sender<Arc<LineNews>>,
}

/// One listening page: counted while it lives (and against its client's cap).
pub struct Listener {
    news: Arc<ShopNews>,
    client: Option<IpAddr>,
    pub changes: watch::Receiver<Arc<News>>,
    pub closing: watch::Receiver<bool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.news.listening.fetch_sub(1, Ordering::Relaxed);
        if let Some(client) = self.client {
            let mut by_client = self
                .news
                .by_client
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = by_client.get_mut(&client) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    by_client.remove(&client);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: i64, stock: i64) -> ProductView {
        ProductView {
            id,
            stock,
            price_cents: 500,
            ..ProductView::default()
        }
    }

    #[test]
    fn news_is_made_once_per_product_and_language() {
        let products = News::of_products(&[product(1, 2), product(2, 0)]);
        let news = News {
            version: 1,
            products,
        };
        let one: ProductNews = serde_json::from_str(news.of(1, Language::En).unwrap()).unwrap();
        assert_eq!(one.id, 1);
        assert!(one.badge.contains('2'), "{one:?}");
        let gone: ProductNews = serde_json::from_str(news.of(2, Language::ZhCn).unwrap()).unwrap();
        assert_eq!(gone.class, "badge badge-soldout");
        assert!(news.of(3, Language::En).is_none());
    }

    #[test]
    fn a_new_count_alone_does_not_change_the_look_but_selling_out_does() {
        let before = News {
            version: 1,
            products: News::of_products(&[product(1, 5), product(2, 3)]),
        };
        assert!(!before.looks_differ(&News::of_products(&[product(1, 4), product(2, 3)])));
        assert!(before.looks_differ(&News::of_products(&[product(1, 0), product(2, 3)])));
        assert!(before.looks_differ(&News::of_products(&[product(1, 5)])));
    }

    #[tokio::test]
    async fn listeners_beyond_the_cap_are_turned_away_and_counted_back_when_they_go() {
        let (news, feeds) = ShopNews::idle(Caps {
            total: 2,
            per_client: 5,
        });
        let news = Arc::new(news);
        let a = news.listen(None).unwrap();
        let b = news.listen(None).unwrap();
        assert!(news.listen(None).is_none(), "the third is over the cap");
        assert_eq!(news.listening(), 2);
        drop(a);
        assert_eq!(news.listening(), 1);
        let c = news.listen(None);
        assert!(c.is_some(), "a place freed is a place");
        drop((b, c, feeds));
        assert_eq!(news.listening(), 0);
    }

    #[tokio::test]
    async fn one_client_cannot_take_every_place() {
        let (news, _feeds) = ShopNews::idle(Caps {
            total: 10,
            per_client: 2,
        });
        let news = Arc::new(news);
        let greedy: IpAddr = [203, 0, 113, 9].into();
        let other: IpAddr = [198, 51, 100, 4].into();
        let a = news.listen(Some(greedy)).unwrap();
        let b = news.listen(Some(greedy)).unwrap();
        assert!(news.listen(Some(greedy)).is_none(), "over its own cap");
        assert_eq!(news.listening(), 2, "the refused one is not counted");
        let c = news
            .listen(Some(other))
            .expect("another client still listens");
        drop(a);
        let d = news.listen(Some(greedy));
        assert!(d.is_some(), "its place freed is its place again");
        drop((b, c, d));
        assert_eq!(news.listening(), 0);
        assert!(
            news.by_client.lock().unwrap().is_empty(),
            "quiet clients are forgotten"
        );
    }
}
