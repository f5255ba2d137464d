//! A VAST DB protocol server over a folder of Parquet files (`vastgate emulate`).
//!
//! Serves `DATA/<schema>/<table>.parquet` (or folders of Parquet files) as one bucket over the
//! same HTTP protocol the official SDK speaks (`docs/vast-protocol-notes.md`): version probe,
//! transactions, head bucket, paged schema and table listings, stats, columns and `query_data`
//! with splits, sub-splits, row limits, paging and interleaved per-column frames; the filter
//! is evaluated exactly. Every request must carry a valid SigV4 signature.
//!
//! Several emulators over one folder behave as one cluster: transaction ids are
//! self-authenticating (a nonce and its HMAC under the secret key), so any member accepts a
//! transaction begun on another, with no shared state.
//!
//! # Layout
//! - `auth`: SigV4 verification and transaction ids.
//! - `call`: the parsed request, S3 XML errors, plain responses: what every handler shares.
//! - `http`: routing; the emulator's own `/_emulator/*` endpoints.
//! - `meta`: listings, stats, columns.
//! - `query`: `query_data` requests: relation decoding and the response stream.
//! - `filter`: the compute-IR filter as a [`crate::predicate::Predicate`] with typed literals.
//! - `pages`: reading one page of one sub-split from Parquet, filtered exactly.
//! - `faults`: seeded fault injection (latency, errors, dropped connections, stalls).
//! - `tls`: HTTPS (`--tls-cert`, `--tls-key`).

mod auth;
mod call;
mod faults;
pub(crate) mod filter;
mod http;
mod meta;
mod pages;
mod query;
mod tls;

use std::{path::PathBuf, sync::Arc};

pub use faults::FaultConfig;
pub use tls::TlsFiles;

use crate::backend::local::LocalBackend;

/// The version the emulator reports in its `Server` header (before 5.5, so the SDK asks
/// `?sorted-columns` instead of requiring sort metadata on every column).
pub const SERVER_VERSION: &str = "vast 5.4.0.0";

/// What one emulator serves and how.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Folder served as the bucket.
    pub data_dir: PathBuf,
    /// Bucket name.
    pub bucket: String,
    /// Access key clients must sign with.
    pub access_key: String,
    /// Secret key clients must sign with; also keys transaction ids.
    pub secret_key: String,
    /// Faults to inject from the start (changeable at run time via `POST /_emulator/faults`).
    pub faults: FaultConfig,
    /// Serve HTTPS with this certificate instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Keep encoded `query_data` pages up to this many bytes and serve repeated requests from
    /// memory (0: off). Lets a benchmark measure clients rather than the emulator's Parquet
    /// decoding.
    pub page_cache_bytes: u64,
}

/// Shared state of one running emulator.
#[derive(Debug)]
struct Emulator {
    config: EmulatorConfig,
    local: LocalBackend,
    faults: faults::Faults,
    /// Encoded pages by request (see [`EmulatorConfig::page_cache_bytes`]).
    page_cache: Option<moka::future::Cache<query::PageKey, query::Frames>>,
    /// Transaction calls served, for `GET /_emulator/stats`.
    transactions: TransactionCounts,
    /// `query_data` requests received, for `GET /_emulator/stats`.
    query_data_calls: std::sync::atomic::AtomicU64,
}

/// Transaction calls served, by kind (ids are stateless, so these are all there is to see).
#[derive(Debug, Default)]
struct TransactionCounts {
    begun: std::sync::atomic::AtomicU64,
    committed: std::sync::atomic::AtomicU64,
    rolled_back: std::sync::atomic::AtomicU64,
    /// `GET /?transaction` status calls (keep-alives).
    status: std::sync::atomic::AtomicU64,
}

/// Serves the VAST protocol on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: EmulatorConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = config.tls.as_ref().map(tls::acceptor).transpose()?;
    let local = LocalBackend::new(config.data_dir.clone(), 65_536);
    let faults = faults::Faults::new(config.faults.clone());
    let page_cache = (config.page_cache_bytes > 0).then(|| {
        moka::future::Cache::builder()
            .max_capacity(config.page_cache_bytes)
            .weigher(|_, frames: &query::Frames| {
                let bytes: usize = frames.iter().map(|f| f.len()).sum();
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .build()
    });
    let state = Arc::new(Emulator {
        config,
        local,
        faults,
        page_cache,
        transactions: TransactionCounts::default(),
        query_data_calls: std::sync::atomic::AtomicU64::new(0),
    });
    let app = http::router(state);
    match acceptor {
        None => {
            axum::serve(crate::server::http_connections(listener), app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(acceptor) => {
            let listener = tls::TlsListener {
                tcp: listener,
                acceptor,
            };
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}
