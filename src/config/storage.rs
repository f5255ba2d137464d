//! Where the service sits: what it stores tables in and how table metadata is cached.

use std::{collections::HashMap, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use super::cluster::{BalanceKind, BreakerConfig, HealthConfig, HedgeConfig};

/// Backend selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// A local folder of Parquet files (the embedded default).
    #[default]
    Local,
    /// VAST DB clusters over the tabular protocol.
    Vast,
}

/// Which storage backend serves the tables.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendConfig {
    /// `local` or `vast`.
    pub kind: BackendKind,
}

/// The local Parquet folder backend: `DATA/<schema>/<table>.parquet` or
/// `DATA/<schema>/<table>/*.parquet`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// The data folder.
    pub data_dir: PathBuf,
    /// Rows per record batch read from Parquet (64k: see deploy/vastgate.example.toml).
    pub batch_rows: usize,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            batch_rows: 65_536,
        }
    }
}

/// The VAST DB backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VastConfig {
    /// Endpoint URLs, e.g. `http://10.0.0.1:80`; every one serves every split.
    pub endpoints: Vec<String>,
    /// S3 access key.
    pub access_key: String,
    /// S3 secret key (redacted in `GetConfig`).
    pub secret_key: String,
    /// Read the secret key from this file instead.
    pub secret_key_file: Option<PathBuf>,
    /// Buckets to expose.
    pub buckets: Vec<String>,
    /// Timeout to connect to an endpoint.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Timeout for one HTTP request (a page of a split).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How often a long read tells the cluster its transaction is still in use
    /// (`GET /?transaction`); `0s` turns it off.
    #[serde(with = "humantime_serde")]
    pub tx_keepalive: Duration,
    /// PEM file of extra CA certificates for HTTPS endpoints.
    pub ca_file: Option<PathBuf>,
    /// TLS server name per endpoint URL, for IP endpoints behind a hostname certificate.
    pub tls_server_names: HashMap<String, String>,
    /// How split reads are spread: `p2c` or `round_robin`.
    pub balance: BalanceKind,
    /// Outlier ejection per endpoint.
    pub breaker: BreakerConfig,
    /// Active health checks.
    pub health: HealthConfig,
    /// Hedged split reads.
    pub hedge: HedgeConfig,
}

impl Default for VastConfig {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            access_key: String::new(),
            secret_key: String::new(),
            secret_key_file: None,
            buckets: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            tx_keepalive: Duration::from_secs(30),
            ca_file: None,
            tls_server_names: HashMap::new(),
            balance: BalanceKind::default(),
            breaker: BreakerConfig::default(),
            health: HealthConfig::default(),
            hedge: HedgeConfig::default(),
        }
    }
}

/// Table metadata cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// How long table metadata is trusted.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Entries older than this fraction of `ttl` are refreshed in the background on a hit.
    pub refresh_ahead_fraction: f64,
    /// Tables kept at most.
    pub max_entries: u64,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(60),
            refresh_ahead_fraction: 0.8,
            max_entries: 10_000,
        }
    }
}
