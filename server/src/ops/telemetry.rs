//! Log output: `RUST_LOG` filters (default: info for Holdfast, warnings for libraries);
//! `HOLDFAST_LOG_FORMAT=json` writes one JSON object per line (with the request's id and route
//! from its span), for a log collector; `text` (the default) is for people. A panic is one
//! error line, whatever `RUST_BACKTRACE` says: a request that panics is answered 500
//! ([`caught`]) and costs the log a line, not kilobytes.

use anyhow::bail;

/// Where the log goes: standard output for the serving shop (where a service manager collects
/// it); standard error for a command whose standard output is its answer (`server rehearse
/// --json` prints a report a program reads: a log line there would break it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTo {
    Stdout,
    Stderr,
}

pub fn init(to: LogTo) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let writer = move || -> Box<dyn std::io::Write> {
        match to {
            LogTo::Stdout => Box::new(std::io::stdout()),
            LogTo::Stderr => Box::new(std::io::stderr()),
        }
    };
    // a second init (tests) is harmless
    match std::env::var("HOLDFAST_LOG_FORMAT").as_deref() {
        Err(_) | Ok("" | "text") => {
            let _ = tracing_subscriber::fmt()
                .with_writer(writer)
                .with_env_filter(filter)
                .try_init();
        }
        Ok("json") => {
            let _ = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(writer)
                .with_env_filter(filter)
                .try_init();
        }
        Ok(other) => bail!("HOLDFAST_LOG_FORMAT must be text or json, got {other:?}"),
    }
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(panic = %one_line(info), "panicked");
    }));
    Ok(())
}

/// Where and why a thread panicked, on one line (line breaks in the message escaped).
pub fn one_line(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let at = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!("{at}: {}", message.escape_debug())
}

/// The answer to a request whose handler panicked: 500, in both the shop's languages (the
/// request is gone with the panic).
pub fn caught(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use app::language::Language;
    use axum::response::IntoResponse;
    let text = format!(
        "{}\n{}\n",
        app::tr!(Language::ZhCn, refusal_internal),
        app::tr!(Language::En, refusal_internal)
    );
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_panic_is_told_in_one_line() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Ok(mut seen) = kept.lock() {
                seen.push(super::one_line(info));
            }
        }));
        let _ = std::thread::spawn(|| panic!("first line\nsecond {}", "line")).join();
        std::panic::set_hook(previous);
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        let line = seen
            .iter()
            .find(|l| l.contains("first line"))
            .cloned()
            .unwrap_or_default();
        assert!(!line.contains('\n'), "{line:?}");
        assert!(line.contains("first line\\nsecond line"), "{line:?}");
        assert!(line.contains("telemetry.rs:"), "{line:?}");
    }
}
