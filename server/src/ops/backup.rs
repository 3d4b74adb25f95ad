//! `server backup <file>`: a consistent copy of the live shop database, taken with SQLite's online
//! backup API while the shop keeps serving (in WAL mode the copy reads one snapshot and never
//! blocks the writer). The copy is checked (`PRAGMA integrity_check`), flushed to disk, and only
//! then renamed into place, so a half-written backup never carries the final name. It is
//! readable by the shop's user alone, like the database.

use anyhow::{bail, Context};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct BackupReport {
    pub pages: i32,
    pub bytes: u64,
    pub orders: i64,
}

/// Copies the database at `source` to `dest` (which must not exist yet).
pub fn backup(source: &Path, dest: &Path) -> anyhow::Result<BackupReport> {
    if dest.exists() {
        bail!("{} already exists: choose a new file name", dest.display());
    }
    let partial = partial_name(dest);
    let _ = std::fs::remove_file(&partial);
    let result = copy(source, &partial);
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    let (pages, orders) = result?;
    std::fs::rename(&partial, dest)
        .with_context(|| format!("cannot move the backup to {}", dest.display()))?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        // make the rename itself durable
        std::fs::File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    let bytes = std::fs::metadata(dest)?.len();
    Ok(BackupReport {
        pages,
        bytes,
        orders,
    })
}

fn partial_name(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn copy(source: &Path, partial: &Path) -> anyhow::Result<(i32, i64)> {
    if !source.exists() {
        bail!("there is no database at {}", source.display());
    }
    let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", source.display()))?;
    src.busy_timeout(std::time::Duration::from_secs(10))?;
    // the copy holds what the database holds: its owner's alone from its first byte (SQLite
    // then writes into the empty file, and gives its journal the same permissions)
    crate::ops::private_files::write_private(partial, "")
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut dst = Connection::open(partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let pages = {
        let backup = Backup::new(&src, &mut dst)?;
        // all pages in one step: one read snapshot, so the copy is consistent
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                _ => {}
            }
        }
        backup.progress().pagecount
    };
    let check: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        bail!("the copy failed its integrity check: {check}");
    }
    let orders: i64 = dst.query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0))?;
    // a backup is a single self-contained file
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    drop(dst);
    std::fs::File::open(partial)?.sync_all()?;
    Ok((pages, orders))
}
