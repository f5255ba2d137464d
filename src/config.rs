//! The configuration tree: one struct per subsystem, every field documented.
//!
//! Sources, lowest precedence first: built-in defaults < TOML file < `VASTGATE__SECTION__KEY`
//! environment variables < command-line flags. [`Config::from_sources`] takes the environment as
//! a map so tests never mutate the process environment.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

/// Why a configuration could not be loaded. The message names the key or file to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or a value could not be parsed.
    #[error("invalid configuration: {0}")]
    Parse(#[from] config::ConfigError),
    /// A value parsed but makes no sense.
    #[error("invalid configuration: `{key}` {problem}")]
    Invalid {
        /// The dotted key, e.g. `engine.workers`.
        key: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A secret file could not be read.
    #[error("invalid configuration: `{key}`: cannot read {path}: {source}")]
    SecretFile {
        /// The dotted key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The whole service configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listeners and request limits.
    pub server: ServerConfig,
    /// Which storage backend serves the tables.
    pub backend: BackendConfig,
    /// The local Parquet folder backend.
    pub local: LocalConfig,
    /// The VAST DB backend.
    pub vast: VastConfig,
    /// Table metadata cache.
    pub catalog: CatalogConfig,
    /// Split planning and the split executor.
    pub exec: ExecConfig,
    /// The DuckDB worker pool.
    pub engine: EngineConfig,
    /// The query log.
    pub monitor: MonitorConfig,
    /// Arrow Flight.
    pub flight: FlightConfig,
    /// Logging.
    pub telemetry: TelemetryConfig,
}

/// Listeners and request limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// gRPC (and Arrow Flight) listen address; port 0 picks a free port.
    pub grpc_listen: SocketAddr,
    /// HTTP listen address for `/metrics`, `/healthz`, `/readyz`; port 0 picks a free port.
    pub http_listen: SocketAddr,
    /// Requests served at once; more wait in line until `max_pending`.
    pub max_concurrent_requests: usize,
    /// Requests that may wait for a slot before new ones get `RESOURCE_EXHAUSTED`.
    pub max_pending_requests: usize,
    /// Deadline for a request without a `grpc-timeout` (and the upper bound of one).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Largest `limit` a Select may ask for (0 = no limit).
    pub max_select_limit: u64,
    /// Time given to in-flight requests on shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How often memory freed by requests is handed back to the OS (0 = never: the resident
    /// size then stays at its peak). In between it is reused without page faults.
    #[serde(with = "humantime_serde")]
    pub memory_release_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            max_concurrent_requests: 64,
            max_pending_requests: 256,
            request_timeout: Duration::from_secs(300),
            max_select_limit: 1_000_000_000,
            shutdown_grace: Duration::from_secs(10),
            memory_release_interval: crate::allocator::DEFAULT_RELEASE_INTERVAL,
        }
    }
}

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

/// The local Parquet folder backend: `DATA/<schema>/<table>.parquet` or `DATA/<schema>/<table>/*.parquet`.
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

/// Split planning and the split executor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecConfig {
    /// Target rows per split when the planner chooses the split count.
    pub rows_per_split: u64,
    /// Upper bound on splits per query (hints included).
    pub max_splits: u32,
    /// Splits read at once per query.
    pub split_concurrency: usize,
    /// Record batches buffered per query between the splits and the consumer.
    pub channel_capacity: usize,
    /// Attempts per split before the query fails.
    pub split_attempts: u32,
    /// Sub-splits per split (VAST server-side parallelism).
    pub num_sub_splits: u32,
    /// Rows per sub-split page (VAST `tabular-limit-rows`).
    pub limit_rows_per_sub_split: u64,
}

impl Default for ExecConfig {
    fn default() -> Self {
        Self {
            rows_per_split: 1_000_000,
            max_splits: 64,
            split_concurrency: 4,
            channel_capacity: 8,
            split_attempts: 3,
            num_sub_splits: 4,
            limit_rows_per_sub_split: 131_072,
        }
    }
}

/// The DuckDB worker pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// DuckDB connections that run analytics at once.
    pub workers: usize,
    /// DuckDB threads per worker.
    pub threads_per_worker: usize,
    /// DuckDB memory limit for the whole database, e.g. `4GB`.
    pub memory_limit: String,
    /// Requests that may wait for a worker before new ones get `RESOURCE_EXHAUSTED`.
    pub max_queue: usize,
    /// Most rows an `Sql` request returns.
    pub max_result_rows: u64,
    /// Most rows (points, anomalies, buckets…) one typed analytics response may hold; larger
    /// results are refused with a message to narrow the filter or use `Sql` / Flight.
    pub max_response_rows: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            threads_per_worker: 2,
            memory_limit: "4GB".to_owned(),
            max_queue: 32,
            max_result_rows: 1_000_000,
            max_response_rows: 250_000,
        }
    }
}

/// The query log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Finished queries kept in memory.
    pub query_log_size: usize,
    /// Queries slower than this are flagged slow.
    #[serde(with = "humantime_serde")]
    pub slow_query_threshold: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            query_log_size: 10_000,
            slow_query_threshold: Duration::from_secs(1),
        }
    }
}

/// Arrow Flight.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlightConfig {
    /// Key that signs tickets (redacted in `GetConfig`); generated at start when empty.
    pub ticket_key: String,
    /// How long a ticket stays valid.
    #[serde(with = "humantime_serde")]
    pub ticket_ttl: Duration,
}

impl Default for FlightConfig {
    fn default() -> Self {
        Self {
            ticket_key: String::new(),
            ticket_ttl: Duration::from_secs(3600),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// `pretty` or `json`.
    pub log_format: LogFormat,
    /// Log filter used when `RUST_LOG` is not set.
    pub log_filter: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Pretty,
            log_filter: "info".to_owned(),
        }
    }
}

/// Prefix of environment variables that set config keys: `VASTGATE__ENGINE__WORKERS=4`.
pub const ENV_PREFIX: &str = "VASTGATE";

impl Config {
    /// Loads defaults, then `file` (if any), then the `VASTGATE__*` entries of `env`.
    pub fn from_sources(
        file: Option<&std::path::Path>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let env_source = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("vast.endpoints")
            .with_list_parse_key("vast.buckets")
            .try_parsing(true)
            .source(Some(
                env.iter()
                    .filter(|(k, _)| k.starts_with("VASTGATE__"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ));
        let config: Config = builder.add_source(env_source).build()?.try_deserialize()?;
        config.resolve_secrets()?.validated()
    }

    /// Loads from a TOML string (tests, examples).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()?
            .try_deserialize()?;
        config.resolve_secrets()?.validated()
    }

    fn resolve_secrets(mut self) -> Result<Self, ConfigError> {
        if let Some(path) = &self.vast.secret_key_file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
                key: "vast.secret_key_file",
                path: path.clone(),
                source,
            })?;
            self.vast.secret_key = text.trim().to_owned();
        }
        Ok(self)
    }

    /// Checks values that parse but cannot work.
    pub fn validated(self) -> Result<Self, ConfigError> {
        fn positive(key: &'static str, value: u64) -> Result<(), ConfigError> {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    key,
                    problem: "must be greater than 0".to_owned(),
                });
            }
            Ok(())
        }
        positive(
            "server.max_concurrent_requests",
            self.server.max_concurrent_requests as u64,
        )?;
        positive(
            "server.request_timeout",
            self.server.request_timeout.as_millis() as u64,
        )?;
        positive("local.batch_rows", self.local.batch_rows as u64)?;
        positive("catalog.max_entries", self.catalog.max_entries)?;
        positive("catalog.ttl", self.catalog.ttl.as_millis() as u64)?;
        if !(0.0..=1.0).contains(&self.catalog.refresh_ahead_fraction) {
            return Err(ConfigError::Invalid {
                key: "catalog.refresh_ahead_fraction",
                problem: format!(
                    "must be between 0 and 1, got {}",
                    self.catalog.refresh_ahead_fraction
                ),
            });
        }
        positive("exec.rows_per_split", self.exec.rows_per_split)?;
        positive("exec.max_splits", u64::from(self.exec.max_splits))?;
        positive("exec.split_concurrency", self.exec.split_concurrency as u64)?;
        positive("exec.channel_capacity", self.exec.channel_capacity as u64)?;
        positive("exec.split_attempts", u64::from(self.exec.split_attempts))?;
        positive("exec.num_sub_splits", u64::from(self.exec.num_sub_splits))?;
        positive(
            "exec.limit_rows_per_sub_split",
            self.exec.limit_rows_per_sub_split,
        )?;
        positive("engine.workers", self.engine.workers as u64)?;
        positive(
            "engine.threads_per_worker",
            self.engine.threads_per_worker as u64,
        )?;
        positive("engine.max_result_rows", self.engine.max_result_rows)?;
        positive("engine.max_response_rows", self.engine.max_response_rows)?;
        positive("monitor.query_log_size", self.monitor.query_log_size as u64)?;
        if self.backend.kind == BackendKind::Vast {
            if self.vast.endpoints.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "vast.endpoints",
                    problem: "must list at least one URL when backend.kind = \"vast\"".to_owned(),
                });
            }
            for url in &self.vast.endpoints {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError::Invalid {
                        key: "vast.endpoints",
                        problem: format!("`{url}` must start with http:// or https://"),
                    });
                }
            }
        }
        Ok(self)
    }

    /// The effective configuration as TOML with secrets replaced by `***`.
    pub fn redacted_toml(&self) -> String {
        let mut copy = self.clone();
        if !copy.vast.secret_key.is_empty() {
            copy.vast.secret_key = "***".to_owned();
        }
        if !copy.flight.ticket_key.is_empty() {
            copy.flight.ticket_key = "***".to_owned();
        }
        toml_string(&copy)
    }
}

fn toml_string(config: &Config) -> String {
    // `config` has no TOML serializer; JSON keeps the same structure and is what we can emit
    // without another dependency. Rendered as TOML-ish `key = value` lines per section.
    let value = serde_json::to_value(config).unwrap_or_default();
    let mut out = String::new();
    if let serde_json::Value::Object(sections) = value {
        for (section, fields) in sections {
            out.push_str(&format!("[{section}]\n"));
            if let serde_json::Value::Object(fields) = fields {
                for (key, value) in fields {
                    if !value.is_null() {
                        out.push_str(&format!("{key} = {value}\n"));
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests;
