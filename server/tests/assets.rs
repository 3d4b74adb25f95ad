//! Static assets reach phones compressed: the WASM bundle and pages are served with
//! `Content-Encoding` when the browser asks for it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[tokio::test]
async fn the_wasm_bundle_and_pages_are_served_compressed() {
    // a stand-in site root with a bundle-sized, compressible file
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    let wasm: Vec<u8> = (0..200_000_u32).map(|i| (i % 7) as u8).collect();
    std::fs::write(site.path().join("pkg/holdfast.wasm"), &wasm).unwrap();
    let root = site.path().display().to_string();
    let app = common::spawn_app_with(&[("LEPTOS_SITE_ROOT", &root)]).await;

    let res = app
        .client
        .get(app.url("/pkg/holdfast.wasm"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/wasm");
    assert_eq!(res.headers()["content-encoding"], "br");
    let on_wire = res.bytes().await.unwrap().len();
    assert!(
        on_wire < wasm.len() / 4,
        "{on_wire} bytes on the wire for {}",
        wasm.len()
    );

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
