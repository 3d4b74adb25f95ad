//! The second shop: the server binary run as a child process on the copy, on a loopback port of
//! its own, with the live shop's settings (it inherits the environment) except where it keeps its
//! data, that its `/metrics` are on a loopback port of their own (read once at the end), and that it trusts the crowd's `X-Forwarded-For` (each
//! simulated phone has its own address, so the per-client limits apply as they would). Killed
//! when dropped.

use crate::load::process;
use anyhow::Context;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SecondShop {
    child: Child,
    pub base: String,
    /// Its `/metrics`, on a loopback port of its own.
    pub metrics: String,
}

impl SecondShop {
    /// Starts `server` with `data_dir` and the copy (in `data_dir` on SQLite; at `database_url`
    /// on Postgres), and waits until it serves.
    pub fn start(
        server: &Path,
        data_dir: &Path,
        database_url: Option<&str>,
    ) -> anyhow::Result<SecondShop> {
        let mut command = Command::new(server);
        match database_url {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        let mut child = command
            .env("HOLDFAST_ADDR", "127.0.0.1:0")
            .env("HOLDFAST_DATA_DIR", data_dir)
            .env_remove("HOLDFAST_SECRET")
            .env_remove("HOLDFAST_LOG_FORMAT")
            .env("HOLDFAST_SEED_DEMO", "false")
            .env("HOLDFAST_METRICS_ADDR", "127.0.0.1:0")
            .env_remove("HOLDFAST_METRICS_TOKEN")
            .env("HOLDFAST_TRUST_PROXY", "true")
            .env("RUST_LOG", "warn,server::startup=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", server.display()))?;
        let stdout = child.stdout.take();
        // from here a failure kills it (drop)
        let mut shop = SecondShop {
            child,
            base: String::new(),
            metrics: String::new(),
        };
        let stdout = stdout.context("no output from the second shop")?;
        let said = process::announced(
            stdout,
            Duration::from_secs(60),
            &["serving on ", "metrics on "],
        )?;
        if let [base, metrics] = said.as_slice() {
            shop.base = base.clone();
            shop.metrics = metrics.clone();
        }
        Ok(shop)
    }

    /// (resident now, peak resident) in MiB.
    pub fn memory_mib(&self) -> (f64, f64) {
        process::memory_mib(self.child.id())
    }

    /// CPU seconds it has used.
    pub fn cpu_secs(&self) -> f64 {
        process::cpu_secs(self.child.id())
    }
}

impl Drop for SecondShop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
