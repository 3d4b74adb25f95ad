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
            .map(|bytes| hex::encode(&bytes[..MAC_BYTES]))
            .unwrap_or_default();
        format!("{}{id}.{tag}", kind.prefix())
    }

    /// `payload` sealed for `purpose`: `<mac>.<payload>`, the mac an HMAC over both (so a value
    /// sealed for one cookie cannot be replayed as another). For values the server wrote and
    /// reads back, like cookies: the payload is readable, but cannot be changed or made up.
    pub fn seal(&self, purpose: &str, payload: &str) -> String {
        let tag = self
            .purpose_mac(purpose, payload)
            .map(|m| hex::encode(&m.finalize().into_bytes()[..MAC_BYTES]))
            .unwrap_or_default();
        format!("{tag}.{payload}")
    }

    /// The payload of a value [`Signer::seal`]ed for `purpose` under this key; `None` for a
    /// forged, altered or foreign one.
    pub fn open<'a>(&self, purpose: &str, sealed: &'a str) -> Option<&'a str> {
        let (tag, payload) = sealed.split_once('.')?;
        if tag.len() != MAC_BYTES * 2 {
            return None;
        }
        let tag = unhex(tag)?;
        self.purpose_mac(purpose, payload)?
            .verify_truncated_left(&tag)
            .ok()?;
        Some(payload)
    }

    /// A value only this shop can compute from `material`, for `purpose` (32 hex digits): the
    /// same material gives the same value, and nobody without the key can find the material's
    /// value, nor the material from it.
    pub fn digest(&self, purpose: &str, material: &str) -> String {
        self.purpose_mac(purpose, material)
            .map(|m| hex::encode(&m.finalize().into_bytes()[..MAC_BYTES]))
            .unwrap_or_default()
    }

    fn purpose_mac(&self, purpose: &str, payload: &str) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.key).ok()?;
        mac.update(b"seal\0");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(payload.as_bytes());
        Some(mac)
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

/// The bytes a tag's hex stands for (at most 32); `None` for anything but hex digits.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() > 64 {
        return None;
    }
    hex::decode(s).ok()
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

    #[test]
    fn a_tag_has_one_spelling() {
        // a genuine token whose tag has a byte under 0x10 ("0a"): written "+a" it is the same
        // number to a lenient parser, but not the same token
        let s = signer(7);
        let (token, at) = (0..1000)
            .find_map(|id| {
                let t = s.sign(TokenKind::Ticket, id);
                let tag = t.split_once('.')?.1.to_owned();
                let at = (0..tag.len())
                    .step_by(2)
                    .find(|&i| tag.as_bytes()[i] == b'0')?;
                Some((t.clone(), t.len() - tag.len() + at))
            })
            .unwrap_or_else(|| panic!("a tag with a small byte"));
        assert!(s.verify(TokenKind::Ticket, &token).is_some());
        let mut respelled = token.clone().into_bytes();
        respelled[at] = b'+';
        let respelled = String::from_utf8(respelled).unwrap_or_default();
        assert_eq!(s.verify(TokenKind::Ticket, &respelled), None, "{respelled}");
    }

    #[test]
    fn a_sealed_value_opens_only_unchanged_for_its_purpose_and_key() {
        let s = signer(7);
        let sealed = s.seal("hf_orders", "K7M3Q9PX.ABCD2345");
        assert_eq!(s.open("hf_orders", &sealed), Some("K7M3Q9PX.ABCD2345"));
        assert_eq!(
            s.open("hf_checkout", &sealed),
            None,
            "another cookie's seal"
        );
        assert_eq!(
            signer(8).open("hf_orders", &sealed),
            None,
            "another shop's key"
        );
        let altered = sealed.replace("K7M3", "K7M4");
        assert_eq!(s.open("hf_orders", &altered), None);
        for junk in ["", ".", "K7M3Q9PX", "00.K7M3Q9PX", &format!("x{sealed}")] {
            assert_eq!(s.open("hf_orders", junk), None, "{junk:?}");
        }
    }
}
