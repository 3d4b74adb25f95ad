//! Running the shop: `/healthz`, `/metrics`, the log, the data disk's free space, backups and
//! the files' permissions.

pub mod backup;
pub mod disk_space;
pub mod health;
pub mod monitoring;
pub mod private_files;
pub mod telemetry;
