//! `weigh`: the shopper's page weight against its budget — what a first visit to each shopper
//! page downloads (HTML, JS, WASM; brotli, as phones get it), from a release bundle. Byte counts
//! are deterministic, so CI runs it: it exits non-zero when a budget is exceeded.
//!
//! `weigh --site target/site` (after `cargo leptos build --release --split --frontend-only`).
//!
//! The pages come from the real server, started in this process on a fresh SQLite file with the
//! demo catalogue; the bundles from `<site>/pkg`. Counted per page: its HTML; if it has an island
//! (it names the bundle), the main JS and WASM, the split loader and manifest, and the WASM chunk
//! of each lazy island on the page. (The stylesheet is inline in the HTML; pictures are not
//! counted.)

use anyhow::{bail, Context};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Every byte a first visit to any shopper page needs (issue 13).
const PAGE_BUDGET: usize = 150_000;
/// The WASM the catalogue and product pages need.
const CATALOGUE_WASM_BUDGET: usize = 100_000;

struct Bundle {
    /// brotli bytes of the main JS + main WASM + split loader + manifest.
    common: usize,
    wasm: usize,
    /// (manifest key, brotli bytes of its chunks) for each lazy island.
    chunks: Vec<(String, usize)>,
    lines: Vec<(String, usize, usize)>,
}

fn brotli_len(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        w.write_all(bytes)?;
        w.flush()?;
    }
    Ok(out.len())
}

fn weigh_bundle(pkg: &Path) -> anyhow::Result<Bundle> {
    let mut bundle = Bundle {
        common: 0,
        wasm: 0,
        chunks: Vec::new(),
        lines: Vec::new(),
    };
    let mut manifest = None;
    let mut chunk_sizes = std::collections::HashMap::new();
    for entry in std::fs::read_dir(pkg).with_context(|| format!("cannot read {}", pkg.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let counted = [".js", ".wasm", ".json"].iter().any(|e| name.ends_with(e));
        if !counted {
            continue;
        }
        let raw = std::fs::read(&path)?;
        let br = brotli_len(&raw)?;
        bundle.lines.push((name.clone(), raw.len(), br));
        if name.starts_with("split_") && name.ends_with(".wasm") {
            chunk_sizes.insert(name.trim_end_matches(".wasm").to_owned(), br);
            continue;
        }
        if name.starts_with("__wasm_split_manifest") {
            manifest = Some(String::from_utf8_lossy(&raw).into_owned());
        }
        if name.ends_with(".wasm") {
            bundle.wasm += br;
        }
        bundle.common += br;
    }
    bundle.lines.sort();
    if bundle.wasm == 0 {
        bail!("no WASM bundle in {}: build it first (cargo leptos build --release --split --frontend-only)", pkg.display());
    }
    if let Some(manifest) = manifest {
        let manifest: std::collections::HashMap<String, Vec<String>> =
            serde_json::from_str(&manifest).context("the split manifest")?;
        for (key, files) in manifest {
            let size = files
                .iter()
                .map(|f| chunk_sizes.get(f).copied().unwrap_or(0))
                .sum();
            bundle.chunks.push((key, size));
        }
    }
    Ok(bundle)
}

/// `QueueLive` → `queue_live`: how the manifest names an island's chunk.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The islands on a page (`<leptos-island data-component="Name_hash"`).
fn islands(html: &str) -> Vec<String> {
    html.split("data-component=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|id| id.rsplit_once('_').map_or(id, |(name, _)| name).to_owned())
        .collect()
}

async fn page_br(http: &reqwest::Client, url: &str) -> anyhow::Result<(u16, Vec<u8>, usize)> {
    let res = http
        .get(url)
        .header("accept-encoding", "br")
        .header("accept", "text/html")
        .send()
        .await?;
    let status = res.status().as_u16();
    let encoded = res
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.bytes().await?.to_vec();
    let (html, wire) = match encoded.as_deref() {
        Some("br") => {
            let mut html = Vec::new();
            std::io::Read::read_to_end(
                &mut brotli::Decompressor::new(body.as_slice(), 4096),
                &mut html,
            )?;
            (html, body.len())
        }
        _ => {
            let wire = brotli_len(&body)?;
            (body, wire)
        }
    };
    Ok((status, html, wire))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut site = PathBuf::from("target/site");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--site" => site = PathBuf::from(args.next().context("--site needs a path")?),
            "-h" | "--help" => {
                println!("weigh [--site target/site]");
                return Ok(());
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let bundle = weigh_bundle(&site.join("pkg"))?;
    println!("bundle files (brotli 11):");
    for (name, raw, br) in &bundle.lines {
        println!("  {name:<70} {raw:>9} B raw  {br:>8} B brotli");
    }

    let data = tempfile::tempdir()?;
    let data_dir = data.path().display().to_string();
    let site_root = site.display().to_string();
    let config = server::Config::from_lookup(|k| match k {
        "HOLDFAST_ADDR" => Some("127.0.0.1:0".to_owned()),
        "HOLDFAST_DATA_DIR" => Some(data_dir.clone()),
        "LEPTOS_SITE_ROOT" => Some(site_root.clone()),
        "HOLDFAST_RATE_LIMIT_PER_SEC" => Some("0".to_owned()),
        "RUST_LOG" => Some("warn".to_owned()),
        _ => None,
    })?;
    let app = server::Application::build(config).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let served = tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();

    let products: Vec<serde_json::Value> = http
        .get(format!("{base}/api/products"))
        .send()
        .await?
        .json()
        .await?;
    let queued = products
        .iter()
        .find(|p| p["sale"]["waiting_room"].as_bool() == Some(true))
        .and_then(|p| p["id"].as_i64());
    let mut paths = vec![
        "/".to_owned(),
        "/cart".to_owned(),
        "/checkout".to_owned(),
        "/status".to_owned(),
    ];
    paths.extend(
        products
            .iter()
            .filter_map(|p| p["slug"].as_str())
            .map(|s| format!("/p/{s}")),
    );
    // the waiting page as a shopper in line sees it: others take the units first
    if let Some(id) = queued {
        for n in 0..200 {
            let joined: serde_json::Value = http
                .post(format!("{base}/api/queue/join"))
                .json(&serde_json::json!({
                    "product_id": id, "quantity": 1, "phone": format!("+1555011{n:04}")
                }))
                .send()
                .await?
                .json()
                .await?;
            if joined["state"].as_str() == Some("waiting") {
                if let Some(ticket) = joined["ticket"].as_str() {
                    paths.push(format!("/queue/{ticket}"));
                }
                break;
            }
        }
    }
    if !paths.iter().any(|p| p.starts_with("/queue/")) {
        bail!("could not get a ticket that waits in line: the demo's drop has changed?");
    }

    println!("\nfirst visit, per shopper page (brotli bytes; budget {PAGE_BUDGET}):");
    let mut over = Vec::new();
    for path in &paths {
        let (status, html, html_br) = page_br(&http, &format!("{base}{path}")).await?;
        if status != 200 {
            bail!("{path} answered {status}");
        }
        let html = String::from_utf8_lossy(&html);
        let lazy: usize = islands(&html)
            .iter()
            .map(|island| {
                let key = format!("{}_loader", snake(island));
                bundle
                    .chunks
                    .iter()
                    .filter(|(k, _)| k.starts_with(&key))
                    .map(|(_, size)| size)
                    .sum::<usize>()
            })
            .sum();
        // a page without an island names no bundle and loads none
        let common = if html.contains("rel=\"modulepreload\"") {
            bundle.common
        } else {
            0
        };
        let total = html_br + common + lazy;
        let shown = if path.len() > 40 { &path[..40] } else { path };
        println!(
            "  {shown:<42} HTML {html_br:>6}  JS+WASM {common:>7}  lazy islands {lazy:>7}  total {total:>7}{}",
            if total > PAGE_BUDGET { "  OVER" } else { "" }
        );
        if total > PAGE_BUDGET {
            over.push(format!("{path}: {total} B > {PAGE_BUDGET} B"));
        }
    }
    println!(
        "\nWASM for the catalogue and product pages: {} B brotli (budget {CATALOGUE_WASM_BUDGET})",
        bundle.wasm
    );
    if bundle.wasm > CATALOGUE_WASM_BUDGET {
        over.push(format!(
            "catalogue/product WASM: {} B > {CATALOGUE_WASM_BUDGET} B",
            bundle.wasm
        ));
    }
    served.abort();
    if !over.is_empty() {
        bail!("over budget:\n  {}", over.join("\n  "));
    }
    println!("within budget");
    Ok(())
}
