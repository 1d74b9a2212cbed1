//! The command-line client: live console rendering, the scan runner, and
//! the account commands.

pub mod console;
pub mod keys;
pub mod scan;
