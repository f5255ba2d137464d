//! vastgate: a gRPC analytics service in front of VAST DB clusters.
//!
//! It pushes filters down to storage, reads the matching rows split-parallel as Arrow record
//! batches, runs analytics on them in a pool of embedded DuckDB workers, and serves the results
//! over gRPC and Arrow Flight.
//!
//! # Layout
//!
//! - [`allocator`]: jemalloc, keeping freed pages, handing them back to the OS on a timer.
//! - [`cli`]: command line (`serve`, `emulate`, `gen-data`, `token new`).
//! - [`config`]: the configuration tree, loaded from defaults, TOML and `VASTGATE__*` env vars.
//! - [`telemetry`]: log output.
//! - [`metrics`]: the Prometheus registry and typed metric handles.
//! - [`error`]: the service error and its one mapping to gRPC status codes.
//! - [`server`]: listeners and our TLS acceptor, tower layers (authentication, admission),
//!   routes, `/metrics`, SIGHUP reload, draining shutdown.
//! - [`auth`]: who is calling: tokens with roles, client certificate names, the role a method
//!   needs.
//! - [`api`]: gRPC and Flight handlers: thin adapters between proto and [`request`].
//! - [`request`]: one query's life, protocol-free: tracked, resolved, validated, planned. A
//!   typed analytic is run by `request::typed` (run to the end, then decoded) and run again by
//!   `request::rerun` when a choice of `request::start` does not hold.
//! - [`catalog`]: table metadata cache (moka) with refresh-ahead and statistics.
//! - [`partials`]: incremental analytics: partial states per closed time bucket, in memory
//!   and shared through Redis; `request::incremental` answers from them.
//! - [`predicate`]: the filter tree, validated against a table schema and evaluated on Arrow.
//! - [`plan`]: how many splits a scan uses.
//! - [`exec`]: the split executor: bounded, cancellable, merging split streams.
//! - [`engine`]: the DuckDB worker pool: sandboxed connections, the input as an Arrow stream
//!   read through the CTE `t`, cancel.
//! - [`analytics`]: one module per analytic, where a typed analytic is planned (`plan`: request
//!   → columns + SQL over the input `t`) and decoded (`decode`: result → typed response);
//!   group codes and 8-bit integer groups.
//! - [`sql`]: client SQL (Flight SQL, the `Sql` RPC) parsed by DuckDB's own parser: the one
//!   guard, the tables a statement reads, the filters pushed into their scans, the rewrite.
//! - [`backend`]: the storage contract, the local Parquet backend and the VAST client backend.
//! - `cluster`: the VAST endpoints as tower services, where an endpoint is chosen (p2c for
//!   split reads, lowest latency for metadata), ejected, probed and hedged around.
//! - [`vast_protocol`]: the VAST DB protocol the client and the emulator share.
//! - [`emulator`]: a VAST DB protocol server over a Parquet folder (`vastgate emulate`).
//! - [`state`]: the shared state handed to every handler.
//! - [`monitor`]: the query log: running and recent queries, slow queries, trends, export.
//! - [`gen_data`]: the deterministic demo dataset.
//! - [`proto`]: code generated from `proto/`.

pub mod allocator;
pub mod analytics;
pub mod api;
pub mod auth;
pub mod backend;
pub mod catalog;
pub mod cli;
pub mod client;
mod cluster;
pub mod config;
pub mod emulator;
pub mod engine;
pub mod error;
pub mod exec;
pub mod gen_data;
pub mod metrics;
pub mod monitor;
pub mod partials;
pub mod plan;
pub mod predicate;
pub mod probe;
pub mod progress;
pub mod proto;
pub mod request;
pub mod server;
pub mod sql;
pub mod state;
pub mod telemetry;
pub mod vast_protocol;
mod waiting;

#[cfg(test)]
mod fuzz;
