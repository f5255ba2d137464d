//! The VAST DB tabular protocol (`docs/vast-protocol-notes.md`): pieces shared by the client
//! backend and the emulator.
//!
//! # Layout
//! - `sigv4`: request signing and verification exactly as the official SDK signs.
//! - `wire`: planus-generated flatbuffers (tabular responses, compute-IR, Arrow schema types).
//! - `relation`: the `query_data` body (compute-IR `Relation`) as plain Rust values.
//! - `frames`: the `query_data` response framing.

pub mod frames;
pub mod relation;
pub mod sigv4;
pub(crate) mod wire;
