//! Rendered pages from memory under the surge. The catalogue (`/`) and a product page (`/p/<slug>`)
//! look the same to every shopper who has not yet done anything, so each is rendered once per
//! [`Edition`] of the catalogue it shows (a new edition only when stock, a price or a sale's
//! countdown changed, read at most once per the catalogue cache's quarter-second window), kept
//! with its brotli and gzip encodings, and served to everyone else as it is — with an `ETag`, so a
//! phone that has it gets a bodiless 304.
//!
//! What keeps one shopper's page from reaching another:
//! - the render runs on a request stripped to its path: no query, no cookies, no credentials, so
//!   nothing personal can enter it (a page that would set a cookie is not kept);
//! - a request whose query carries something a page reads (`__err`, the error a form without
//!   JavaScript was redirected back with) is rendered for itself, never from here; other query
//!   strings (a chat app's `?from=singlemessage`) are served the path's page;
//! - only 200 answers with HTML are kept, and only for paths made of slug characters, at most
//!   [`MAX_PAGES`] of them (a stranger inventing URLs gets 404s, which are not kept).
//!
//! Each kept page carries the Content-Security-Policy with the script nonce it was rendered with:
//! the document is byte-for-byte the same for everyone who gets it, so the nonce protects it as it
//! protects any page (an attacker cannot put markup into a rendering that is already made).
//!
//! Every other HTML answer (cart, checkout, the waiting room, an order, the owner's pages) is
//! marked `private, no-store` unless its handler said otherwise.

use crate::edge::security_headers::PageNonce;
use crate::store::cached::Edition;
use crate::store::CatalogueCache;
use app::language::Language;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, ACCEPT_LANGUAGE, AUTHORIZATION, CACHE_CONTROL, CONTENT_ENCODING,
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, ETAG, IF_NONE_MATCH, SET_COOKIE, VARY,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

/// The most pages kept (the demo has a handful; a large shop a few hundred).
pub const MAX_PAGES: usize = 1024;

/// The largest page kept.
const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// Concurrent renders of different pages; requests for one page wait for its one render.
const RENDER_LANES: usize = 32;

/// For pages kept here: browsers ask again each visit (and get a 304 while nothing changed), a
/// shared cache in front may keep the page a second and serve it a few more while it asks.
const SHARED_PAGE: &str = "public, max-age=0, s-maxage=1, stale-while-revalidate=5";

/// For every other page.
const PERSONAL_PAGE: &str = "private, no-store";

/// Says whether an answer came from here (`hit`) or was rendered for it (`miss`).
pub const PAGE_CACHE_HEADER: HeaderName = HeaderName::from_static("x-page-cache");

pub struct PageCache {
    catalogue: Arc<CatalogueCache>,
    /// The dev server's live-reload port (debug builds), for the pages' policy.
    reload_port: Option<u32>,
    pages: RwLock<HashMap<String, Arc<Page>>>,
    renders: Vec<tokio::sync::Mutex<()>>,
}

/// One rendered page in every encoding it is served in.
struct Page {
    edition: Edition,
    etag: HeaderValue,
    policy: HeaderValue,
    content_type: HeaderValue,
    identity: Bytes,
    brotli: Bytes,
    gzip: Bytes,
}

impl PageCache {
    /// A cache over `catalogue`'s readings; `None` when the catalogue is read through every time
    /// (then there are no editions to keep pages by).
    pub fn new(catalogue: Arc<CatalogueCache>, reload_port: Option<u32>) -> Option<PageCache> {
        catalogue.keeps_readings().then(|| PageCache {
            catalogue,
            reload_port,
            pages: RwLock::new(HashMap::new()),
            renders: (0..RENDER_LANES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        })
    }

    fn kept(&self, path: &str, edition: Edition) -> Option<Arc<Page>> {
        let pages = self.pages.read().unwrap_or_else(|p| p.into_inner());
        pages.get(path).filter(|p| p.edition == edition).cloned()
    }

    fn keep(&self, path: String, page: Arc<Page>) {
        let mut pages = self.pages.write().unwrap_or_else(|p| p.into_inner());
        if pages.len() < MAX_PAGES || pages.contains_key(&path) {
            pages.insert(path, page);
        }
    }

    fn lane(&self, path: &str) -> &tokio::sync::Mutex<()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        path.hash(&mut hasher);
        let lane = usize::try_from(hasher.finish() % RENDER_LANES as u64).unwrap_or(0);
        &self.renders[lane]
    }
}

/// The middleware: pages kept here are answered from memory; others are rendered and marked
/// personal.
pub async fn serve(
    State(cache): State<Option<Arc<PageCache>>>,
    req: Request,
    next: Next,
) -> Response {
    let (Some(cache), Some(path)) = (cache, shared_path(&req).map(str::to_owned)) else {
        return personal(next.run(req).await);
    };
    // a database that cannot be read: the render says so (and is not kept)
    let Ok((edition, settings)) = cache.catalogue.edition_and_settings().await else {
        return personal(next.run(req).await);
    };
    // one rendering per language: the only thing about the shopper a shared page depends on
    let lang = Language::of_request(req.headers(), settings.default_language);
    let key = format!("{} {path}", lang.tag());
    if let Some(page) = cache.kept(&key, edition) {
        return page.answer(req.headers(), "hit");
    }
    let _render = cache.lane(&key).lock().await;
    if let Some(page) = cache.kept(&key, edition) {
        return page.answer(req.headers(), "hit");
    }
    // the page kept under this edition shows this edition's settings (`shop_look::attach`,
    // inside this layer, leaves them be)
    let mut req = req;
    req.extensions_mut().insert(settings);
    // the render takes the request: keep what the answer needs from it
    let asked = req.headers().clone();
    let Some(nonce) = req.extensions().get::<PageNonce>().cloned() else {
        return personal(next.run(req).await);
    };
    let rendered = next.run(anonymous(req, &path, lang)).await;
    match Page::from_render(rendered, edition, &nonce, cache.reload_port).await {
        Ok(page) => {
            let page = Arc::new(page);
            cache.keep(key, page.clone());
            page.answer(&asked, "miss")
        }
        Err(not_kept) => personal(not_kept),
    }
}

/// The path whose page is the same for everyone, if `req` asks for one.
fn shared_path(req: &Request) -> Option<&str> {
    if req.method() != Method::GET {
        return None;
    }
    let uri = req.uri();
    if uri.query().is_some_and(reads_query) {
        return None;
    }
    let path = uri.path();
    let shared = path == "/"
        || path.strip_prefix("/p/").is_some_and(|slug| {
            (1..=100).contains(&slug.len())
                && slug
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    shared.then_some(path)
}

/// Whether a page would read this query: Leptos' own parameters all start with `__` (`__err`
/// carries a failed form's error back to the page).
fn reads_query(query: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair.starts_with("__") || pair.contains("%5F%5F") || pair.contains("%5f%5f"))
}

/// The request as any stranger would send it: its path alone, no cookies or credentials, no
/// encoding (the cache makes its own), and the shopper's language as the only one the browser
/// accepts.
fn anonymous(mut req: Request, path: &str, lang: Language) -> Request {
    if let Ok(uri) = Uri::builder().path_and_query(path).build() {
        *req.uri_mut() = uri;
    }
    let headers = req.headers_mut();
    for name in [COOKIE, AUTHORIZATION, ACCEPT_ENCODING, IF_NONE_MATCH] {
        headers.remove(name);
    }
    headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_static(lang.tag()));
    req
}

/// Marks an HTML answer that did not come from here as not to be kept by anyone.
fn personal(mut response: Response) -> Response {
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if html && !response.headers().contains_key(CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(PERSONAL_PAGE));
    }
    response
}

impl Page {
    /// Keeps a rendering if it is a whole 200 HTML page that sets no cookie; otherwise gives the
    /// answer back to be sent as it is.
    async fn from_render(
        rendered: Response,
        edition: Edition,
        nonce: &PageNonce,
        reload_port: Option<u32>,
    ) -> Result<Page, Response> {
        let headers = rendered.headers();
        let content_type = headers.get(CONTENT_TYPE).cloned();
        let keepable = rendered.status() == StatusCode::OK
            && !headers.contains_key(SET_COOKIE)
            && !headers.contains_key(CONTENT_ENCODING)
            && content_type
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("text/html"));
        let policy = HeaderValue::from_str(&app::csp::page_policy(&nonce.0, reload_port)).ok();
        let (Some(content_type), Some(policy), true) = (content_type, policy, keepable) else {
            return Err(rendered);
        };
        let (parts, body) = rendered.into_parts();
        let identity = match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, "a page could not be read to be kept");
                return Err((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The page could not be made.",
                )
                    .into_response());
            }
        };
        let compressed = {
            let identity = identity.clone();
            tokio::task::spawn_blocking(move || {
                Ok::<_, std::io::Error>((
                    crate::edge::assets::brotli_bytes(&identity, PAGE_BROTLI_QUALITY)?,
                    crate::edge::assets::gzip_bytes(&identity)?,
                ))
            })
            .await
        };
        let (brotli, gzip) = match compressed {
            Ok(Ok(pair)) => pair,
            _ => {
                tracing::warn!("a page could not be compressed to be kept");
                return Err(Response::from_parts(parts, Body::from(identity)));
            }
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        identity.hash(&mut hasher);
        let etag = HeaderValue::from_str(&format!("W/\"{}-{:016x}\"", edition.0, hasher.finish()))
            .map_err(|_| Response::from_parts(parts, Body::from(identity.clone())))?;
        Ok(Page {
            edition,
            etag,
            policy,
            content_type,
            identity,
            brotli: Bytes::from(brotli),
            gzip: Bytes::from(gzip),
        })
    }

    /// The page for a request with these headers: a 304 if it has this version, else the body in
    /// the best encoding it accepts.
    fn answer(&self, asked: &HeaderMap, how: &'static str) -> Response {
        let mut response = if has_version(asked, &self.etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let (body, encoding) = match Encoding::accepted(asked) {
                Encoding::Brotli => (self.brotli.clone(), Some("br")),
                Encoding::Gzip => (self.gzip.clone(), Some("gzip")),
                Encoding::Identity => (self.identity.clone(), None),
            };
            let mut response = Body::from(body).into_response();
            let h = response.headers_mut();
            h.insert(CONTENT_TYPE, self.content_type.clone());
            if let Some(encoding) = encoding {
                h.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            response
        };
        let h = response.headers_mut();
        h.insert(ETAG, self.etag.clone());
        h.insert(CACHE_CONTROL, HeaderValue::from_static(SHARED_PAGE));
        // a 304 refreshes the stored answer's headers: it must keep the policy naming the
        // stored page's nonce
        h.insert(CONTENT_SECURITY_POLICY, self.policy.clone());
        // the language comes from the choice in the cookie, else the browser's languages
        h.insert(
            VARY,
            HeaderValue::from_static("accept-encoding, accept-language, cookie"),
        );
        h.insert(PAGE_CACHE_HEADER, HeaderValue::from_static(how));
        response
    }
}

/// brotli quality for kept pages: made a few times a second at most, served thousands of times.
const PAGE_BROTLI_QUALITY: u32 = 9;

/// Whether `If-None-Match` names this version (weak comparison, as for a GET).
fn has_version(asked: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    let ours = ours.strip_prefix(b"W/").unwrap_or(ours);
    asked.get_all(IF_NONE_MATCH).iter().any(|v| {
        v.as_bytes().split(|&b| b == b',').any(|tag| {
            let tag = tag.trim_ascii();
            tag == b"*" || tag.strip_prefix(b"W/").unwrap_or(tag) == ours
        })
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// The smallest encoding the request accepts (a `q=0` refuses one).
    fn accepted(asked: &HeaderMap) -> Encoding {
        let mut brotli = false;
        let mut gzip = false;
        for value in asked.get_all(ACCEPT_ENCODING) {
            let Ok(value) = value.to_str() else { continue };
            for item in value.split(',') {
                let mut parts = item.split(';');
                let name = parts.next().unwrap_or("").trim();
                let refused = parts.any(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                if refused {
                    continue;
                }
                if name.eq_ignore_ascii_case("br") {
                    brotli = true;
                } else if name.eq_ignore_ascii_case("gzip") || name == "*" {
                    gzip = true;
                }
            }
        }
        if brotli {
            Encoding::Brotli
        } else if gzip {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> Request {
        Request::builder()
            .uri(uri)
            .body(Body::empty())
            .unwrap_or_default()
    }

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.append(name.clone(), v);
            }
        }
        h
    }

    #[test]
    fn only_the_catalogue_and_product_pages_are_shared() {
        assert_eq!(shared_path(&request("/")), Some("/"));
        assert_eq!(
            shared_path(&request("/p/sea-salt-caramels")),
            Some("/p/sea-salt-caramels")
        );
        assert_eq!(
            shared_path(&request("/p/mug?from=singlemessage&isappinstalled=0")),
            Some("/p/mug"),
            "a chat app's tracking query does not change the page"
        );
        for personal in [
            "/cart",
            "/checkout",
            "/status",
            "/order/ABC",
            "/queue/t",
            "/p/mug?__err=boom",
            "/p/mug?x=1&__err=boom",
            "/p/mug?%5F%5Ferr=boom",
            "/p/",
            "/p/mug/more",
            "/p/m%75g",
            "/admin",
            "/api/products",
        ] {
            assert_eq!(shared_path(&request(personal)), None, "{personal}");
        }
        let long = format!("/p/{}", "a".repeat(101));
        assert_eq!(shared_path(&request(&long)), None);
        let post = Request::builder()
            .method(Method::POST)
            .uri("/")
            .body(Body::empty())
            .unwrap_or_default();
        assert_eq!(shared_path(&post), None);
    }

    #[test]
    fn the_render_sees_no_cookie_query_or_credentials() {
        let mut req = request("/p/mug?from=x");
        req.headers_mut()
            .insert(COOKIE, HeaderValue::from_static("cart=secret"));
        req.headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        req.headers_mut()
            .insert(ACCEPT_ENCODING, HeaderValue::from_static("br"));
        let req = anonymous(req, "/p/mug", Language::En);
        assert_eq!(req.uri(), "/p/mug");
        assert_eq!(req.headers().len(), 1, "{:?}", req.headers());
        assert_eq!(
            req.headers().get(ACCEPT_LANGUAGE).map(|v| v.as_bytes()),
            Some(&b"en"[..])
        );
    }

    #[test]
    fn the_smallest_accepted_encoding_is_chosen() {
        let pick = |v: &str| Encoding::accepted(&headers(&[(ACCEPT_ENCODING, v)]));
        assert_eq!(pick("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(pick("gzip, deflate"), Encoding::Gzip);
        assert_eq!(pick("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(pick("identity"), Encoding::Identity);
        assert_eq!(pick("*"), Encoding::Gzip);
        assert_eq!(Encoding::accepted(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn a_matching_validator_is_recognised_weakly() {
        let etag = HeaderValue::from_static("W/\"3-00ff\"");
        assert!(has_version(
            &headers(&[(IF_NONE_MATCH, "W/\"3-00ff\"")]),
            &etag
        ));
        assert!(has_version(
            &headers(&[(IF_NONE_MATCH, "\"1-aa\", \"3-00ff\"")]),
            &etag
        ));
        assert!(has_version(&headers(&[(IF_NONE_MATCH, "*")]), &etag));
        assert!(!has_version(
            &headers(&[(IF_NONE_MATCH, "W/\"2-00ff\"")]),
            &etag
        ));
        assert!(!has_version(&HeaderMap::new(), &etag));
    }
}
