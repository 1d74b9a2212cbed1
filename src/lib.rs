//! livescan: runs a catalog of scanning tools against a directory, a URL or a
//! list of URLs, and pushes each tool's report to clients as soon as it finishes.
//!
//! Layers (imports run one way): `api` -> `engine` -> `tools`, `store` -> `model`.
//! Nothing below `api` knows about tonic or axum.

#![recursion_limit = "256"] // the OpenAPI document is one large `json!`

pub mod api;
pub mod engine;
pub mod model;
pub mod proto;
pub mod store;
pub mod tools;
