//! Compiles the `.proto` contracts under this crate into Rust.
//!
//! 1. `protox` (a pure-Rust protobuf compiler, no `protoc` needed; the
//!    `google/protobuf/*` well-known types are built in) parses every file
//!    listed in [`PROTOS`] into a `FileDescriptorSet`, with source info so the
//!    proto comments become rustdoc.
//! 2. The encoded set is written to `$OUT_DIR/sextant_descriptor.bin`; the
//!    library exposes it as `FILE_DESCRIPTOR_SET` (for `tonic-reflection`).
//! 3. `tonic-prost-build` generates prost messages plus tonic client and server
//!    stubs, one `$OUT_DIR/<proto.package>.rs` per protobuf package.

use std::{env, error::Error, fs, path::PathBuf};

use prost::Message;

/// Every compiled proto file, relative to the crate root (the include root).
const PROTOS: &[&str] = &[
    "jaeger/api_v2/model.proto",
    "jaeger/api_v2/collector.proto",
    "jaeger/api_v2/query.proto",
    "jaeger/api_v2/sampling.proto",
    "jaeger/api_v3/query_service.proto",
    "jaeger/api_v3/capabilities.proto",
    "jaeger/expression/v1/expression.proto",
    "jaeger/storage/v1/storage.proto",
    "opentelemetry/proto/common/v1/common.proto",
    "opentelemetry/proto/resource/v1/resource.proto",
    "opentelemetry/proto/trace/v1/trace.proto",
    "opentelemetry/proto/collector/trace/v1/trace_service.proto",
    "zipkin/zipkin.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    println!("cargo:rerun-if-changed=build.rs");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }

    let files: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();
    let fds = protox::compile(&files, [&root])?;

    fs::write(out_dir.join("sextant_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;

    Ok(())
}
