//! How the service runs: listeners and limits, split execution, the DuckDB pool, the query
//! log, Arrow Flight and logging.

use std::{net::SocketAddr, time::Duration};

use serde::{Deserialize, Serialize};

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
    /// A bearer token `/metrics` asks for (empty: `/metrics` is open).
    pub metrics_token: String,
    /// TLS on both ports.
    pub tls: super::TlsConfig,
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
            metrics_token: String::new(),
            tls: super::TlsConfig::default(),
        }
    }
}

/// Split planning and the split executor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecConfig {
    /// `adaptive`: size splits, sub-splits and pages from the table, the filter, the query
    /// kind and the healthy endpoints; `fixed`: the values below as they are.
    pub planner: PlannerMode,
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
            planner: PlannerMode::Adaptive,
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

/// How splits, sub-splits and pages are sized ([`crate::plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannerMode {
    /// From the table's statistics, the filter, the query kind and the healthy endpoints.
    #[default]
    Adaptive,
    /// `rows_per_split`, `num_sub_splits` and `limit_rows_per_sub_split` as configured.
    Fixed,
}

impl PlannerMode {
    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            PlannerMode::Adaptive => "adaptive",
            PlannerMode::Fixed => "fixed",
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
