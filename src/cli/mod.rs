//! The command-line client: live console rendering and the scan runner.

pub mod console;
pub mod scan;
