//! The Prometheus registry and typed handles. Metric names start with `vastgate_`; labels come
//! from closed sets (service, method, gRPC code, endpoint), never from request contents.

use std::sync::{Mutex, PoisonError};

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Why a call was refused before it ran: the `reason` label of
/// `vastgate_requests_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// `server.max_concurrent_requests` running and `server.max_pending_requests` waiting.
    Capacity,
    /// The service drains for shutdown.
    Draining,
    /// No valid token or client certificate.
    Unauthenticated,
    /// The caller's role or schemas do not allow the call.
    PermissionDenied,
    /// Every DuckDB worker busy and `engine.max_queue` requests waiting.
    EngineQueueFull,
}

impl RefusalReason {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [Self; 5] = [
        Self::Capacity,
        Self::Draining,
        Self::Unauthenticated,
        Self::PermissionDenied,
        Self::EngineQueueFull,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Capacity => "capacity",
            Self::Draining => "draining",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::EngineQueueFull => "engine_queue_full",
        }
    }
}

/// Counts refused calls; cheap to clone. The default counts into a registry nobody scrapes
/// (tests of a single layer).
#[derive(Debug, Clone)]
pub struct Refusals {
    counters: IntCounterVec,
}

impl Refusals {
    fn new() -> Self {
        let counters = IntCounterVec::new(
            Opts::new(
                "vastgate_requests_refused_total",
                "Calls refused before they ran, by reason",
            ),
            &["reason"],
        )
        .expect("valid metric");
        // Every reason is listed from the start, so a rate() over it never lacks a series.
        for reason in RefusalReason::ALL {
            counters.with_label_values(&[reason.label()]);
        }
        Self { counters }
    }

    /// One more call refused for `reason`.
    pub fn count(&self, reason: RefusalReason) {
        self.counters.with_label_values(&[reason.label()]).inc();
    }
}

impl Default for Refusals {
    fn default() -> Self {
        Self::new()
    }
}

/// What the engine pool and the query log count themselves, read when `/metrics` is scraped.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScrapeTimeReadings {
    /// Requests waiting for a DuckDB worker.
    pub engine_queued: usize,
    /// DuckDB workers running a query.
    pub engine_busy: usize,
    /// DuckDB workers in the pool.
    pub engine_workers: usize,
    /// Requests the engine refused because its queue was full, since start.
    pub engine_refused: u64,
    /// Queries that took at least `monitor.slow_query_threshold`, since start.
    pub slow_queries: u64,
    /// Queries running now.
    pub queries_running: usize,
}

/// Every metric of the service, registered in one registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `vastgate_requests_total{service,method,code}`.
    pub requests: IntCounterVec,
    /// `vastgate_request_duration_seconds{service,method}`.
    pub request_duration: HistogramVec,
    /// `vastgate_requests_in_flight`.
    pub in_flight: IntGauge,
    /// `vastgate_cache_hits_total`.
    pub cache_hits: IntCounter,
    /// `vastgate_cache_misses_total`.
    pub cache_misses: IntCounter,
    /// `vastgate_cache_evictions_total`.
    pub cache_evictions: IntCounter,
    /// `vastgate_cache_entries`.
    pub cache_entries: IntGauge,
    /// `vastgate_rows_scanned_total`: rows delivered by the backend after its filter.
    pub rows_scanned: IntCounter,
    /// `vastgate_bytes_scanned_total`: Arrow bytes delivered by the backend.
    pub bytes_scanned: IntCounter,
    /// `vastgate_split_retries_total`.
    pub split_retries: IntCounter,
    /// `vastgate_scan_duration_seconds`: duration of queries that scanned a table.
    pub scan_duration: Histogram,
    /// `vastgate_requests_refused_total{reason}`.
    pub refused: Refusals,
    /// `vastgate_engine_queued`.
    engine_queued: IntGauge,
    /// `vastgate_engine_workers_busy`.
    engine_busy: IntGauge,
    /// `vastgate_engine_workers`.
    engine_workers: IntGauge,
    /// `vastgate_slow_queries_total`.
    slow_queries: IntCounter,
    /// `vastgate_queries_running`.
    queries_running: IntGauge,
    /// Serializes [`Metrics::record_readings`], whose counters only move forward.
    readings: std::sync::Arc<Mutex<()>>,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let buckets = vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            60.0, 300.0,
        ];
        let requests = IntCounterVec::new(
            Opts::new("vastgate_requests_total", "gRPC requests by outcome"),
            &["service", "method", "code"],
        )
        .expect("valid metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "vastgate_request_duration_seconds",
                "gRPC request latency to the end of the response",
            )
            .buckets(buckets.clone()),
            &["service", "method"],
        )
        .expect("valid metric");
        let in_flight = IntGauge::new("vastgate_requests_in_flight", "gRPC requests being served")
            .expect("valid metric");
        let cache_hits = IntCounter::new("vastgate_cache_hits_total", "table metadata cache hits")
            .expect("valid metric");
        let cache_misses =
            IntCounter::new("vastgate_cache_misses_total", "table metadata cache misses")
                .expect("valid metric");
        let cache_evictions = IntCounter::new(
            "vastgate_cache_evictions_total",
            "table metadata evicted by TTL or size",
        )
        .expect("valid metric");
        let cache_entries = IntGauge::new("vastgate_cache_entries", "tables in the metadata cache")
            .expect("valid metric");
        let rows_scanned = IntCounter::new(
            "vastgate_rows_scanned_total",
            "rows delivered by the storage backend after filtering",
        )
        .expect("valid metric");
        let bytes_scanned = IntCounter::new(
            "vastgate_bytes_scanned_total",
            "Arrow bytes delivered by the storage backend",
        )
        .expect("valid metric");
        let split_retries =
            IntCounter::new("vastgate_split_retries_total", "split attempts retried")
                .expect("valid metric");
        let scan_duration = Histogram::with_opts(
            HistogramOpts::new("vastgate_scan_duration_seconds", "duration of table scans")
                .buckets(buckets),
        )
        .expect("valid metric");
        let refused = Refusals::new();
        let engine_queued = IntGauge::new(
            "vastgate_engine_queued",
            "Requests waiting for a DuckDB worker",
        )
        .expect("valid metric");
        let engine_busy = IntGauge::new(
            "vastgate_engine_workers_busy",
            "DuckDB workers running a query",
        )
        .expect("valid metric");
        let engine_workers = IntGauge::new("vastgate_engine_workers", "DuckDB workers in the pool")
            .expect("valid metric");
        let slow_queries = IntCounter::new(
            "vastgate_slow_queries_total",
            "Queries that took at least monitor.slow_query_threshold",
        )
        .expect("valid metric");
        let queries_running =
            IntGauge::new("vastgate_queries_running", "Queries running now").expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(refused.counters.clone()),
            Box::new(engine_queued.clone()),
            Box::new(engine_busy.clone()),
            Box::new(engine_workers.clone()),
            Box::new(slow_queries.clone()),
            Box::new(queries_running.clone()),
            Box::new(request_duration.clone()),
            Box::new(in_flight.clone()),
            Box::new(cache_hits.clone()),
            Box::new(cache_misses.clone()),
            Box::new(cache_evictions.clone()),
            Box::new(cache_entries.clone()),
            Box::new(rows_scanned.clone()),
            Box::new(bytes_scanned.clone()),
            Box::new(split_retries.clone()),
            Box::new(scan_duration.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            request_duration,
            in_flight,
            cache_hits,
            cache_misses,
            cache_evictions,
            cache_entries,
            rows_scanned,
            bytes_scanned,
            split_retries,
            scan_duration,
            refused,
            engine_queued,
            engine_busy,
            engine_workers,
            slow_queries,
            queries_running,
            readings: std::sync::Arc::new(Mutex::new(())),
        }
    }

    /// Sets the series that are read off their owners at scrape time.
    pub fn record_readings(&self, readings: ScrapeTimeReadings) {
        let _one_at_a_time = self.readings.lock().unwrap_or_else(PoisonError::into_inner);
        let gauge = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
        self.engine_queued.set(gauge(readings.engine_queued));
        self.engine_busy.set(gauge(readings.engine_busy));
        self.engine_workers.set(gauge(readings.engine_workers));
        self.queries_running.set(gauge(readings.queries_running));
        let engine_refused = self
            .refused
            .counters
            .with_label_values(&[RefusalReason::EngineQueueFull.label()]);
        engine_refused.inc_by(readings.engine_refused.saturating_sub(engine_refused.get()));
        self.slow_queries.inc_by(
            readings
                .slow_queries
                .saturating_sub(self.slow_queries.get()),
        );
    }

    /// Registers a backend's own series (the VAST cluster's per-endpoint metrics). A name taken
    /// already (a second state over the same backend) keeps the first registration.
    pub fn register_backend(&self, collectors: Vec<Box<dyn prometheus::core::Collector>>) {
        for collector in collectors {
            if let Err(err) = self.registry.register(collector) {
                tracing::debug!("backend metric not registered: {err}");
            }
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|e| format!("# encoding metrics failed: {e}\n"))
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
