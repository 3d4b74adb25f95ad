//! What a server process uses (from Linux's /proc), and the address it announces when it starts.

use std::io::{BufRead, BufReader};
use std::time::Duration;

/// (resident now, peak resident) in MiB; zeros where /proc cannot tell.
pub fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU seconds the process has used (user + system).
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // the fields after the command's closing parenthesis: utime is the 12th, stime the 13th
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // clock ticks are 1/100 s on Linux
    (ticks(11) + ticks(12)) / 100.0
}

/// Reads a starting server's output until it says where it serves ("… serving on http://…"),
/// and gives that address; the rest of the output is read (and dropped) so the server never
/// blocks on a full pipe.
pub fn announced_address(
    output: impl std::io::Read + Send + 'static,
    within: Duration,
) -> anyhow::Result<String> {
    let mut said = announced(output, within, &["serving on "])?;
    said.pop()
        .ok_or_else(|| anyhow::anyhow!("the server did not say where it serves"))
}

/// Reads a starting server's output until it has said each of `what` followed by an
/// `http://` address ("serving on ", "metrics on "), and gives those addresses in that order;
/// the rest of the output is read (and dropped) so the server never blocks on a full pipe.
pub fn announced(
    output: impl std::io::Read + Send + 'static,
    within: Duration,
    what: &[&'static str],
) -> anyhow::Result<Vec<String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let markers = what.to_vec();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            for (i, marker) in markers.iter().enumerate() {
                let Some(at) = line.find(&format!("{marker}http://")) else {
                    continue;
                };
                let _ = tx.send((i, line[at + marker.len()..].trim().to_owned()));
            }
        }
    });
    let deadline = std::time::Instant::now() + within;
    let mut found: Vec<Option<String>> = vec![None; what.len()];
    while found.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let (i, address) = rx.recv_timeout(left).map_err(|_| {
            anyhow::anyhow!("the server did not say where it serves within {within:?}")
        })?;
        found[i] = Some(address);
    }
    Ok(found.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_cpu() {
        let (now, peak) = memory_mib(std::process::id());
        assert!(now > 0.0 && peak >= now);
        let spin: u64 = (0..5_000_000u64).fold(0, |a, b| a.wrapping_add(b * b));
        assert!(spin > 0 && cpu_secs(std::process::id()) >= 0.0);
    }

    #[test]
    fn the_address_is_read_from_the_log_line() -> anyhow::Result<()> {
        let log = b"starting\nINFO Holdfast is serving on http://127.0.0.1:4242\nmore\n".to_vec();
        let at = announced_address(std::io::Cursor::new(log), Duration::from_secs(5))?;
        assert_eq!(at, "http://127.0.0.1:4242");
        let silent = announced_address(
            std::io::Cursor::new(b"nothing\n".to_vec()),
            Duration::from_millis(200),
        );
        assert!(silent.is_err());
        Ok(())
    }
}
