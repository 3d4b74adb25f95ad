//! Whether a request was sent by a page of another site: a browser names the sending page's
//! origin in `Origin` (and, in current browsers, says `Sec-Fetch-Site: cross-site`). Clients
//! that are not browsers send neither, and are judged by what they carry (tokens, sessions).

use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Uri};

/// True when the request's `Origin` is not this site (the `Host` it was sent to), or the
/// browser says it is cross-site.
pub fn from_another_site(headers: &HeaderMap, uri: &Uri) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return true;
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()));
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.to_owned());
    host.is_none() || origin_host != host
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_a_foreign_origin_or_a_cross_site_fetch_is_from_another_site() {
        let uri = Uri::from_static("/api/checkout");
        let same = headers(&[("host", "shop.example"), ("origin", "https://shop.example")]);
        assert!(!from_another_site(&same, &uri));
        let foreign = headers(&[("host", "shop.example"), ("origin", "https://evil.example")]);
        assert!(from_another_site(&foreign, &uri));
        let null = headers(&[("host", "shop.example"), ("origin", "null")]);
        assert!(from_another_site(&null, &uri));
        let curl = headers(&[("host", "shop.example")]);
        assert!(!from_another_site(&curl, &uri));
        let fetch = headers(&[("host", "shop.example"), ("sec-fetch-site", "cross-site")]);
        assert!(from_another_site(&fetch, &uri));
    }
}
