//! The shop's public address, as shoppers reach it (`https://shop.example`): where a link shared
//! in a chat points and where its picture is fetched from. The operator sets it
//! (`HOLDFAST_PUBLIC_URL`); a page never takes it from a request's `Host`, which a stranger writes
//! and which a kept page would then repeat to everyone.

use std::fmt;

/// `http(s)://host[:port]`, without a path, query or credentials; kept without a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    /// The address, or `None` when it is not one (a path, a query, credentials, another scheme).
    pub fn parse(text: &str) -> Option<PublicUrl> {
        let text = text.trim();
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let host = rest.strip_suffix('/').unwrap_or(rest);
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
        if host.is_empty()
            || host.starts_with(':')
            || host.ends_with(':')
            || !host.chars().all(allowed)
        {
            return None;
        }
        Some(PublicUrl(format!(
            "{scheme}://{}",
            host.to_ascii_lowercase()
        )))
    }

    /// `path` (the shop's own, `/p/…`) on this address; a URL that is already absolute stays as
    /// it is.
    pub fn join(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else if path.starts_with('/') {
            format!("{}{path}", self.0)
        } else {
            format!("{}/{path}", self.0)
        }
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_a_scheme_and_a_host() {
        let url = PublicUrl::parse("HTTPS://Shop.Example:8443/").unwrap_or_else(|| panic!());
        assert_eq!(url.to_string(), "https://shop.example:8443");
        assert_eq!(url.join("/p/mug"), "https://shop.example:8443/p/mug");
        assert_eq!(
            url.join("images/a.png"),
            "https://shop.example:8443/images/a.png"
        );
        assert_eq!(
            url.join("https://cdn.example/a.png"),
            "https://cdn.example/a.png"
        );
        assert!(PublicUrl::parse("http://[::1]:3000").is_some());
        for bad in [
            "",
            "shop.example",
            "ftp://shop.example",
            "https://",
            "https://shop.example/shop",
            "https://shop.example?x=1",
            "https://user:pw@shop.example",
            "https://shop example",
            "https://shop.example:",
            "javascript://x",
        ] {
            assert_eq!(PublicUrl::parse(bad), None, "{bad}");
        }
    }
}
