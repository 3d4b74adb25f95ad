//! The edge: everything between the socket and a server function. The accept loop and one
//! connection's life, body deadlines, what a request may ask for, headers on every answer,
//! guards and limits, the page cache and the bundles. Bad input stops here.

pub mod api_guard;
pub mod assets;
pub mod body;
pub(crate) mod connection;
pub mod language_switch;
pub mod origin;
pub mod page_cache;
pub mod rate_limit;
pub mod request_id;
pub mod request_target;
pub mod security_headers;
pub mod serve;
pub mod shop_look;
pub mod url_error;
