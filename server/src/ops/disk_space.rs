//! The data directory's free space (the SQLite database, its journal, the owner's pictures):
//! read every 10 s and at each `/metrics` scrape. Below `HOLDFAST_DISK_WARN_MB` the log says so
//! once, and once again when there is room again — a full disk writes no line per failed batch.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct DiskSpace {
    dir: PathBuf,
    warn_below: u64,
    /// Bytes free for the shop at the last reading (`u64::MAX`: not read yet, or unreadable).
    free: AtomicU64,
    low: AtomicBool,
}

impl DiskSpace {
    /// Watches `dir`, warning below `warn_below` bytes free; reads it now and every 10 s.
    pub fn start(dir: PathBuf, warn_below: u64) -> Arc<DiskSpace> {
        let space = Arc::new(DiskSpace {
            dir,
            warn_below,
            free: AtomicU64::new(u64::MAX),
            low: AtomicBool::new(false),
        });
        space.read_now();
        let weak = Arc::downgrade(&space);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(space) = weak.upgrade() else { break };
                space.read_now();
            }
        });
        space
    }

    /// Reads the free space now; logs a change between enough and too little.
    pub fn read_now(&self) -> Option<u64> {
        let free = match free_bytes(&self.dir) {
            Ok(free) => free,
            Err(e) => {
                tracing::debug!(error = %e, dir = %self.dir.display(), "free space not read");
                return None;
            }
        };
        self.free.store(free, Ordering::Relaxed);
        let low = free < self.warn_below;
        if self.low.swap(low, Ordering::Relaxed) != low {
            let mib = free / (1024 * 1024);
            if low {
                tracing::warn!(
                    free_mib = mib,
                    warn_below_mib = self.warn_below / (1024 * 1024),
                    dir = %self.dir.display(),
                    "the data directory's disk is nearly full: orders fail when it is"
                );
            } else {
                tracing::warn!(free_mib = mib, "the data directory's disk has room again");
            }
        }
        Some(free)
    }

    /// Bytes free at the last reading, if it could be read.
    pub fn free(&self) -> Option<u64> {
        match self.free.load(Ordering::Relaxed) {
            u64::MAX => None,
            free => Some(free),
        }
    }

    /// Whether the last reading was below the warning threshold.
    pub fn low(&self) -> bool {
        self.low.load(Ordering::Relaxed)
    }

    /// The warning threshold, in bytes.
    pub fn warn_below(&self) -> u64 {
        self.warn_below
    }
}

#[cfg(unix)]
fn free_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(dir)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(not(unix))]
fn free_bytes(_: &std::path::Path) -> std::io::Result<u64> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "free space is read on Unix only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_directory_has_free_space_and_a_threshold_above_it_is_low() {
        let dir = std::env::temp_dir();
        let roomy = DiskSpace::start(dir.clone(), 1);
        assert!(roomy.free().is_some_and(|f| f > 1));
        assert!(!roomy.low());
        let tight = DiskSpace::start(dir, u64::MAX - 1);
        assert!(tight.low());
        let gone = DiskSpace::start(PathBuf::from("/no/such/holdfast/dir"), 1);
        assert_eq!(gone.free(), None);
        assert!(!gone.low());
    }
}
