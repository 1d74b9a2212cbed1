//! What the catalog reports on real-looking code: findings about code
//! written here, not about vendored, generated or minified copies; and the
//! rule packs shipped for the external scanners proven rule by rule.

#[path = "../common/mod.rs"]
mod common;

mod origins;
mod rule_packs;
