//! One reading of the clock for a whole batch, as an instant and as the RFC 3339 UTC text both
//! databases store and compare; and the request fingerprint of idempotency keys.

use chrono::{DateTime, Utc};

/// One reading of the clock, as an instant and as the RFC 3339 text the database compares.
pub(crate) struct Now {
    pub(crate) at: DateTime<Utc>,
    pub(crate) text: String,
}

impl Now {
    pub(crate) fn current() -> Now {
        Now::at(Utc::now())
    }

    pub(crate) fn at(at: DateTime<Utc>) -> Now {
        Now {
            at,
            text: rfc3339(at),
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whole seconds from now until `stamp` (negative if past; rounded up, so "1 s" means not
    /// yet).
    pub(crate) fn secs_until(&self, stamp: &str) -> i64 {
        match DateTime::parse_from_rfc3339(stamp) {
            Ok(t) => {
                let ms = (t.with_timezone(&Utc) - self.at).num_milliseconds();
                ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0)
            }
            Err(_) => 0,
        }
    }

    pub(crate) fn plus_secs(&self, secs: i64) -> String {
        rfc3339(self.at + chrono::Duration::seconds(secs))
    }
}

/// RFC 3339 UTC with milliseconds: sorts as text.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// RFC 3339 UTC with milliseconds: sorts as text.
pub(crate) fn now_utc() -> String {
    rfc3339(Utc::now())
}

pub(crate) fn fingerprint_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
