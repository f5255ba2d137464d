//! The Prometheus registry and typed handles. Metric names start with `vastgate_`; labels come
//! from closed sets (service, method, gRPC code, endpoint), never from request contents.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

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
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
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
        }
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
