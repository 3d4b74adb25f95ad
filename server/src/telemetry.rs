//! Log output: `RUST_LOG` filters (default: info for Holdfast, warnings for libraries);
//! `HOLDFAST_LOG_FORMAT=json` writes one JSON object per line (with the request's id and route
//! from its span), for a log collector; `text` (the default) is for people.

use anyhow::bail;

pub fn init() -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    // a second init (tests) is harmless
    match std::env::var("HOLDFAST_LOG_FORMAT").as_deref() {
        Err(_) | Ok("" | "text") => {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
        }
        Ok("json") => {
            let _ = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_env_filter(filter)
                .try_init();
        }
        Ok(other) => bail!("HOLDFAST_LOG_FORMAT must be text or json, got {other:?}"),
    }
    Ok(())
}
