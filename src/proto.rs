//! The generated protobuf types and gRPC stubs of `livescan.v1`, and the
//! encoded descriptor set that gRPC reflection serves.

#![allow(clippy::all, missing_docs)]

tonic::include_proto!("livescan.v1");
// The server of `SessionService` (see build.rs).
include!(concat!(env!("OUT_DIR"), "/livescan.v1.SessionService.rs"));

/// Every file of `proto/` with its imports, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/livescan_descriptor.bin"));
