//! Owner passwords: at least 12 characters, hashed with argon2id (19 MiB, 2 passes, 1 lane — the
//! OWASP minimum) into a PHC string that carries its own salt and parameters. Hashing costs tens
//! of milliseconds of CPU on purpose, so requests run it on the bounded lanes of
//! [`super::hashing`], the command line on a blocking thread.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LEN: usize = 12;
/// Long enough for any passphrase; bounded so nobody can make the server hash a megabyte.
pub const MAX_LEN: usize = 256;

/// A password that meets the policy. Never printed.
pub struct Password(String);

impl Password {
    /// Counts characters, not bytes: "ünïcödé" passphrases are welcome.
    /// The error is said in the owner's language.
    pub fn parse(raw: &str) -> Result<Password, String> {
        let len = raw.chars().count();
        if len < MIN_LEN {
            return Err(super::pages::t!(admin_err_password_short, min = MIN_LEN));
        }
        if len > MAX_LEN {
            return Err(super::pages::t!(admin_err_password_long, max = MAX_LEN));
        }
        Ok(Password(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

fn hasher() -> Result<Argon2<'static>, String> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| e.to_string())?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string to store (for the command line: requests hash on a [`super::hashing`] lane).
pub async fn hash(password: Password) -> Result<String, String> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| e.to_string())?
}

/// Hashes on this thread: tens of milliseconds of CPU.
pub fn hash_now(password: &Password) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()?
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `candidate` matches `stored`. With no stored hash (no such owner) a dummy hash is
/// checked all the same, so the answer takes as long either way and does not tell which emails
/// are owners.
pub async fn verify(candidate: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || verify_now(&candidate, stored))
        .await
        .unwrap_or(false)
}

/// [`verify`] on this thread.
pub fn verify_now(candidate: &str, stored: Option<String>) -> bool {
    let Ok(argon) = hasher() else { return false };
    let known = stored.is_some();
    let stored = match stored {
        Some(s) => s,
        None => dummy().to_owned(),
    };
    let Ok(parsed) = PasswordHash::new(&stored) else {
        return false;
    };
    let matches = argon.verify_password(candidate.as_bytes(), &parsed).is_ok();
    known && matches
}

/// An argon2id hash of a random string nobody knows, with the same parameters as real ones.
fn dummy() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        let secret: [u8; 32] = rand::random();
        hasher()
            .ok()
            .and_then(|a| a.hash_password(&secret, &salt).ok())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_under_twelve_characters_is_refused_and_long_unicode_ones_count_characters() {
        assert!(Password::parse("short-pass1").is_err());
        assert!(Password::parse("twelve-chars").is_ok());
        assert!(Password::parse("ünïcödé-päss").is_ok());
        assert!(Password::parse(&"x".repeat(257)).is_err());
    }

    #[tokio::test]
    async fn a_hash_is_argon2id_with_the_owasp_parameters_and_verifies_only_its_password() {
        let Ok(password) = Password::parse("correct horse battery") else {
            panic!("valid")
        };
        let Ok(stored) = hash(password).await else {
            panic!("hashes")
        };
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery".into(), Some(stored.clone())).await);
        assert!(!verify("correct horse battery!".into(), Some(stored)).await);
        assert!(!verify("correct horse battery".into(), None).await);
    }
}
