//! Opaque signed tokens for waiting-room tickets and holds: `t<id>.<mac>` and `h<id>.<mac>`, where
//! the mac is HMAC-SHA256 over the kind and id under the shop's secret key (first 16 bytes, hex).
//! A forged or altered token is refused before it reaches the database.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Ticket,
    Hold,
}

impl TokenKind {
    fn prefix(self) -> char {
        match self {
            TokenKind::Ticket => 't',
            TokenKind::Hold => 'h',
        }
    }
}

/// Signs ids into tokens and checks tokens back into ids.
pub struct Signer {
    key: Vec<u8>,
}

const MAC_BYTES: usize = 16;

impl Signer {
    /// A signer over a secret key of at least 32 bytes.
    pub fn new(key: &[u8]) -> Result<Signer, String> {
        if key.len() < 32 {
            return Err("the signing key must be at least 32 bytes".to_owned());
        }
        Ok(Signer { key: key.to_vec() })
    }

    fn mac(&self, kind: TokenKind, id: i64) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.key).ok()?;
        mac.update(&[kind.prefix() as u8]);
        mac.update(&id.to_be_bytes());
        Some(mac)
    }

    pub fn sign(&self, kind: TokenKind, id: i64) -> String {
        let tag = self
            .mac(kind, id)
            .map(|m| m.finalize().into_bytes())
            .map(|bytes| hex(&bytes[..MAC_BYTES]))
            .unwrap_or_default();
        format!("{}{id}.{tag}", kind.prefix())
    }

    /// The id in a genuine token of this kind; `None` for anything else.
    pub fn verify(&self, kind: TokenKind, token: &str) -> Option<i64> {
        let rest = token.trim().strip_prefix(kind.prefix())?;
        let (id, tag) = rest.split_once('.')?;
        if id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id: i64 = id.parse().ok()?;
        let tag = unhex(tag)?;
        if tag.len() != MAC_BYTES {
            return None;
        }
        // constant-time comparison of the truncated tag
        self.mac(kind, id)?.verify_truncated_left(&tag).ok()?;
        Some(id)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 64 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(byte: u8) -> Signer {
        Signer::new(&[byte; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_signed_token_verifies_to_its_id_and_kind_only() {
        let s = signer(7);
        let t = s.sign(TokenKind::Ticket, 42);
        assert!(t.starts_with("t42."), "{t}");
        assert_eq!(s.verify(TokenKind::Ticket, &t), Some(42));
        assert_eq!(
            s.verify(TokenKind::Hold, &t),
            None,
            "a ticket is not a hold"
        );
        let h = s.sign(TokenKind::Hold, 42);
        assert_eq!(s.verify(TokenKind::Hold, &h), Some(42));
        assert_ne!(h[1..], t[1..], "kinds are signed apart");
    }

    #[test]
    fn forged_altered_or_foreign_tokens_are_refused() {
        let s = signer(7);
        let t = s.sign(TokenKind::Ticket, 42);
        let other_id = t.replacen("t42.", "t43.", 1);
        assert_eq!(s.verify(TokenKind::Ticket, &other_id), None);
        assert_eq!(
            signer(8).verify(TokenKind::Ticket, &t),
            None,
            "another shop's key"
        );
        for junk in [
            "",
            "t",
            "t42",
            "t42.",
            "t-1.00",
            "t42.zz",
            "x42.00",
            &format!("{t}00"),
        ] {
            assert_eq!(s.verify(TokenKind::Ticket, junk), None, "{junk:?}");
        }
        assert!(Signer::new(&[1; 16]).is_err(), "short keys are refused");
    }
}
