//! The shop's files are for the shop's user alone: its database holds customers' names, phones
//! and addresses and the owners' password hashes, its data directory the key that signs tickets
//! and cookies. Everything the shop creates is made without group or other permissions (the
//! process's umask is 077 from its start), and at start the data directory and what is already
//! in it (an older install's 0644 database, say) lose any they had.

use std::io;
use std::path::Path;

/// From here on, whatever this process creates is its user's alone (umask 077).
pub fn from_now_on() {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        rustix::process::umask(Mode::from_raw_mode(0o077));
    }
}

/// Takes group and other permissions off `dir` and everything below it (not following links).
/// How many files and folders it changed.
pub fn tighten(dir: &Path) -> io::Result<usize> {
    #[cfg(unix)]
    {
        tighten_unix(dir)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(0)
    }
}

#[cfg(unix)]
fn tighten_unix(dir: &Path) -> io::Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    let mut changed = 0;
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        changed += usize::from(owner_only(&folder)?);
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_file() {
                changed += usize::from(owner_only(&entry.path())?);
            }
        }
    }
    return Ok(changed);

    /// True if `path` had to change.
    fn owner_only(path: &Path) -> io::Result<bool> {
        let mode = std::fs::symlink_metadata(path)?.permissions().mode();
        if mode & 0o077 == 0 {
            return Ok(false);
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        Ok(true)
    }
}

/// Writes a new file only its owner can read (an existing one is an error).
pub(crate) fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_default()
    }

    #[test]
    fn an_older_data_directory_is_made_the_shops_alone() -> io::Result<()> {
        let root = tempfile::tempdir()?;
        let data = root.path().join("data");
        std::fs::create_dir_all(data.join("media"))?;
        std::fs::write(data.join("holdfast.db"), b"x")?;
        std::fs::write(data.join("media/a-s.jpg"), b"x")?;
        for (path, m) in [
            (data.clone(), 0o755),
            (data.join("media"), 0o775),
            (data.join("holdfast.db"), 0o644),
            (data.join("media/a-s.jpg"), 0o666),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m))?;
        }
        assert_eq!(tighten(&data)?, 4);
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("media")), 0o700);
        assert_eq!(mode(&data.join("holdfast.db")), 0o600);
        assert_eq!(mode(&data.join("media/a-s.jpg")), 0o600);
        assert_eq!(tighten(&data)?, 0, "nothing left to change");
        Ok(())
    }
}
