//! Typed configuration: defaults, overridden by `HOLDFAST_…` environment variables (and the
//! `LEPTOS_…` ones cargo-leptos sets).

use anyhow::{bail, Context};
use leptos::config::LeptosOptions;
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
    pub database_url: Option<String>,
    /// Fill an empty database with the demo catalogue (`HOLDFAST_SEED_DEMO`, default true).
    pub seed_demo: bool,
    /// Orders being placed at once before new ones are told to retry (`HOLDFAST_MAX_ORDERS_IN_FLIGHT`).
    pub max_orders_in_flight: usize,
    /// How stale the catalogue on listing and product pages may be (`HOLDFAST_CATALOGUE_CACHE_MS`,
    /// default 250; 0 turns the cache off). Checkout always sees live stock.
    pub catalogue_cache: Duration,
    /// Mark cookies `Secure` (`HOLDFAST_SECURE_COOKIES`; set it when served over HTTPS).
    pub secure_cookies: bool,
    /// The built site (`LEPTOS_SITE_ROOT`, default `target/site`).
    pub site_root: String,
    /// The name of the wasm/js/css bundle (`LEPTOS_OUTPUT_NAME`, default `holdfast`).
    pub output_name: String,
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
            None => 512,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| {
                    format!("HOLDFAST_MAX_ORDERS_IN_FLIGHT must be a positive number, got {v:?}")
                })?,
        };
        let catalogue_cache_ms = match get("HOLDFAST_CATALOGUE_CACHE_MS") {
            None => 250,
            Some(v) => v.parse::<u64>().with_context(|| {
                format!("HOLDFAST_CATALOGUE_CACHE_MS must be a number of milliseconds, got {v:?}")
            })?,
        };
        Ok(Config {
            addr,
            catalogue_cache: Duration::from_millis(catalogue_cache_ms),
            data_dir: get("HOLDFAST_DATA_DIR")
                .unwrap_or_else(|| "data".to_owned())
                .into(),
            database_url: get("DATABASE_URL").filter(|u| !u.is_empty()),
            seed_demo: parse_bool(get("HOLDFAST_SEED_DEMO"), true, "HOLDFAST_SEED_DEMO")?,
            max_orders_in_flight,
            secure_cookies: parse_bool(
                get("HOLDFAST_SECURE_COOKIES"),
                false,
                "HOLDFAST_SECURE_COOKIES",
            )?,
            site_root: get("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".to_owned()),
            output_name: get("LEPTOS_OUTPUT_NAME")
                .or_else(|| option_env!("LEPTOS_OUTPUT_NAME").map(str::to_owned))
                .unwrap_or_else(|| "holdfast".to_owned()),
        })
    }

    /// The database to use: `DATABASE_URL`, or the embedded SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("holdfast.db").display()),
        }
    }

    pub fn leptos_options(&self) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name(self.output_name.clone())
            .site_root(self.site_root.clone())
            .site_pkg_dir("pkg")
            .site_addr(self.addr)
            .build()
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
        ])?;
        assert_eq!(c.addr.port(), 8080);
        assert_eq!(c.database_url(), "sqlite:///var/lib/holdfast/holdfast.db");
        assert!(!c.seed_demo);
        assert_eq!(c.max_orders_in_flight, 64);
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
        assert!(config(&[("HOLDFAST_CATALOGUE_CACHE_MS", "soon")]).is_err());
    }
}
