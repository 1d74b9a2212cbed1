//! The command-line client: live console rendering, the scan runner (in
//! process, pushed over gRPC, or polled over REST), the report documents,
//! and the account commands.

pub mod console;
pub mod keys;
pub mod report;
pub mod scan;
