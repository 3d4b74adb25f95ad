//! The integration tests, one binary: each module is what was once a test file of its own.
//! One binary links the server once instead of once per file (`cargo test --test suite <module>`
//! runs one module). The process's metrics recorder is global, so `/metrics` is tested in its own
//! binary (`tests/metrics.rs`).

#[macro_use]
mod common;

mod admin;
mod admin_language;
mod admin_live;
mod admin_orders;
mod admin_products;
mod api;
mod assets;
mod attacks;
mod crash;
mod edge_fuzz;
mod full_disk;
mod keep_alive;
mod language;
mod live;
mod logs;
mod operations;
mod pages;
mod phone_migration;
mod postgres_faults;
mod queue;
mod race;
mod rehearsal;
mod resend;
mod rules_props;
mod scale_out;
mod shop_settings;
mod store;
mod time_migration;
mod waiting_room;
