//! Static assets reach phones compressed: the bundles from their precompressed `.br`/`.gz`
//! copies, pages compressed on the fly.
// Test code: a panic is how a test reports failure, so `unwrap`/`expect` are fine here (the
// workspace lints forbid them in the shop itself, and clippy.toml allows them in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

/// A stand-in site root with a bundle-sized, compressible "wasm".
fn site_with_bundle() -> (tempfile::TempDir, Vec<u8>) {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    let wasm: Vec<u8> = (0..200_000_u32).map(|i| (i % 7) as u8).collect();
    std::fs::write(site.path().join("pkg/holdfast.wasm"), &wasm).unwrap();
    (site, wasm)
}

#[tokio::test]
async fn the_wasm_bundle_is_served_from_its_precompressed_copy() {
    let (site, wasm) = site_with_bundle();
    let pkg = site.path().join("pkg");
    assert_eq!(server::edge::assets::precompress_dir(&pkg).unwrap(), 2);
    let root = site.path().display().to_string();
    let app = common::spawn_app_with(&[("LEPTOS_SITE_ROOT", &root)]).await;

    for (accept, encoding, file) in [
        ("br, gzip", "br", "holdfast.wasm.br"),
        ("gzip", "gzip", "holdfast.wasm.gz"),
    ] {
        let res = app
            .client
            .get(app.url("/pkg/holdfast.wasm"))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/wasm");
        assert_eq!(res.headers()["content-encoding"], encoding);
        assert_eq!(res.headers()["cache-control"], "no-cache");
        let body = res.bytes().await.unwrap();
        assert_eq!(
            body.as_ref(),
            std::fs::read(pkg.join(file)).unwrap().as_slice()
        );
        assert!(body.len() < wasm.len() / 4);
    }
    // a client that takes no compression gets the plain file
    let plain = app
        .client
        .get(app.url("/pkg/holdfast.wasm"))
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.bytes().await.unwrap().len(), wasm.len());
}

#[tokio::test]
async fn without_precompressed_copies_bundles_and_pages_are_compressed_on_the_fly() {
    let (site, wasm) = site_with_bundle();
    let root = site.path().display().to_string();
    let app = common::spawn_app_with(&[("LEPTOS_SITE_ROOT", &root)]).await;
    // (debug builds do not precompress in the background: this is compressed per request)
    let res = app
        .client
        .get(app.url("/pkg/holdfast.wasm"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "br");
    assert!(res.bytes().await.unwrap().len() < wasm.len() / 4);

    let page = app
        .client
        .get(app.url("/"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn a_bundle_named_by_its_hash_is_kept_forever_and_a_plain_one_is_revalidated() {
    let (site, wasm) = site_with_bundle();
    let pkg = site.path().join("pkg");
    let hashed = "holdfast.qRM0LpYxZtTbN2GHcEj1WQ.wasm";
    std::fs::write(pkg.join(hashed), &wasm).unwrap();
    let root = site.path().display().to_string();
    let app = common::spawn_app_with(&[("LEPTOS_SITE_ROOT", &root)]).await;
    let res = app.get(&format!("/pkg/{hashed}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let plain = app.get("/pkg/holdfast.wasm").await;
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    // a name that is not there is not promised to anyone for a year
    let missing = app.get("/pkg/holdfast.AAAAAAAAAAAAAAAAAAAAAA.wasm").await;
    assert_eq!(missing.status(), 404);
    assert_ne!(
        missing
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("public, max-age=31536000, immutable")
    );
}

#[tokio::test]
async fn pages_carry_their_stylesheet_inline_under_the_page_nonce() {
    let app = common::spawn_app().await;
    let res = app.get("/cart").await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("style-src 'self' 'nonce-{nonce}'")),
        "{csp}"
    );
    let body = res.text().await.unwrap();
    let style = format!("<style nonce=\"{nonce}\">");
    assert!(
        body.contains(&style),
        "the stylesheet, inline, with the nonce"
    );
    assert!(body.contains(".site-header"), "the shop's own rules");
    assert!(
        !body.contains("rel=\"stylesheet\""),
        "no stylesheet request before the first paint"
    );
    // the pages made outside Leptos link it
    let css = app.get("/shop.css").await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(css.text().await.unwrap().contains(".site-header"));
}
