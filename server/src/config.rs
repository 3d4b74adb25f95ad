//! Typed configuration: defaults, overridden by `HOLDFAST_…` environment variables (and the
//! `LEPTOS_…` ones cargo-leptos sets).

use anyhow::{bail, Context};
use leptos::config::LeptosOptions;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`HOLDFAST_ADDR`, else `LEPTOS_SITE_ADDR`, else 127.0.0.1:3000).
    pub addr: SocketAddr,
    /// Where the shop keeps its data (`HOLDFAST_DATA_DIR`, default `data`).
    pub data_dir: PathBuf,
    /// `DATABASE_URL`; default: the SQLite file `holdfast.db` in the data dir.
    pub database_url: Option<SecretString>,
    /// Fill an empty database with the demo catalogue (`HOLDFAST_SEED_DEMO`, default true).
    pub seed_demo: bool,
    /// Where the desk, the reads, the usher and the expiry read the time: the system clock; a
    /// test sets its own (not from the environment).
    pub clock: app::rules::Clock,
    /// Orders being placed at once, at most, however fast the desk goes
    /// (`HOLDFAST_MAX_ORDERS_IN_FLIGHT`, default 4096).
    pub max_orders_in_flight: usize,
    /// The longest a shopper should wait for her order's answer: beyond it, at the desk's
    /// measured pace, new orders are told to retry (`HOLDFAST_ORDER_WAIT_MS`, default 2000).
    pub order_wait_budget: Duration,
    /// How stale the catalogue on listing and product pages may be (`HOLDFAST_CATALOGUE_CACHE_MS`,
    /// default 250; 0 turns the cache off). Checkout always sees live stock.
    pub catalogue_cache: Duration,
    /// Keep the catalogue and product pages rendered, one per edition of the catalogue
    /// (`HOLDFAST_PAGE_CACHE`, default on; needs a non-zero catalogue cache).
    pub page_cache: bool,
    /// Mark cookies `Secure` (`HOLDFAST_SECURE_COOKIES`; set it when served over HTTPS).
    pub secure_cookies: bool,
    /// The shop's address as shoppers reach it (`HOLDFAST_PUBLIC_URL`, e.g.
    /// `https://shop.example`): shared links' cards point there and show pictures from there.
    /// Unset, the cards name no picture or link (nothing takes them from a request's `Host`).
    pub public_url: Option<app::domain::PublicUrl>,
    /// The key that signs waiting-room tickets and holds (`HOLDFAST_SECRET`, at least 32
    /// characters; default: a random key kept in `secret.key` in the data dir). Every server of
    /// one shop must share it.
    pub secret: Option<SecretString>,
    /// How often the waiting room admits the next in line and expires holds
    /// (`HOLDFAST_QUEUE_TICK_MS`, default 250).
    pub queue_tick: Duration,
    /// Requests per second one client may make to the order and waiting-room endpoints, with
    /// a burst of ten times that (`HOLDFAST_RATE_LIMIT_PER_SEC`, default 5; 0 turns it off).
    pub rate_limit_per_sec: u32,
    /// Take the client's address from the last `X-Forwarded-For` entry (`HOLDFAST_TRUST_PROXY`;
    /// set it only behind a reverse proxy that sets that header).
    pub trust_proxy: bool,
    /// Orders still awaiting payment this long after they were placed are cancelled and their
    /// units restocked (`HOLDFAST_UNPAID_EXPIRY_MINUTES`, default 1440 = a day; 0 never).
    pub unpaid_expiry: Option<Duration>,
    /// How often the expiry task looks (`HOLDFAST_EXPIRY_CHECK_SECS`, default 60).
    pub expiry_check: Duration,
    /// The built site (`LEPTOS_SITE_ROOT`, default `target/site`).
    pub site_root: String,
    /// The name of the wasm/js/css bundle (`LEPTOS_OUTPUT_NAME`, default `holdfast`).
    pub output_name: String,
    /// Whether the bundles' names carry their hashes (`hash.txt` beside the binary).
    pub hashed_bundles: bool,
    /// How long a client may take to send a request's headers, and how long a connection may
    /// wait idle for its next request (`HOLDFAST_HEADER_TIMEOUT_SECS`, default 30).
    pub header_timeout: Duration,
    /// How long any request's body may take to arrive (`HOLDFAST_BODY_TIMEOUT_SECS`, default
    /// 30), plus a second for every 2 KiB it delivers ([`crate::edge::body`]). Beyond it: 408.
    pub body_timeout: Duration,
    /// Connections open at once (`HOLDFAST_MAX_CONNECTIONS`, default 20,000, ~20 KiB each);
    /// beyond it a new connection gets a one-line 503 and is closed, and those open are served.
    pub max_connections: usize,
    /// Of them, held by one client address (an IPv6 client by its /64)
    /// (`HOLDFAST_MAX_CONNECTIONS_PER_CLIENT`, default 1,000): beyond it a new one gets a
    /// one-line 429 and is closed. A phone keeps one to six connections open, so a carrier's
    /// shared address carries a few hundred shoppers at once, while one machine can take at
    /// most 5 % of the default 20,000 slots. Not applied behind a trusted proxy.
    pub max_connections_per_client: usize,
    /// Shoppers' pages listening live at once (`HOLDFAST_MAX_LIVE`, default 10,000): beyond it
    /// a page is told to ask every few seconds instead (`GET /live/products`, 204).
    pub max_live: usize,
    /// Of them, from one client (`HOLDFAST_MAX_LIVE_PER_CLIENT`, default 100: phones behind one
    /// carrier's shared address count as one client); beyond it, the same: asked every few
    /// seconds, not refused. One stranger cannot take every live place.
    pub max_live_per_client: usize,
    /// Order lookups (status page, order page, their API) one client may make a minute
    /// (`HOLDFAST_LOOKUPS_PER_MIN`, default 60); one order code may be looked up 20 times a
    /// minute by anyone.
    pub lookups_per_min: u32,
    /// Passwords checked a second for owner logins from devices she has not logged in from
    /// before (`HOLDFAST_LOGIN_HASHES_PER_SEC`, default 4, twice that at once): a flood of
    /// strangers' logins costs at most this much hashing; beyond it, 503 from memory.
    pub login_hashes_per_sec: u32,
    /// Where `/metrics` is served (`HOLDFAST_METRICS_ADDR`, default 127.0.0.1:9100; `off`: not
    /// at all). Never on the shop's own address.
    pub metrics_addr: Option<SocketAddr>,
    /// The bearer token a scrape of `/metrics` must carry (`HOLDFAST_METRICS_TOKEN`, at least 16
    /// characters); needed when the metrics address is not a loopback one.
    pub metrics_token: Option<SecretString>,
    /// Below this many bytes free on the data directory's disk the log, `/metrics` and the
    /// control room warn (`HOLDFAST_DISK_WARN_MB`, default 500; 0: never).
    pub disk_warn_bytes: u64,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        Config::from_lookup(|key| std::env::var(key).ok())
    }

    /// Builds the configuration from any key → value lookup (the environment, or a test's map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let addr = get("HOLDFAST_ADDR")
            .or_else(|| get("LEPTOS_SITE_ADDR"))
            .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
        let addr: SocketAddr = addr
            .parse()
            .with_context(|| format!("HOLDFAST_ADDR must be host:port, got {addr:?}"))?;
        let max_orders_in_flight = match get("HOLDFAST_MAX_ORDERS_IN_FLIGHT") {
            None => 4096,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| {
                    format!("HOLDFAST_MAX_ORDERS_IN_FLIGHT must be a positive number, got {v:?}")
                })?,
        };
        let order_wait_ms = match get("HOLDFAST_ORDER_WAIT_MS") {
            None => 2000,
            Some(v) => v.parse::<u64>().ok().filter(|ms| *ms > 0).with_context(|| {
                format!("HOLDFAST_ORDER_WAIT_MS must be a positive number of milliseconds, got {v:?}")
            })?,
        };
        let catalogue_cache_ms = match get("HOLDFAST_CATALOGUE_CACHE_MS") {
            None => 250,
            Some(v) => v.parse::<u64>().with_context(|| {
                format!("HOLDFAST_CATALOGUE_CACHE_MS must be a number of milliseconds, got {v:?}")
            })?,
        };
        let queue_tick_ms = match get("HOLDFAST_QUEUE_TICK_MS") {
            None => 250,
            Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).with_context(|| {
                format!(
                    "HOLDFAST_QUEUE_TICK_MS must be a positive number of milliseconds, got {v:?}"
                )
            })?,
        };
        let rate_limit_per_sec = match get("HOLDFAST_RATE_LIMIT_PER_SEC") {
            None => 5,
            Some(v) => v.parse::<u32>().with_context(|| {
                format!("HOLDFAST_RATE_LIMIT_PER_SEC must be a whole number, got {v:?}")
            })?,
        };
        let unpaid_expiry_minutes = match get("HOLDFAST_UNPAID_EXPIRY_MINUTES") {
            None => 1440,
            Some(v) => v.parse::<u64>().with_context(|| {
                format!(
                    "HOLDFAST_UNPAID_EXPIRY_MINUTES must be a whole number of minutes, got {v:?}"
                )
            })?,
        };
        let expiry_check_secs = match get("HOLDFAST_EXPIRY_CHECK_SECS") {
            None => 60,
            Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).with_context(|| {
                format!(
                    "HOLDFAST_EXPIRY_CHECK_SECS must be a positive number of seconds, got {v:?}"
                )
            })?,
        };
        let header_timeout = positive(&get, "HOLDFAST_HEADER_TIMEOUT_SECS", 30, "seconds")?;
        let body_timeout = positive(&get, "HOLDFAST_BODY_TIMEOUT_SECS", 30, "seconds")?;
        let max_connections = positive(&get, "HOLDFAST_MAX_CONNECTIONS", 20_000, "connections")?;
        let max_connections_per_client = positive(
            &get,
            "HOLDFAST_MAX_CONNECTIONS_PER_CLIENT",
            1_000,
            "connections",
        )?;
        let max_live = positive(&get, "HOLDFAST_MAX_LIVE", 10_000, "live pages")?;
        let max_live_per_client =
            positive(&get, "HOLDFAST_MAX_LIVE_PER_CLIENT", 100, "live pages")?;
        let lookups_per_min = positive(&get, "HOLDFAST_LOOKUPS_PER_MIN", 60, "lookups")?;
        let login_hashes_per_sec = positive(
            &get,
            "HOLDFAST_LOGIN_HASHES_PER_SEC",
            u64::from(crate::admin::login::STRANGER_HASHES_PER_SEC),
            "passwords a second",
        )?;
        let (metrics_addr, metrics_token) = metrics(&get, addr)?;
        let disk_warn_mb = match get("HOLDFAST_DISK_WARN_MB") {
            None => 500,
            Some(v) => v.trim().parse::<u64>().with_context(|| {
                format!("HOLDFAST_DISK_WARN_MB must be a whole number of MiB, got {v:?}")
            })?,
        };
        let secret = get("HOLDFAST_SECRET").filter(|s| !s.is_empty());
        if secret.as_ref().is_some_and(|s| s.len() < 32) {
            bail!("HOLDFAST_SECRET must be at least 32 characters");
        }
        let secret = secret.map(SecretString::from);
        Ok(Config {
            addr,
            secret,
            metrics_addr,
            metrics_token,
            disk_warn_bytes: disk_warn_mb.saturating_mul(1024 * 1024),
            header_timeout: Duration::from_secs(header_timeout),
            body_timeout: Duration::from_secs(body_timeout),
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            max_connections_per_client: usize::try_from(max_connections_per_client)
                .unwrap_or(usize::MAX),
            max_live: usize::try_from(max_live).unwrap_or(usize::MAX),
            max_live_per_client: usize::try_from(max_live_per_client).unwrap_or(usize::MAX),
            lookups_per_min: u32::try_from(lookups_per_min).unwrap_or(u32::MAX),
            login_hashes_per_sec: u32::try_from(login_hashes_per_sec).unwrap_or(u32::MAX),
            queue_tick: Duration::from_millis(queue_tick_ms),
            unpaid_expiry: (unpaid_expiry_minutes > 0)
                .then(|| Duration::from_secs(unpaid_expiry_minutes.saturating_mul(60))),
            expiry_check: Duration::from_secs(expiry_check_secs),
            rate_limit_per_sec,
            trust_proxy: parse_bool(get("HOLDFAST_TRUST_PROXY"), false, "HOLDFAST_TRUST_PROXY")?,
            catalogue_cache: Duration::from_millis(catalogue_cache_ms),
            page_cache: parse_bool(get("HOLDFAST_PAGE_CACHE"), true, "HOLDFAST_PAGE_CACHE")?,
            data_dir: get("HOLDFAST_DATA_DIR")
                .unwrap_or_else(|| "data".to_owned())
                .into(),
            // a Postgres URL can carry its password
            database_url: get("DATABASE_URL")
                .filter(|u| !u.is_empty())
                .map(SecretString::from),
            seed_demo: parse_bool(get("HOLDFAST_SEED_DEMO"), true, "HOLDFAST_SEED_DEMO")?,
            clock: app::rules::Clock::system(),
            max_orders_in_flight,
            order_wait_budget: Duration::from_millis(order_wait_ms),
            secure_cookies: parse_bool(
                get("HOLDFAST_SECURE_COOKIES"),
                false,
                "HOLDFAST_SECURE_COOKIES",
            )?,
            public_url: match get("HOLDFAST_PUBLIC_URL").filter(|u| !u.trim().is_empty()) {
                None => None,
                Some(text) => Some(app::domain::PublicUrl::parse(&text).with_context(|| {
                    format!(
                        "HOLDFAST_PUBLIC_URL must be the shop's address as shoppers reach it, \
                         http(s)://host[:port] without a path (it is {text:?})"
                    )
                })?),
            },
            site_root: get("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".to_owned()),
            hashed_bundles: bundle_hashes_beside_binary(),
            output_name: get("LEPTOS_OUTPUT_NAME")
                .or_else(|| option_env!("LEPTOS_OUTPUT_NAME").map(str::to_owned))
                .unwrap_or_else(|| "holdfast".to_owned()),
        })
    }

    /// The database to use: `DATABASE_URL`, or the embedded SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose_secret().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("holdfast.db").display()),
        }
    }

    /// Opens (and migrates) the shop's database for the owner's command-line tools and the
    /// rehearsal, without seeding or serving.
    pub async fn database_for_tools(&self) -> anyhow::Result<crate::store::sql::Db> {
        if self.database_url.is_none() {
            std::fs::create_dir_all(&self.data_dir)?;
        }
        let backend =
            crate::store::backend::Backend::open(&self.database_url(), self.clock.clone(), false)
                .await?;
        Ok(backend.db())
    }

    /// The SQLite file in use, if the shop runs on SQLite.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        crate::store::sqlite::path_of(&self.database_url()).map(Into::into)
    }

    /// The signing key: `HOLDFAST_SECRET`, else the data dir's `secret.key`, made on first start.
    pub fn signing_key(&self) -> anyhow::Result<Vec<u8>> {
        if let Some(secret) = &self.secret {
            return Ok(secret.expose_secret().as_bytes().to_vec());
        }
        let path = self.data_dir.join("secret.key");
        match std::fs::read_to_string(&path) {
            Ok(key) if key.trim().len() >= 32 => return Ok(key.trim().as_bytes().to_vec()),
            Ok(_) => bail!(
                "{} is too short: delete it to make a new one",
                path.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
        let key = hex::encode(rand::random::<[u8; 32]>());
        crate::ops::private_files::write_private(&path, &key)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(key.into_bytes())
    }

    pub fn leptos_options(&self) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name(self.output_name.clone())
            .site_root(self.site_root.clone())
            .site_pkg_dir("pkg")
            .site_addr(self.addr)
            .hash_files(self.hashed_bundles)
            .build()
    }
}

/// Whether `cargo leptos build` named the bundles by their hashes: it then writes their hashes
/// to `hash.txt` beside the server binary, where Leptos reads them to name the files in pages.
fn bundle_hashes_beside_binary() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(BUNDLE_HASHES)))
        .is_some_and(|file| file.is_file())
}

/// The file `hash-files` writes (Leptos' default name).
const BUNDLE_HASHES: &str = "hash.txt";

/// `/metrics`' address and token: off, or an address other than the shop's; a token of at
/// least 16 characters if any; an address others can reach only with a token.
fn metrics(
    get: &impl Fn(&str) -> Option<String>,
    shop: SocketAddr,
) -> anyhow::Result<(Option<SocketAddr>, Option<SecretString>)> {
    let token = get("HOLDFAST_METRICS_TOKEN").filter(|t| !t.trim().is_empty());
    if token.as_ref().is_some_and(|t| t.trim().len() < 16) {
        bail!("HOLDFAST_METRICS_TOKEN must be at least 16 characters");
    }
    let addr = match get("HOLDFAST_METRICS_ADDR").as_deref().map(str::trim) {
        None | Some("") => Some(SocketAddr::from(([127, 0, 0, 1], 9100))),
        Some("off") => None,
        Some(v) => Some(v.parse::<SocketAddr>().with_context(|| {
            format!("HOLDFAST_METRICS_ADDR must be host:port or off, got {v:?}")
        })?),
    };
    if let Some(addr) = addr {
        if addr.port() != 0 && addr.port() == shop.port() {
            bail!("HOLDFAST_METRICS_ADDR must differ from the shop's port ({addr}): metrics are not for shoppers");
        }
        if !addr.ip().is_loopback() && token.is_none() {
            bail!("HOLDFAST_METRICS_ADDR {addr} is reachable from other machines: set HOLDFAST_METRICS_TOKEN too");
        }
    }
    Ok((addr, token.map(|t| SecretString::from(t.trim()))))
}

/// A positive whole number from `key`, or `default` when unset.
fn positive(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: u64,
    unit: &str,
) -> anyhow::Result<u64> {
    match get(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("{key} must be a positive number of {unit}, got {v:?}")),
    }
}

fn parse_bool(value: Option<String>, default: bool, key: &str) -> anyhow::Result<bool> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => bail!("{key} must be true or false, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_run_an_embedded_shop_on_port_3000() -> anyhow::Result<()> {
        let c = config(&[])?;
        assert_eq!(c.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url(), "sqlite://data/holdfast.db");
        assert!(c.seed_demo);
        Ok(())
    }

    #[test]
    fn environment_overrides_the_defaults() -> anyhow::Result<()> {
        let c = config(&[
            ("HOLDFAST_ADDR", "127.0.0.1:8080"),
            ("HOLDFAST_DATA_DIR", "/var/lib/holdfast"),
            ("HOLDFAST_SEED_DEMO", "false"),
            ("HOLDFAST_MAX_ORDERS_IN_FLIGHT", "64"),
            ("HOLDFAST_ORDER_WAIT_MS", "500"),
        ])?;
        assert_eq!(c.addr.port(), 8080);
        assert_eq!(c.database_url(), "sqlite:///var/lib/holdfast/holdfast.db");
        assert!(!c.seed_demo);
        assert_eq!(c.max_orders_in_flight, 64);
        assert_eq!(c.order_wait_budget, Duration::from_millis(500));
        let c = config(&[("HOLDFAST_CATALOGUE_CACHE_MS", "0")])?;
        assert!(c.catalogue_cache.is_zero());
        Ok(())
    }

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        let e = config(&[("HOLDFAST_ADDR", "nowhere")])
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("HOLDFAST_ADDR"));
        assert!(config(&[("HOLDFAST_SEED_DEMO", "maybe")]).is_err());
        assert!(config(&[("HOLDFAST_MAX_ORDERS_IN_FLIGHT", "0")]).is_err());
        assert!(config(&[("HOLDFAST_ORDER_WAIT_MS", "0")]).is_err());
        assert!(config(&[("HOLDFAST_CATALOGUE_CACHE_MS", "soon")]).is_err());
        let e = config(&[("HOLDFAST_MAX_CONNECTIONS", "0")]).err();
        assert!(e.is_some_and(|e| e.to_string().contains("HOLDFAST_MAX_CONNECTIONS")));
        assert!(config(&[("HOLDFAST_HEADER_TIMEOUT_SECS", "-1")]).is_err());
        let e = config(&[("HOLDFAST_PUBLIC_URL", "https://shop.example/shop")]).err();
        assert!(e.is_some_and(|e| format!("{e:#}").contains("HOLDFAST_PUBLIC_URL")));
    }

    #[test]
    fn the_public_address_is_the_operators_or_none() -> anyhow::Result<()> {
        assert_eq!(config(&[])?.public_url, None);
        let c = config(&[("HOLDFAST_PUBLIC_URL", "https://Shop.Example/")])?;
        assert_eq!(
            c.public_url.map(|u| u.to_string()).as_deref(),
            Some("https://shop.example")
        );
        Ok(())
    }

    #[test]
    fn metrics_are_on_loopback_by_default_and_need_a_token_elsewhere() -> anyhow::Result<()> {
        let c = config(&[])?;
        assert_eq!(
            c.metrics_addr.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:9100")
        );
        assert!(c.metrics_token.is_none());
        assert_eq!(
            config(&[("HOLDFAST_METRICS_ADDR", "off")])?.metrics_addr,
            None
        );
        let open = config(&[("HOLDFAST_METRICS_ADDR", "0.0.0.0:9100")]).err();
        assert!(open.is_some_and(|e| e.to_string().contains("HOLDFAST_METRICS_TOKEN")));
        let c = config(&[
            ("HOLDFAST_METRICS_ADDR", "0.0.0.0:9100"),
            ("HOLDFAST_METRICS_TOKEN", "a-long-enough-token"),
        ])?;
        assert_eq!(
            c.metrics_token.as_ref().map(ExposeSecret::expose_secret),
            Some("a-long-enough-token")
        );
        assert!(config(&[("HOLDFAST_METRICS_TOKEN", "short")]).is_err());
        assert!(config(&[("HOLDFAST_METRICS_ADDR", "somewhere")]).is_err());
        let same = config(&[
            ("HOLDFAST_ADDR", "127.0.0.1:8080"),
            ("HOLDFAST_METRICS_ADDR", "127.0.0.1:8080"),
        ]);
        assert!(same.is_err(), "never on the shop's own port");
        Ok(())
    }

    #[test]
    fn secrets_are_not_shown_by_debug() -> anyhow::Result<()> {
        let c = config(&[
            ("HOLDFAST_SECRET", "the-shops-signing-key-0123456789abcdef"),
            ("HOLDFAST_METRICS_TOKEN", "the-metrics-bearer-token"),
            (
                "DATABASE_URL",
                "postgres://shop:the-db-password@10.0.0.5/shop",
            ),
        ])?;
        let shown = format!("{c:?}");
        for secret in [
            "the-shops-signing-key",
            "the-metrics-bearer-token",
            "the-db-password",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert_eq!(
            c.signing_key()?,
            b"the-shops-signing-key-0123456789abcdef".to_vec()
        );
        assert_eq!(
            c.database_url(),
            "postgres://shop:the-db-password@10.0.0.5/shop"
        );
        Ok(())
    }
}
