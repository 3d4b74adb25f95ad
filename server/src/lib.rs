//! The Holdfast server: configuration, storage, and the axum application that serves the Leptos
//! app, its server functions and static assets.

pub mod admin;
pub mod api_guard;
pub mod assets;
pub mod backup;
pub mod body;
pub mod config;
mod connection;
pub mod desk;
pub mod disk_space;
pub mod health;
pub mod language_switch;
pub mod live_feed;
pub mod live_lines;
pub mod live_orders;
pub mod live_stream;
pub mod load;
pub mod monitoring;
pub mod origin;
pub mod page_cache;
pub mod private_files;
pub mod rate_limit;
pub mod rehearsal;
pub mod request_id;
pub mod request_target;
pub mod security_headers;
pub mod seed;
pub mod serve;
pub mod shop_look;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod url_error;
pub mod usher;

pub use config::Config;
pub use startup::Application;
