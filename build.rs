//! Compiles `proto/` without a system protoc: protox parses the files into a
//! descriptor set, which is written out for gRPC reflection and fed to
//! tonic-prost-build for the Rust types and the client. The server side of
//! `SessionService` is generated from the same descriptor with one change:
//! `WatchSession` sends messages that are already encoded, so an event is
//! encoded once for all of its watchers rather than once per watcher.

use prost::Message;
use std::path::PathBuf;

/// prost's codec, except that a request that does not decode is INVALID_ARGUMENT.
const CODEC: &str = "crate::api::grpc::codec::LivescanCodec";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/livescan/v1/session_service.proto";
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile([proto], ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("livescan_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    let service = descriptors
        .file
        .iter()
        .filter(|file| file.package() == "livescan.v1")
        .flat_map(|file| &file.service)
        .find(|service| service.name() == "SessionService")
        .expect("proto/ defines livescan.v1.SessionService");
    tonic_build::manual::Builder::new()
        .build_client(false)
        .out_dir(&out_dir)
        .compile(&[server_of(service)]);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .codec_path(CODEC)
        .compile_fds(descriptors)?;
    Ok(())
}

/// The service's server, its methods as the descriptor declares them,
/// except that `WatchSession` streams pre-encoded messages.
fn server_of(service: &prost_types::ServiceDescriptorProto) -> tonic_build::manual::Service {
    let rust_type = |proto_type: &str| {
        let name = proto_type.rsplit('.').next().unwrap_or(proto_type);
        format!("crate::proto::{name}")
    };
    let mut builder = tonic_build::manual::Service::builder()
        .name(service.name())
        .package("livescan.v1");
    for method in &service.method {
        let watch = method.name() == "WatchSession";
        let mut built = tonic_build::manual::Method::builder()
            .name(snake_case(method.name()))
            .route_name(method.name())
            .input_type(rust_type(method.input_type()))
            .output_type(if watch {
                "crate::api::grpc::codec::Encoded".to_string()
            } else {
                rust_type(method.output_type())
            })
            .codec_path(if watch {
                "crate::api::grpc::codec::EncodedCodec"
            } else {
                CODEC
            });
        if method.client_streaming() {
            built = built.client_streaming();
        }
        if method.server_streaming() {
            built = built.server_streaming();
        }
        builder = builder.method(built.build());
    }
    builder.build()
}

fn snake_case(name: &str) -> String {
    let mut snake = String::new();
    for (i, c) in name.char_indices() {
        if c.is_ascii_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    snake
}
