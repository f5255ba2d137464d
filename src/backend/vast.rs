//! The VAST DB tabular protocol (`docs/vast-protocol-notes.md`): pieces shared by the client
//! backend and the emulator.
//!
//! # Layout
//! - `sigv4`: request signing and verification exactly as the official SDK signs.
//! - `wire`: planus-generated flatbuffers (tabular responses, compute-IR, Arrow schema types).
//! - `relation`: the `query_data` body (compute-IR `Relation`) as plain Rust values.
//! - `frames`: the `query_data` response framing.
//! - `client`: one endpoint over HTTP/1.1: signing, tabular headers, S3 XML errors.
//! - `tls`: HTTPS settings (CA file, a TLS server name per endpoint).
//! - `meta`: [`VastBackend`]: failover, transactions, listings, stats, columns.
//! - `stats`: per-endpoint health counters for `AdminService/ListEndpoints`.
//! - `probe`: the start-up version probe and bucket check.
//! - `breaker`: a circuit breaker per endpoint and the load-aware endpoint choice.
//! - `request`, `response`, `scan`: the `query_data` body, the response decoder, split reads
//!   with resume-on-failure.

mod breaker;
#[cfg(test)]
mod ceiling;
mod client;
pub mod frames;
mod meta;
mod probe;
mod pushdown;
pub mod relation;
mod request;
mod response;
mod scan;
pub mod sigv4;
mod stats;
mod tls;
pub(crate) mod wire;

pub use meta::{ROW_GROUP_ROWS, VastBackend};
