//! What the catalog reports on real-looking code: findings about code
//! written here, not about vendored, generated or minified copies; the rule
//! packs shipped for the external scanners proven rule by rule; and
//! dependency advisories kept current offline.

#[path = "../common/mod.rs"]
mod common;

mod advisories;
mod origins;
mod rule_packs;
