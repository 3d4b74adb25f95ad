//! Precompressed bundles: the WASM, JS and CSS in `pkg/` are compressed once (brotli quality 11
//! and gzip level 9) into `.br` / `.gz` files beside the originals, so a surge of new visitors
//! costs file reads rather than a megabyte of compression each — and phones get the smallest
//! encoding. Until the files exist (they are made in the background at start), responses are
//! compressed on the fly.

use axum::extract::Request;
use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const BUNDLE_EXTENSIONS: &[&str] = &["wasm", "js", "css"];

/// Compresses every bundle in `dir` whose `.br`/`.gz` is missing or older than it. Returns how many
/// files were written.
pub fn precompress_dir(dir: &Path) -> io::Result<usize> {
    let mut written = 0;
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        let is_bundle = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| BUNDLE_EXTENSIONS.contains(&e));
        if !is_bundle || !path.is_file() {
            continue;
        }
        for (suffix, compress) in [
            (
                "br",
                (|b| brotli_bytes(b, 11)) as fn(&[u8]) -> io::Result<Vec<u8>>,
            ),
            ("gz", gzip_bytes),
        ] {
            let target = with_suffix(&path, suffix);
            if is_fresh(&target, &path)? {
                continue;
            }
            let compressed = compress(&fs::read(&path)?)?;
            // write beside, then rename: a reader never sees half a file
            let partial = with_suffix(&path, &format!("{suffix}.partial"));
            fs::write(&partial, compressed)?;
            fs::rename(&partial, &target)?;
            written += 1;
        }
    }
    Ok(written)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Whether `target` exists and is at least as new as `source`.
fn is_fresh(target: &Path, source: &Path) -> io::Result<bool> {
    match (fs::metadata(target), fs::metadata(source)) {
        (Ok(t), Ok(s)) => Ok(t.modified()? >= s.modified()?),
        (Err(e), _) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// `input` in brotli at `quality` (0–11).
pub(crate) fn brotli_bytes(input: &[u8], quality: u32) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 3);
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, quality, 22);
        writer.write_all(input)?;
        writer.flush()?;
    }
    Ok(out)
}

/// `input` in gzip at the best compression.
pub(crate) fn gzip_bytes(input: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(input)?;
    encoder.finish()
}

/// Precompresses `<site_root>/pkg` on a blocking thread, logging the outcome.
pub fn spawn_precompress(site_root: &str) {
    let pkg = Path::new(site_root).join("pkg");
    tokio::task::spawn_blocking(move || match precompress_dir(&pkg) {
        Ok(0) => {}
        Ok(n) => tracing::info!(files = n, dir = %pkg.display(), "precompressed the bundles"),
        Err(e) => {
            tracing::warn!(error = %e, dir = %pkg.display(), "could not precompress the bundles")
        }
    });
}

/// Whether a bundle's file name carries its content's hash (`holdfast.<hash>.wasm`, as
/// cargo-leptos' `hash-files` names them): such a file never changes.
pub fn is_hashed_name(name: &str) -> bool {
    let mut parts = name.rsplit('.');
    let (Some(_ext), Some(hash), Some(stem)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !stem.is_empty()
        && (16..=64).contains(&hash.len())
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// For `/pkg/`: a hashed bundle may be kept a year and never revalidated; anything else (a
/// development build's plain names) is revalidated on every visit.
pub async fn bundle_cache_control(req: Request, next: Next) -> Response {
    let name = req.uri().path().rsplit('/').next().unwrap_or_default();
    let forever = is_hashed_name(name);
    let mut response = next.run(req).await;
    if response.status().is_success() || response.status().as_u16() == 304 {
        response.headers_mut().insert(
            CACHE_CONTROL,
            HeaderValue::from_static(if forever {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            }),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn bundles_are_compressed_once_and_again_when_they_change() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let wasm = dir.path().join("app.wasm");
        let original: Vec<u8> = (0..100_000_u32).map(|i| (i % 13) as u8).collect();
        fs::write(&wasm, &original)?;
        fs::write(dir.path().join("photo.png"), b"not a bundle")?;

        assert_eq!(
            precompress_dir(dir.path())?,
            2,
            "a .br and a .gz for the one bundle"
        );
        assert_eq!(
            precompress_dir(dir.path())?,
            0,
            "nothing to do when up to date"
        );
        assert!(!dir.path().join("photo.png.br").exists());

        let mut unbrotli = Vec::new();
        brotli::Decompressor::new(fs::read(with_suffix(&wasm, "br"))?.as_slice(), 4096)
            .read_to_end(&mut unbrotli)?;
        assert_eq!(unbrotli, original);
        let mut ungzip = Vec::new();
        flate2::read::GzDecoder::new(fs::read(with_suffix(&wasm, "gz"))?.as_slice())
            .read_to_end(&mut ungzip)?;
        assert_eq!(ungzip, original);

        // a rebuilt bundle is newer than its compressed copies
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&wasm, b"rebuilt")?;
        assert_eq!(precompress_dir(dir.path())?, 2);
        Ok(())
    }

    #[test]
    fn hashed_bundle_names_are_told_from_plain_ones() {
        assert!(is_hashed_name("holdfast.qRM0LpYxZtTbN2GHcEj1WQ.wasm"));
        assert!(is_hashed_name("holdfast.qRM0LpYxZtTbN2GHcEj1WQ.js"));
        assert!(!is_hashed_name("holdfast.wasm"));
        assert!(!is_hashed_name("holdfast_bg.wasm"));
        assert!(!is_hashed_name("holdfast.short.js"));
        assert!(!is_hashed_name(".qRM0LpYxZtTbN2GHcEj1WQ.js"));
        assert!(!is_hashed_name("holdfast.qRM0LpYxZtTbN2GH%2E1WQ.js"));
    }

    #[test]
    fn a_missing_directory_is_not_an_error() -> io::Result<()> {
        assert_eq!(precompress_dir(Path::new("/nonexistent/holdfast/pkg"))?, 0);
        Ok(())
    }
}
