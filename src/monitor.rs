//! The query log: running queries (cancellable), a ring of recent ones, slow queries,
//! performance trends and export as JSON or CSV.

mod export;
mod trends;
pub mod watch;

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{
    config::MonitorConfig,
    exec::{ScanStats, SplitRecord},
};

pub use export::ExportFormat;
pub use trends::TrendBucket;

/// How a query ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryState {
    /// Still running.
    Running,
    /// Finished successfully.
    Ok,
    /// Failed.
    Error,
    /// Cancelled by the client, an operator or a deadline.
    Cancelled,
}

impl QueryState {
    /// Lower-case name used in the API and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryState::Running => "running",
            QueryState::Ok => "ok",
            QueryState::Error => "error",
            QueryState::Cancelled => "cancelled",
        }
    }
}

/// A snapshot of one query, running or finished.
#[derive(Debug, Clone, Serialize)]
pub struct QueryRecord {
    /// The `x-query-id`.
    pub query_id: String,
    /// RPC name, e.g. `Select`.
    pub method: String,
    /// Who asked: the token's or client certificate's name (`anonymous` without auth).
    pub caller: String,
    /// Table, as `schema.table`.
    pub table: String,
    /// Outcome.
    pub state: QueryState,
    /// Wall-clock start.
    #[serde(with = "unix_millis")]
    pub started: SystemTime,
    /// Time so far, or total time.
    pub duration_ms: f64,
    /// Rows the backend delivered.
    pub rows_scanned: u64,
    /// Rows sent to the client.
    pub rows_returned: u64,
    /// Arrow bytes the backend delivered.
    pub bytes_scanned: u64,
    /// Splits planned.
    pub splits: u32,
    /// Splits finished.
    pub splits_done: u32,
    /// Where a running query is: `starting` (no split planned yet), `scanning` (splits
    /// left), `finishing` (every split read; the engine or the reply still working); a
    /// finished one's is its state.
    pub phase: String,
    /// Each split: state, endpoints, rows, bytes, retries, waits.
    pub split_details: Vec<SplitRecord>,
    /// Endpoints that served splits.
    pub endpoints: Vec<String>,
    /// Whether table metadata came from the cache.
    pub cache_hit: bool,
    /// Slower than the slow-query threshold.
    pub slow: bool,
    /// The error, if it failed.
    pub error: String,
}

mod unix_millis {
    use std::time::{SystemTime, UNIX_EPOCH};

    pub(super) fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let ms = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        s.serialize_u64(u64::try_from(ms).unwrap_or(u64::MAX))
    }
}

/// A query while it runs; shared between its handler and the log.
#[derive(Debug)]
pub struct RunningQuery {
    id: String,
    method: String,
    caller: String,
    table: Mutex<String>,
    started: SystemTime,
    start: Instant,
    /// Cancels the query's scans and engine work.
    pub cancel: CancellationToken,
    /// Scan counters, filled in by the executor.
    pub scan: Arc<ScanStats>,
    rows_returned: AtomicU64,
    splits: AtomicU64,
    cache_hit: AtomicBool,
}

impl RunningQuery {
    /// The query id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Who asked.
    pub fn caller(&self) -> &str {
        &self.caller
    }
    /// Records the table once it is known.
    pub fn set_table(&self, table: impl ToString) {
        if let Ok(mut t) = self.table.lock() {
            *t = table.to_string();
        }
    }
    /// Splits planned so far (0 for calls that read no table).
    pub fn splits(&self) -> u64 {
        self.splits.load(Ordering::Relaxed)
    }
    /// Time since the query started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
    /// Records the planned split count.
    pub fn set_splits(&self, splits: u32) {
        self.splits.store(u64::from(splits), Ordering::Relaxed);
    }
    /// Records whether metadata came from the cache.
    pub fn set_cache_hit(&self, hit: bool) {
        self.cache_hit.store(hit, Ordering::Relaxed);
    }
    /// Whether metadata came from the cache.
    pub fn cache_hit(&self) -> bool {
        self.cache_hit.load(Ordering::Relaxed)
    }
    /// Adds rows sent to the client.
    pub fn add_rows_returned(&self, rows: u64) {
        self.rows_returned.fetch_add(rows, Ordering::Relaxed);
    }
    fn phase(&self, state: QueryState) -> String {
        if state != QueryState::Running {
            return state.as_str().to_owned();
        }
        let planned = self.splits.load(Ordering::Relaxed);
        let done = self.scan.splits_done.load(Ordering::Relaxed);
        match planned {
            0 => "starting",
            p if done < p => "scanning",
            _ => "finishing",
        }
        .to_owned()
    }

    fn snapshot(&self, state: QueryState, error: String, slow_after: Duration) -> QueryRecord {
        let elapsed = self.start.elapsed();
        QueryRecord {
            query_id: self.id.clone(),
            method: self.method.clone(),
            caller: self.caller.clone(),
            table: self.table.lock().map(|t| t.clone()).unwrap_or_default(),
            state,
            started: self.started,
            duration_ms: elapsed.as_secs_f64() * 1e3,
            rows_scanned: self.scan.rows.load(Ordering::Relaxed),
            rows_returned: self.rows_returned.load(Ordering::Relaxed),
            bytes_scanned: self.scan.bytes.load(Ordering::Relaxed),
            splits: u32::try_from(self.splits.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
            splits_done: u32::try_from(self.scan.splits_done.load(Ordering::Relaxed))
                .unwrap_or(u32::MAX),
            phase: self.phase(state),
            split_details: self.scan.split_records(),
            endpoints: self.scan.endpoints.list(),
            cache_hit: self.cache_hit.load(Ordering::Relaxed),
            slow: elapsed >= slow_after,
            error,
        }
    }
}

/// The log of running and recent queries.
#[derive(Debug)]
pub struct QueryLog {
    config: MonitorConfig,
    running: Mutex<HashMap<String, Arc<RunningQuery>>>,
    recent: Mutex<VecDeque<QueryRecord>>,
    /// Slow queries since start (the ring forgets old ones; this does not).
    slow_total: AtomicU64,
}

impl QueryLog {
    /// An empty log.
    pub fn new(config: MonitorConfig) -> Self {
        Self {
            config,
            running: Mutex::new(HashMap::new()),
            recent: Mutex::new(VecDeque::new()),
            slow_total: AtomicU64::new(0),
        }
    }

    /// Registers a query; finish it with [`QueryLog::finish`].
    pub fn start(&self, query_id: &str, method: &str) -> Arc<RunningQuery> {
        let query = Self::new_query(query_id, method, "anonymous");
        if let Ok(mut running) = self.running.lock() {
            running.insert(query.id.clone(), Arc::clone(&query));
        }
        query
    }

    /// Registers a query of `caller` unless it already runs `max_per_caller` (0: no limit);
    /// the error is how many it runs. Checked and registered under one lock, so concurrent
    /// starts cannot both slip under the limit.
    pub fn try_start(
        &self,
        query_id: &str,
        method: &str,
        caller: &str,
        max_per_caller: usize,
    ) -> Result<Arc<RunningQuery>, usize> {
        let query = Self::new_query(query_id, method, caller);
        let Ok(mut running) = self.running.lock() else {
            return Ok(query);
        };
        if max_per_caller > 0 {
            let of_caller = running.values().filter(|q| q.caller == caller).count();
            if of_caller >= max_per_caller {
                return Err(of_caller);
            }
        }
        running.insert(query.id.clone(), Arc::clone(&query));
        Ok(query)
    }

    fn new_query(query_id: &str, method: &str, caller: &str) -> Arc<RunningQuery> {
        Arc::new(RunningQuery {
            id: query_id.to_owned(),
            method: method.to_owned(),
            caller: caller.to_owned(),
            table: Mutex::new(String::new()),
            started: SystemTime::now(),
            start: Instant::now(),
            cancel: CancellationToken::new(),
            scan: Arc::new(ScanStats::default()),
            rows_returned: AtomicU64::new(0),
            splits: AtomicU64::new(0),
            cache_hit: AtomicBool::new(false),
        })
    }

    /// Moves a query from running to recent with its outcome.
    pub fn finish(&self, query: &RunningQuery, state: QueryState, error: String) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&query.id);
        }
        let record = query.snapshot(state, error, self.config.slow_query_threshold);
        if record.slow {
            self.slow_total.fetch_add(1, Ordering::Relaxed);
            tracing::info!(query_id = %record.query_id, method = %record.method, table = %record.table,
                caller = %record.caller, duration_ms = record.duration_ms, rows = record.rows_scanned,
            "slow query");
        }
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= self.config.query_log_size {
                recent.pop_front();
            }
            recent.push_back(record);
        }
    }

    /// Cancels a running query; false when no such query is running.
    pub fn cancel(&self, query_id: &str) -> bool {
        self.cancel_of(query_id, None)
    }

    /// Cancels a running query if `owner` (when given) started it; false when no such query
    /// runs, or it is someone else's (the two look the same, so a caller learns nothing
    /// about other callers' queries).
    pub fn cancel_of(&self, query_id: &str, owner: Option<&str>) -> bool {
        let query = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(query_id).cloned())
            .filter(|q| owner.is_none_or(|o| q.caller == o));
        match query {
            Some(q) => {
                q.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancels every running query (shutdown after its grace period).
    pub fn cancel_all(&self) {
        if let Ok(running) = self.running.lock() {
            for query in running.values() {
                query.cancel.cancel();
            }
        }
    }

    /// Running queries, oldest first.
    pub fn running(&self) -> Vec<QueryRecord> {
        let mut out: Vec<_> = self
            .running
            .lock()
            .map(|r| {
                r.values()
                    .map(|q| {
                        q.snapshot(
                            QueryState::Running,
                            String::new(),
                            self.config.slow_query_threshold,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|q| q.started);
        out
    }

    /// The query `query_id`, running or among the recent ones.
    pub fn get(&self, query_id: &str) -> Option<QueryRecord> {
        let running = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(query_id).cloned());
        if let Some(query) = running {
            return Some(query.snapshot(
                QueryState::Running,
                String::new(),
                self.config.slow_query_threshold,
            ));
        }
        self.recent
            .lock()
            .ok()
            .and_then(|r| r.iter().rev().find(|q| q.query_id == query_id).cloned())
    }

    /// The most recent finished queries, newest first.
    pub fn recent(&self, limit: usize) -> Vec<QueryRecord> {
        self.recent
            .lock()
            .map(|r| r.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default()
    }

    /// Queries that finished slow since start.
    pub fn slow_total(&self) -> u64 {
        self.slow_total.load(Ordering::Relaxed)
    }

    /// Finished queries at least `min` long (default: the slow threshold), slowest first.
    pub fn slow(&self, limit: usize, min: Option<Duration>) -> Vec<QueryRecord> {
        let min_ms = min
            .unwrap_or(self.config.slow_query_threshold)
            .as_secs_f64()
            * 1e3;
        let mut out: Vec<_> = self
            .recent
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|q| q.duration_ms >= min_ms)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
        out.truncate(limit);
        out
    }

    /// Latency and volume per method per time bucket.
    pub fn trends(&self, bucket: Duration) -> Vec<TrendBucket> {
        let records = self.recent(usize::MAX);
        trends::compute(&records, bucket)
    }

    /// Every finished query in the given format.
    pub fn export(&self, format: ExportFormat) -> Vec<u8> {
        let mut records = self.recent(usize::MAX);
        records.reverse();
        export::encode(&records, format)
    }

    /// Number of running queries.
    pub fn running_count(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
