//! Percent-encoding text for a cookie value or a query string's value (UTF-8 bytes; letters,
//! digits and `-_.` are kept as they are).

/// `text` with every byte but letters, digits, `-_.` and those in `also_keep` written `%XX`.
pub fn encode(text: &str, also_keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) || also_keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
