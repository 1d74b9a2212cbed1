//! Compiles `proto/` without a system protoc: protox parses the files into a
//! descriptor set, which is written out for gRPC reflection and fed to
//! tonic-prost-build for the Rust types and service stubs.

use prost::Message;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/livescan/v1/session_service.proto";
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile([proto], ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("livescan_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // prost's codec, except that a request that does not decode is INVALID_ARGUMENT.
        .codec_path("crate::api::grpc::codec::LivescanCodec")
        .compile_fds(descriptors)?;
    Ok(())
}
