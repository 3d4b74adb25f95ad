//! The shop's clock (`app::rules::clock`) as the server reads it, and the request fingerprint of
//! idempotency keys.

pub(crate) use app::rules::clock::{Clock, Now};

pub(crate) fn fingerprint_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}
