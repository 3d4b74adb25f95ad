//! The Content-Security-Policy of the shopper's pages: scripts only with this response's nonce
//! (Leptos puts it on its hydration and resource scripts; what they load is trusted through
//! `'strict-dynamic'`), the inline stylesheet only with the same nonce, WebAssembly allowed to compile, nothing framed, no `<base>`, forms only
//! to the shop. Injected markup, if any ever got through, could not run.
//!
//! The server makes each page view's nonce before Leptos renders it, hands it to Leptos as its
//! `Nonce`, and sets this policy on the response itself (`server::security_headers`): set from
//! inside the render, the header was lost on about one page view in a hundred.

/// The policy for a page rendered with `nonce`. `dev_reload` adds the websocket of
/// `cargo leptos watch` (debug builds only).
pub fn page_policy(nonce: &str, dev_reload: Option<u32>) -> String {
    let reload = dev_reload
        .map(|port| format!(" ws://127.0.0.1:{port} ws://localhost:{port}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; \
         script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval' 'self'; \
         style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; font-src 'self'; connect-src 'self'{reload}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_the_nonce_and_forbids_framing_and_base() {
        let p = page_policy("abc123", None);
        assert!(
            p.contains("script-src 'nonce-abc123' 'strict-dynamic'"),
            "{p}"
        );
        assert!(!p.contains("unsafe-inline"), "{p}");
        assert!(p.contains("frame-ancestors 'none'") && p.contains("base-uri 'none'"));
        assert!(!p.contains("ws://"), "no dev websocket unless asked");
        assert!(page_policy("n", Some(3001)).contains("ws://127.0.0.1:3001"));
    }
}
