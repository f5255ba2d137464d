//! The VAST DB tabular protocol (`docs/vast-protocol-notes.md`): what the client backend
//! (`backend::vast`) and the emulator both speak, owned by neither.
//!
//! - [`sigv4`]: request signing and verification exactly as the official SDK signs.
//! - [`wire`]: planus-generated flatbuffers (tabular responses, compute-IR, Arrow schema types).
//! - [`relation`]: the `query_data` body (compute-IR `Relation`) as plain Rust values.
//! - [`frames`]: the `query_data` response framing.
//! - [`s3_error`]: the S3 XML error body of a failed call.

pub mod frames;
pub mod relation;
pub mod s3_error;
pub mod sigv4;
pub(crate) mod wire;
