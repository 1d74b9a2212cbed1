//! The command-line client: live console rendering, the scan runner (in
//! process, pushed over gRPC, or polled over REST), packing and uploading a
//! directory for a server that cannot see it, baselines of earlier scans,
//! the report documents, the tool list, the account commands, and the
//! durations flags take.

pub mod baseline;
pub mod console;
pub mod duration;
pub mod keys;
pub mod pack;
pub mod report;
pub mod scan;
pub mod tools;
