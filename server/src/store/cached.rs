//! A catalogue cache in front of any store: during a surge thousands of shoppers look at the same
//! few products, so the product list is read from the database at most once per `ttl` (one
//! refresh at a time; everyone else waits for it). Listing and product pages may show stock up to
//! `ttl` old; placing an order never reads from here.
//!
//! The shop's settings (name, currency, how to pay, …) are read with the catalogue, so an owner's
//! change reaches every server of the shop within the same window.
//!
//! Each reading that differs from the one before gets a new [`Edition`]: the rendered-page cache
//! (`edge::page_cache`) keeps a catalogue or product page until the edition it showed changes.

use app::domain::{NewOrder, OrderCode, OrderView, ProductView};
use app::shop::ShopSettings;
use app::store::{CheckoutError, CheckoutRules, ProductKey, Store, StoreError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The checkout rules (brakes, archived products, per-order limits), or why they could not be read.
type RulesReading = Result<Arc<CheckoutRules>, String>;

/// How long an order waits for the checkout rules to be read before it is shed.
const RULES_READ_LIMIT: Duration = Duration::from_millis(500);

/// Which reading of the catalogue a page showed: a new number whenever a reading differs from the
/// one before it (stock, prices, a sale's countdown, the shop's settings), the same one while
/// nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edition(pub u64);

struct Reading {
    at: Instant,
    products: Arc<Vec<ProductView>>,
    settings: Arc<ShopSettings>,
    edition: Edition,
}

pub struct CatalogueCache {
    inner: Arc<dyn Store>,
    ttl: Duration,
    latest: Mutex<Option<Reading>>,
    /// The settings of the last reading that succeeded and when it was taken: what every request
    /// is given within the window, and while the database is away (the defaults until the first
    /// reading).
    last_settings: std::sync::RwLock<(Option<Instant>, Arc<ShopSettings>)>,
    /// The last reading of the checkout rules, or why it failed: a failure is remembered for `ttl` too,
    /// so that while the database is away orders are shed at once, not one read after another.
    rules: Mutex<Option<(Instant, RulesReading)>>,
}

impl CatalogueCache {
    pub fn new(inner: Arc<dyn Store>, ttl: Duration) -> CatalogueCache {
        CatalogueCache {
            inner,
            ttl,
            latest: Mutex::new(None),
            last_settings: std::sync::RwLock::new((None, Arc::default())),
            rules: Mutex::new(None),
        }
    }

    /// Whether readings are kept at all (a zero `ttl` reads through every time).
    pub fn keeps_readings(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The edition of the catalogue as it is now (read again if the last reading is older than
    /// `ttl`).
    pub async fn edition(&self) -> Result<Edition, StoreError> {
        Ok(self.reading().await?.1)
    }

    /// The edition and the shop's settings of one reading: a page kept under this edition must
    /// be rendered with these settings.
    pub async fn edition_and_settings(&self) -> Result<(Edition, Arc<ShopSettings>), StoreError> {
        let (_, edition, settings) = self.reading().await?;
        Ok((edition, settings))
    }

    async fn catalogue(&self) -> Result<Arc<Vec<ProductView>>, StoreError> {
        Ok(self.reading().await?.0)
    }

    /// The shop's settings as of the latest reading; while the database cannot be read, the
    /// last ones read (a page about the failure still wears the shop's name).
    ///
    /// Every request asks (`shop_look::attach`), so the answer within the window is a read lock
    /// and a pointer copy; only a request that finds it older reads again.
    pub async fn settings(&self) -> Arc<ShopSettings> {
        if self.ttl.is_zero() {
            return match self.inner.shop_settings().await {
                Ok(settings) => {
                    let settings = Arc::new(settings);
                    self.publish(settings.clone());
                    settings
                }
                Err(_) => self.last_settings(),
            };
        }
        let read_before = {
            let last = self.last_settings.read().unwrap_or_else(|p| p.into_inner());
            if last.0.is_some_and(|at| at.elapsed() < self.ttl) {
                return last.1.clone();
            }
            last.0.is_some()
        };
        // older: one request reads again while the others answer with the last settings, so
        // none waits on a database that is away
        if read_before {
            match self.latest.try_lock() {
                Ok(latest) => drop(latest),
                Err(_) => return self.last_settings(),
            }
        }
        match self.reading().await {
            Ok((_, _, settings)) => settings,
            Err(_) => {
                // the last settings stand for another window: while the database is away, one
                // request a window tries it, not every one
                let mut last = self
                    .last_settings
                    .write()
                    .unwrap_or_else(|p| p.into_inner());
                last.0 = Some(Instant::now());
                last.1.clone()
            }
        }
    }

    /// The settings a reading found, for [`CatalogueCache::settings`].
    fn publish(&self, settings: Arc<ShopSettings>) {
        *self
            .last_settings
            .write()
            .unwrap_or_else(|p| p.into_inner()) = (Some(Instant::now()), settings);
    }

    fn last_settings(&self) -> Arc<ShopSettings> {
        self.last_settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// Forgets the latest reading: the next one goes to the database (after the owner changed
    /// something on this server, so that the owner's next page shows it).
    pub async fn forget(&self) {
        *self.latest.lock().await = None;
        *self.rules.lock().await = None;
        self.last_settings
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .0 = None;
    }

    async fn reading(
        &self,
    ) -> Result<(Arc<Vec<ProductView>>, Edition, Arc<ShopSettings>), StoreError> {
        let mut latest = self.latest.lock().await;
        if let Some(r) = latest.as_ref() {
            if r.at.elapsed() < self.ttl {
                return Ok((r.products.clone(), r.edition, r.settings.clone()));
            }
        }
        let fresh = self.inner.products().await?;
        let settings = self.inner.shop_settings().await?;
        let previous = latest.take();
        let edition = match previous.as_ref() {
            Some(r) if *r.products == fresh && *r.settings == settings => r.edition,
            Some(r) => Edition(r.edition.0 + 1),
            None => Edition(0),
        };
        let settings = match previous {
            Some(r) if *r.settings == settings => r.settings,
            _ => Arc::new(settings),
        };
        let products = Arc::new(fresh);
        self.publish(settings.clone());
        *latest = Some(Reading {
            at: Instant::now(),
            products: products.clone(),
            settings: settings.clone(),
            edition,
        });
        Ok((products, edition, settings))
    }
}

#[async_trait]
impl Store for CatalogueCache {
    async fn products(&self) -> Result<Vec<ProductView>, StoreError> {
        if self.ttl.is_zero() {
            return self.inner.products().await;
        }
        Ok(self.catalogue().await?.as_ref().clone())
    }

    async fn product(&self, key: &ProductKey) -> Result<Option<ProductView>, StoreError> {
        if self.ttl.is_zero() {
            return self.inner.product(key).await;
        }
        let catalogue = self.catalogue().await?;
        Ok(catalogue
            .iter()
            .find(|p| match key {
                ProductKey::Id(id) => p.id == *id,
                ProductKey::Slug(slug) => &p.slug == slug,
            })
            .cloned())
    }

    async fn products_by_ids(&self, ids: &[i64]) -> Result<Vec<ProductView>, StoreError> {
        self.inner.products_by_ids(ids).await
    }

    async fn place_order(&self, order: NewOrder) -> Result<OrderView, CheckoutError> {
        self.inner.place_order(order).await
    }

    async fn order(&self, code: &OrderCode) -> Result<Option<OrderView>, StoreError> {
        self.inner.order(code).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn shop_settings(&self) -> Result<ShopSettings, StoreError> {
        if self.ttl.is_zero() {
            return self.inner.shop_settings().await;
        }
        Ok(self.reading().await?.2.as_ref().clone())
    }

    async fn sale_pay_window(&self, code: &OrderCode) -> Result<Option<i64>, StoreError> {
        self.inner.sale_pay_window(code).await
    }

    /// Read at most once per `ttl` as well: a pause, an archived product or a new limit takes
    /// effect on every server within it.
    async fn checkout_rules(&self) -> Result<CheckoutRules, StoreError> {
        if self.ttl.is_zero() {
            return self.inner.checkout_rules().await;
        }
        let mut latest = self.rules.lock().await;
        if let Some((at, rules)) = latest.as_ref() {
            if at.elapsed() < self.ttl {
                return rules
                    .as_ref()
                    .map(|r| r.as_ref().clone())
                    .map_err(|e| StoreError::busy(e.clone()));
            }
        }
        // orders wait on this read: when the database is away, say so quickly rather than
        // after the pool's patient retries
        let read = match tokio::time::timeout(RULES_READ_LIMIT, self.inner.checkout_rules()).await {
            Ok(Ok(rules)) => Ok(Arc::new(rules)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the checkout rules could not be read in time".to_owned()),
        };
        *latest = Some((Instant::now(), read.clone()));
        read.map(|r| r.as_ref().clone()).map_err(StoreError::busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A named shop whose database goes away when the test says: then every read fails.
    #[derive(Default)]
    struct Outage(std::sync::atomic::AtomicBool);

    impl Outage {
        fn up(&self) -> Result<(), StoreError> {
            if self.0.load(Ordering::SeqCst) {
                Err(StoreError::busy("away"))
            } else {
                Ok(())
            }
        }
    }

    #[async_trait]
    impl Store for Outage {
        async fn products(&self) -> Result<Vec<ProductView>, StoreError> {
            self.up().map(|()| Vec::new())
        }
        async fn product(&self, _: &ProductKey) -> Result<Option<ProductView>, StoreError> {
            Err(StoreError::busy("away"))
        }
        async fn products_by_ids(&self, _: &[i64]) -> Result<Vec<ProductView>, StoreError> {
            Err(StoreError::busy("away"))
        }
        async fn place_order(&self, _: NewOrder) -> Result<OrderView, CheckoutError> {
            Err(StoreError::busy("away").into())
        }
        async fn order(&self, _: &OrderCode) -> Result<Option<OrderView>, StoreError> {
            Err(StoreError::busy("away"))
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Err(StoreError::busy("away"))
        }
        async fn checkout_rules(&self) -> Result<CheckoutRules, StoreError> {
            Err(StoreError::busy("away"))
        }
        async fn shop_settings(&self) -> Result<ShopSettings, StoreError> {
            self.up().map(|()| ShopSettings {
                name: "王姐的小店".into(),
                version: 3,
                ..ShopSettings::default()
            })
        }
        async fn sale_pay_window(&self, _: &OrderCode) -> Result<Option<i64>, StoreError> {
            Err(StoreError::busy("away"))
        }
    }

    /// Counts catalogue reads; the stock it reports goes up by one on every read, unless it is
    /// steady (`Counting(_, true, _)`: the same catalogue every time). Its settings are what the
    /// test puts in the third field.
    #[derive(Default)]
    struct Counting(AtomicUsize, bool, std::sync::Mutex<ShopSettings>);

    #[async_trait]
    impl Store for Counting {
        async fn products(&self) -> Result<Vec<ProductView>, StoreError> {
            let read = self.0.fetch_add(1, Ordering::SeqCst) as i64;
            let n = if self.1 { 0 } else { read };
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(vec![ProductView {
                id: 1,
                slug: "mug".into(),
                name: "Mug".into(),
                description: String::new(),
                price_cents: 100,
                stock: n,
                image_url: String::new(),
                images: Vec::new(),
                flash_sale: false,
                sale: None,
                max_per_order: None,
                texts: Vec::new(),
                paused: false,
            }])
        }
        async fn product(&self, _: &ProductKey) -> Result<Option<ProductView>, StoreError> {
            Err(StoreError::unexpected("the cache should answer"))
        }
        async fn products_by_ids(&self, _: &[i64]) -> Result<Vec<ProductView>, StoreError> {
            Ok(Vec::new())
        }
        async fn place_order(&self, _: NewOrder) -> Result<OrderView, CheckoutError> {
            Err(CheckoutError::KeyReused)
        }
        async fn order(&self, _: &OrderCode) -> Result<Option<OrderView>, StoreError> {
            Ok(None)
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }
        async fn checkout_rules(&self) -> Result<CheckoutRules, StoreError> {
            Ok(CheckoutRules::default())
        }
        async fn shop_settings(&self) -> Result<ShopSettings, StoreError> {
            Ok(self.2.lock().map(|s| s.clone()).unwrap_or_default())
        }
        async fn sale_pay_window(&self, _: &OrderCode) -> Result<Option<i64>, StoreError> {
            Ok(None)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_simultaneous_page_views_read_the_database_once() {
        let inner = Arc::new(Counting::default());
        let cache = Arc::new(CatalogueCache::new(inner.clone(), Duration::from_secs(60)));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..1000 {
            let cache = cache.clone();
            set.spawn(async move {
                if i % 2 == 0 {
                    cache.products().await.map(|p| p.len())
                } else {
                    cache
                        .product(&ProductKey::Slug("mug".into()))
                        .await
                        .map(|p| usize::from(p.is_some()))
                }
            });
        }
        while let Some(r) = set.join_next().await {
            assert_eq!(r.ok().and_then(Result::ok), Some(1));
        }
        assert_eq!(inner.0.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_catalogue_is_refreshed_once_it_is_older_than_the_ttl() {
        let inner = Arc::new(Counting::default());
        let cache = CatalogueCache::new(inner.clone(), Duration::from_millis(30));
        let stock = |r: Result<Vec<ProductView>, StoreError>| {
            r.ok().and_then(|p| p.first().map(|p| p.stock))
        };
        assert_eq!(stock(cache.products().await), Some(0));
        assert_eq!(stock(cache.products().await), Some(0), "still fresh");
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(stock(cache.products().await), Some(1), "refreshed");
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_edition_changes_only_when_a_reading_differs() -> Result<(), StoreError> {
        let inner = Arc::new(Counting::default());
        let cache = CatalogueCache::new(inner.clone(), Duration::from_millis(20));
        let first = cache.edition().await?;
        assert_eq!(cache.edition().await?, first, "the same reading");
        tokio::time::sleep(Duration::from_millis(30)).await;
        // Counting reports one more unit on every read: a different catalogue
        let second = cache.edition().await?;
        assert_ne!(second, first);

        let steady = Arc::new(Counting(AtomicUsize::new(0), true, Default::default()));
        let cache = CatalogueCache::new(steady.clone(), Duration::from_millis(10));
        let first = cache.edition().await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            cache.edition().await?,
            first,
            "read again, but nothing changed"
        );

        // the owner changes a setting: the same catalogue, a new edition with the new settings
        if let Ok(mut settings) = steady.2.lock() {
            settings.currency = app::domain::Currency::Usd;
            settings.version = 2;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (third, settings) = cache.edition_and_settings().await?;
        assert_ne!(third, first);
        assert_eq!(settings.currency, app::domain::Currency::Usd);
        assert_eq!(cache.settings().await.currency, app::domain::Currency::Usd);
        Ok(())
    }

    #[tokio::test]
    async fn while_the_database_is_away_pages_keep_the_last_settings() {
        let store = Arc::new(Outage::default());
        store.0.store(true, Ordering::SeqCst);
        let cache = CatalogueCache::new(store.clone(), Duration::from_millis(10));
        assert_eq!(
            cache.settings().await.version,
            0,
            "never read: the defaults"
        );
        // a failed reading stands for its window: the next one tries again
        store.0.store(false, Ordering::SeqCst);
        assert_eq!(cache.settings().await.version, 0, "within the window");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(cache.settings().await.name, "王姐的小店");
        store.0.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(cache.edition().await.is_err(), "the database is away");
        assert_eq!(
            cache.settings().await.name,
            "王姐的小店",
            "the last ones read"
        );
    }

    #[tokio::test]
    async fn a_zero_ttl_reads_through() {
        let inner = Arc::new(Counting::default());
        let cache = CatalogueCache::new(inner.clone(), Duration::ZERO);
        for _ in 0..3 {
            assert!(cache.products().await.is_ok());
        }
        assert_eq!(inner.0.load(Ordering::SeqCst), 3);
    }
}
