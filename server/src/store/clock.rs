//! The shop's clock (`app::rules::clock`) as the server reads it, and the request fingerprint of
//! idempotency keys.

pub(crate) use app::rules::clock::{rfc3339, Clock, Now};

/// RFC 3339 UTC with milliseconds: sorts as text.
pub(crate) fn now_utc() -> String {
    rfc3339(chrono::Utc::now())
}

pub(crate) fn fingerprint_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}
