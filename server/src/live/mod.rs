//! Live news for shoppers' open pages (server-sent events): one task per server reads the
//! catalogue (`feed`), the orders' audit trail (`orders`) and the watched lines (`lines`); pages'
//! streams (`stream`) pick from what it read.

pub mod feed;
pub mod lines;
pub mod orders;
pub mod stream;
