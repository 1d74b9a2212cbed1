//! The server as a target: hostile repositories, hostile clients, full disks
//! and signals. Each module takes one family of attacks against real
//! servers (the `livescan` binary where the process itself matters).

#[path = "../common/mod.rs"]
mod common;

mod addresses;
mod big_reports;
mod connections;
mod data_dir;
mod leaks;
mod operations;
mod protocol;
mod shared_state;
mod signals;
mod storage;
mod symlinks;
