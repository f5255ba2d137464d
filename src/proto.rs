//! Code generated from `proto/vastgate/v1/*.proto` by the build script.

#![allow(missing_docs, unreachable_pub, clippy::all, clippy::clone_on_ref_ptr)]
#![allow(missing_debug_implementations)]

tonic::include_proto!("vastgate.v1");

mod moving_average_response;
pub use moving_average_response::{MovingAverageResponse, PointWriter};

/// Encoded `FileDescriptorSet` of our protos, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/vastgate_descriptor.bin"));
