//! The storage contract: list, describe and scan tables split by split.
//!
//! Two implementations: [`local`] (a folder of Parquet files, the embedded default) and
//! [`vast`] (the VAST DB tabular protocol). Both return identical rows for the same data and
//! filter.

mod data_version;
pub mod local;
#[cfg(test)]
pub(crate) mod testing;
pub mod vast;

use std::{collections::BTreeMap, fmt};

use arrow::{datatypes::SchemaRef, record_batch::RecordBatch};
use async_trait::async_trait;
use futures::stream::BoxStream;

pub use data_version::{DataPart, DataVersion};

use crate::predicate::Predicate;

/// A table address: `bucket/schema/table` on VAST, `schema/table` locally (empty bucket).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableRef {
    /// VAST bucket; empty on the local backend.
    pub bucket: String,
    /// Schema (a folder locally).
    pub schema: String,
    /// Table name.
    pub table: String,
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bucket.is_empty() {
            write!(f, "{}.{}", self.schema, self.table)
        } else {
            write!(f, "{}/{}.{}", self.bucket, self.schema, self.table)
        }
    }
}

/// A row of `ListTables`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// The table.
    pub table: TableRef,
    /// Rows, as the backend reports them.
    pub num_rows: u64,
    /// Stored bytes.
    pub size_bytes: u64,
}

/// What a backend knows of one table.
#[derive(Debug, Clone)]
pub struct TableMeta {
    /// The Arrow schema of the whole table.
    pub schema: SchemaRef,
    /// Row count.
    pub num_rows: u64,
    /// Stored bytes.
    pub size_bytes: u64,
    /// The unit of split planning: row groups locally, VAST row groups (65,536 rows) remotely.
    pub num_row_groups: u64,
    /// Integer columns whose stored statistics bound every value: name → (min, max), NULLs
    /// aside. Only what the backend trusts (Parquet min/max of every row group of signed
    /// integer columns); empty for VAST.
    pub int_ranges: BTreeMap<String, (i64, i64)>,
}

/// One read of a table: which columns and rows, and how to cut it up.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// Column indexes into the table schema, in output order; `None` = all columns.
    pub projection: Option<Vec<usize>>,
    /// Validated filter; the backend pushes down what it can and applies the rest exactly.
    pub predicate: Option<Predicate>,
    /// Sub-splits per split (VAST).
    pub num_sub_splits: u32,
    /// Rows per sub-split page (VAST).
    pub limit_rows_per_sub_split: u64,
    /// Backend queue priority (VAST `tabular-schedule-id`).
    pub priority: u32,
    /// String columns (table column indexes) that the backend may return as
    /// `Dictionary(Int32, Utf8)` arrays instead, where its data already is dictionary-encoded
    /// (Parquet): only a consumer that takes either kind asks (the analytics' group codes).
    pub dictionary_columns: Vec<usize>,
    /// Where the backend notes the endpoints that served the scan (the query log's list).
    pub endpoints: EndpointLog,
}

/// The endpoints that served a scan, and each split, shared by every clone (and so by every
/// split).
#[derive(Debug, Clone, Default)]
pub struct EndpointLog(std::sync::Arc<std::sync::Mutex<Endpoints>>);

#[derive(Debug, Default)]
struct Endpoints {
    /// In first-use order.
    all: Vec<String>,
    /// Per split index, in first-use order.
    by_split: std::collections::BTreeMap<u32, Vec<String>>,
    /// Splits whose read was hedged on a second endpoint.
    hedged: std::collections::BTreeSet<u32>,
}

impl EndpointLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Endpoints> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes that `endpoint` served pages of `split` (once each).
    pub fn add(&self, split: u32, endpoint: &str) {
        let mut log = self.lock();
        if !log.all.iter().any(|e| e == endpoint) {
            log.all.push(endpoint.to_owned());
        }
        let of_split = log.by_split.entry(split).or_default();
        if !of_split.iter().any(|e| e == endpoint) {
            of_split.push(endpoint.to_owned());
        }
    }

    /// Notes that the read of `split` was hedged on another endpoint.
    pub fn hedged(&self, split: u32) {
        self.lock().hedged.insert(split);
    }

    /// The endpoints noted so far, in first-use order.
    pub fn list(&self) -> Vec<String> {
        self.lock().all.clone()
    }

    /// The endpoints that served `split`, and whether its read was hedged.
    pub fn of_split(&self, split: u32) -> (Vec<String>, bool) {
        let log = self.lock();
        (
            log.by_split.get(&split).cloned().unwrap_or_default(),
            log.hedged.contains(&split),
        )
    }
}

/// What storage statistics and pushdown make of a filter before a scan
/// ([`Backend::filter_report`]), for the planner and `Explain`.
#[derive(Debug, Clone)]
pub struct FilterReport {
    /// Row groups (VAST: 65,536-row units) the statistics leave to read.
    pub row_groups_kept: u64,
    /// Rows in them.
    pub rows_kept: u64,
    /// Conjuncts of the filter the storage evaluates.
    pub pushed: Vec<Predicate>,
    /// Conjuncts only vastgate evaluates.
    pub residual: Vec<Predicate>,
}

impl FilterReport {
    /// Nothing pruned, nothing pushed: every row read, the whole filter applied by vastgate.
    pub fn unpruned(meta: &TableMeta, predicate: Option<&Predicate>) -> Self {
        Self {
            row_groups_kept: meta.num_row_groups,
            rows_kept: meta.num_rows,
            pushed: Vec::new(),
            residual: predicate
                .map_or_else(Vec::new, |p| p.conjuncts().into_iter().cloned().collect()),
        }
    }
}

/// One of `count` disjoint parts of a table; together the parts cover every row once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Zero-based index of this split.
    pub index: u32,
    /// Total number of splits.
    pub count: u32,
}

/// Errors of any backend. The message names the endpoint or file and what failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    /// No such bucket, schema or table.
    #[error("{what} not found")]
    NotFound {
        /// e.g. "table demo.sensorz".
        what: String,
    },
    /// The request cannot be served as asked (bad projection, unsupported type).
    #[error("{0}")]
    Invalid(String),
    /// A type or feature the backend does not support.
    #[error("{0}")]
    Unsupported(String),
    /// The storage is unreachable or failed; retrying (elsewhere) may help.
    #[error("{endpoint}: {message}")]
    Unavailable {
        /// Endpoint URL or file path.
        endpoint: String,
        /// What failed.
        message: String,
    },
    /// Data on storage is corrupt or unreadable.
    #[error("{location}: {message}")]
    Data {
        /// File or endpoint.
        location: String,
        /// What failed.
        message: String,
    },
}

impl BackendError {
    /// Whether trying the split again (on another endpoint) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, BackendError::Unavailable { .. })
    }
}

/// Health of one storage endpoint, for `AdminService/ListEndpoints`.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointStatus {
    /// The endpoint URL.
    pub url: String,
    /// False while recent calls keep failing.
    pub healthy: bool,
    /// Circuit breaker state: `closed`, `open` or `half_open`.
    pub breaker_state: String,
    /// Moving average of the time to a response head, in milliseconds.
    pub latency_ms: f64,
    /// Failures per request since start.
    pub error_rate: f64,
    /// Calls in flight now.
    pub in_flight: u32,
    /// Requests since start.
    pub requests: u64,
    /// Failures since start.
    pub errors: u64,
    /// Times ejected from the rotation since start.
    pub ejections: u64,
    /// Hedged split reads this endpoint served since start.
    pub hedges: u64,
    /// The last failure of a request or health probe (empty: none yet).
    pub last_error: String,
    /// When the last health probe ran, and whether it answered.
    pub last_probe: Option<(std::time::SystemTime, bool)>,
}

/// A stream of record batches of one split.
pub type SplitStream = BoxStream<'static, Result<RecordBatch, BackendError>>;

/// A storage backend.
#[async_trait]
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// Short name for logs and `Health`: `local` or `vast`.
    fn kind(&self) -> &'static str;
    /// Schemas in `bucket` (ignored locally).
    async fn list_schemas(&self, bucket: &str) -> Result<Vec<String>, BackendError>;
    /// Tables in a schema.
    async fn list_tables(
        &self,
        bucket: &str,
        schema: &str,
    ) -> Result<Vec<TableSummary>, BackendError>;
    /// Schema, row count and size of a table.
    async fn describe(&self, table: &TableRef) -> Result<TableMeta, BackendError>;
    /// Checks at start-up that the storage is what the configuration says (VAST: version
    /// probe, buckets). Errors mean the configuration is wrong; unreachable storage is not one.
    async fn startup_check(&self) -> Result<(), BackendError> {
        Ok(())
    }
    /// Health of each remote endpoint (none for a local backend).
    fn endpoints(&self) -> Vec<EndpointStatus> {
        Vec::new()
    }
    /// The backend's own Prometheus series (per-endpoint metrics), registered at start.
    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        Vec::new()
    }
    /// What the storage's statistics prune and which conjuncts it evaluates, for `predicate`
    /// over `table`, without reading rows. Splits of a scan with the same predicate are cut
    /// over the row groups kept.
    async fn filter_report(
        &self,
        _table: &TableRef,
        meta: &TableMeta,
        predicate: Option<&Predicate>,
    ) -> Result<FilterReport, BackendError> {
        Ok(FilterReport::unpruned(meta, predicate))
    }
    /// The table's data version per range of `time_column` (local: its files' paths, sizes,
    /// modification times and time spans); `None` where the storage exposes none (VAST).
    async fn data_version(
        &self,
        _table: &TableRef,
        _time_column: &str,
    ) -> Result<Option<DataVersion>, BackendError> {
        Ok(None)
    }
    /// Reads one split with projection and filter pushed down; the filter is applied exactly.
    fn scan(
        &self,
        table: &TableRef,
        meta: &TableMeta,
        req: &ScanRequest,
        split: Split,
    ) -> SplitStream;
}
