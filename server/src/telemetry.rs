//! Log output: `RUST_LOG` filters (default: info for Holdfast, warnings for libraries).

pub fn init() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    // a second init (tests) is harmless
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}
