//! Compiles `proto/` with the pure-Rust `protox` compiler, so a fresh machine needs no `protoc`.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/vastgate/v1/common.proto",
        "proto/vastgate/v1/query.proto",
        "proto/vastgate/v1/analytics.proto",
        "proto/vastgate/v1/admin.proto",
        "proto/vastgate/v1/flight.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(protos, ["proto"])?;

    // Server reflection describes our services and Arrow Flight. The Flight types themselves come
    // from the `arrow-flight` crate, so Flight.proto only feeds this descriptor set.
    let reflection = protox::compile(
        protos
            .iter()
            .copied()
            .chain(["arrow/flight/protocol/Flight.proto"]),
        ["proto"],
    )?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let descriptor_path = out_dir.join("vastgate_descriptor.bin");
    std::fs::write(&descriptor_path, prost::Message::encode_to_vec(&reflection))?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Arrow payloads move as `Bytes`, so encoded IPC buffers are not copied again.
        .bytes(".vastgate.v1.ArrowChunk.data")
        // Maps as `BTreeMap`: one answer always encodes (and prints) the same way.
        .btree_map(".")
        // Hand-written (src/proto/moving_average_response.rs): the server sends points it
        // encoded while reading the engine's result.
        .extern_path(
            ".vastgate.v1.MovingAverageResponse",
            "crate::proto::MovingAverageResponse",
        )
        .compile_fds(fds)?;
    Ok(())
}
