//! Percent-encoding text for a cookie value or a query string's value (UTF-8 bytes; letters,
//! digits and `-_.` are kept as they are), with the `percent-encoding` crate.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What is written `%XX`: every byte but letters, digits and `-_.`.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
/// The same, keeping `/` (a path given as a query's value stays readable).
const ENCODED_BUT_SLASHES: &AsciiSet = &ENCODED.remove(b'/');

/// `text` with every byte but letters, digits and `-_.` written `%XX`.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, ENCODED).to_string()
}

/// [`encode`], keeping `/` as it is: for a path sent as a query's value (`?back=/p/tea`).
pub fn encode_path(text: &str) -> String {
    utf8_percent_encode(text, ENCODED_BUT_SLASHES).to_string()
}

/// Reverses [`encode`]; `None` for malformed input (a `%` without two hex digits after it) or
/// bytes that are not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let mut escapes = text.split('%').skip(1);
    if !escapes.all(|after| {
        after.len() >= 2
            && after.is_char_boundary(2)
            && after[..2].bytes().all(|b| b.is_ascii_hexdigit())
    }) {
        return None;
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_letters_digits_and_the_kept_stay_as_they_are() {
        assert_eq!(encode("a-b_c.d~e f/g"), "a-b_c.d%7Ee%20f%2Fg");
        assert_eq!(encode_path("/admin/orders?x=1"), "/admin/orders%3Fx%3D1");
        assert_eq!(encode("王姐"), "%E7%8E%8B%E5%A7%90");
        assert_eq!(decode("%E7%8E%8B%E5%A7%90").as_deref(), Some("王姐"));
        assert_eq!(decode("%FF"), None, "not UTF-8");
        assert_eq!(decode("100%"), None, "a % without its digits");
    }
}
