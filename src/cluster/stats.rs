//! Per-endpoint counters (what `AdminService/ListEndpoints` shows, what routing and hedging
//! read) and the endpoint's Prometheus series.

use std::{
    collections::VecDeque,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    core::Collector,
};

/// Weight of the newest sample in the latency moving average.
const EWMA_WEIGHT: f64 = 0.2;
/// Page gaps kept per endpoint for the hedging delay's p95.
const PAGE_GAP_SAMPLES: usize = 256;

/// Counters of one endpoint.
#[derive(Debug, Default)]
pub(crate) struct EndpointStats {
    requests: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicU64,
    hedges: AtomicU64,
    probes: AtomicU64,
    /// f64 bits of the latency EWMA in milliseconds (0 until the first answer).
    latency_ms_bits: AtomicU64,
    /// Time from a request to its first page and between two pages, newest last.
    page_gaps: Mutex<VecDeque<Duration>>,
    last_error: Mutex<String>,
    /// When the last health probe ran, and whether it succeeded.
    last_probe: Mutex<Option<(SystemTime, bool)>>,
}

impl EndpointStats {
    pub(crate) fn started(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self, message: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_error) = message;
    }

    /// A failed health probe: its error is the last one, but it is not a request.
    pub(crate) fn failed_probe(&self, message: String) {
        *lock(&self.last_error) = message;
    }

    pub(crate) fn hedged(&self) {
        self.hedges.fetch_add(1, Ordering::Relaxed);
    }

    /// The endpoint answered (response head) after `latency`.
    pub(crate) fn answered(&self, latency: Duration) {
        let sample = latency.as_secs_f64() * 1e3;
        let old = f64::from_bits(self.latency_ms_bits.load(Ordering::Relaxed));
        let new = if old == 0.0 {
            sample
        } else {
            old * (1.0 - EWMA_WEIGHT) + sample * EWMA_WEIGHT
        };
        self.latency_ms_bits.store(new.to_bits(), Ordering::Relaxed);
    }

    pub(crate) fn latency_ms(&self) -> f64 {
        f64::from_bits(self.latency_ms_bits.load(Ordering::Relaxed))
    }

    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub(crate) fn hedges(&self) -> u64 {
        self.hedges.load(Ordering::Relaxed)
    }

    pub(crate) fn last_error(&self) -> String {
        lock(&self.last_error).clone()
    }

    pub(crate) fn probed(&self, ok: bool) {
        self.probes.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_probe) = Some((SystemTime::now(), ok));
    }

    /// Health probes sent so far.
    #[cfg(test)]
    pub(crate) fn probes(&self) -> u64 {
        self.probes.load(Ordering::Relaxed)
    }

    pub(crate) fn last_probe(&self) -> Option<(SystemTime, bool)> {
        *lock(&self.last_probe)
    }

    pub(crate) fn page_gap(&self, gap: Duration) {
        let mut gaps = lock(&self.page_gaps);
        if gaps.len() == PAGE_GAP_SAMPLES {
            gaps.pop_front();
        }
        gaps.push_back(gap);
    }

    /// The 95th percentile of recent page gaps; `None` before any page.
    pub(crate) fn page_gap_p95(&self) -> Option<Duration> {
        let mut gaps: Vec<Duration> = lock(&self.page_gaps).iter().copied().collect();
        if gaps.is_empty() {
            return None;
        }
        let at = (gaps.len() * 95).div_ceil(100).saturating_sub(1);
        let (_, p95, _) = gaps.select_nth_unstable(at);
        Some(*p95)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The cluster's Prometheus metrics; the `endpoint` label is a configured URL (a closed set).
#[derive(Debug, Clone)]
pub(crate) struct ClusterMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    in_flight: IntGaugeVec,
    up: IntGaugeVec,
    breaker_state: IntGaugeVec,
    ejections: IntCounterVec,
    /// `vastgate_split_hedges_total`.
    pub(crate) hedges: IntCounter,
    /// `vastgate_split_resumes_total`.
    pub(crate) resumes: IntCounter,
}

/// One endpoint's series.
#[derive(Debug, Clone)]
pub(crate) struct EndpointMetrics {
    pub(crate) succeeded: IntCounter,
    pub(crate) failed: IntCounter,
    pub(crate) refused: IntCounter,
    pub(crate) duration: Histogram,
    pub(crate) in_flight: IntGauge,
    pub(crate) up: IntGauge,
    pub(crate) breaker_state: IntGauge,
    pub(crate) ejections: IntCounter,
}

impl ClusterMetrics {
    pub(crate) fn new() -> Self {
        let by_endpoint = &["endpoint"];
        Self {
            requests: IntCounterVec::new(
                Opts::new(
                    "vastgate_endpoint_requests_total",
                    "Requests to a VAST endpoint by outcome: ok, failed (the endpoint's fault), \
                     refused (the request's fault, e.g. a missing table)",
                ),
                &["endpoint", "outcome"],
            )
            .expect("valid metric"),
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "vastgate_endpoint_request_duration_seconds",
                    "Time from a request to a VAST endpoint to the end of its response body",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0, 60.0,
                ]),
                by_endpoint,
            )
            .expect("valid metric"),
            in_flight: IntGaugeVec::new(
                Opts::new(
                    "vastgate_endpoint_in_flight",
                    "Requests to a VAST endpoint whose response has not ended",
                ),
                by_endpoint,
            )
            .expect("valid metric"),
            up: IntGaugeVec::new(
                Opts::new(
                    "vastgate_endpoint_up",
                    "1 while the endpoint is healthy (in rotation, last probe answered)",
                ),
                by_endpoint,
            )
            .expect("valid metric"),
            breaker_state: IntGaugeVec::new(
                Opts::new(
                    "vastgate_endpoint_breaker_state",
                    "Ejection state: 0 closed, 1 half-open, 2 open",
                ),
                by_endpoint,
            )
            .expect("valid metric"),
            ejections: IntCounterVec::new(
                Opts::new(
                    "vastgate_endpoint_ejections_total",
                    "Times the endpoint was ejected from the rotation",
                ),
                by_endpoint,
            )
            .expect("valid metric"),
            hedges: IntCounter::new(
                "vastgate_split_hedges_total",
                "Straggling split reads re-issued on another endpoint",
            )
            .expect("valid metric"),
            resumes: IntCounter::new(
                "vastgate_split_resumes_total",
                "Split reads resumed from their last complete page after a failure",
            )
            .expect("valid metric"),
        }
    }

    /// The series of `endpoint`.
    pub(crate) fn endpoint(&self, endpoint: &str) -> EndpointMetrics {
        let metrics = EndpointMetrics {
            succeeded: self.requests.with_label_values(&[endpoint, "ok"]),
            failed: self.requests.with_label_values(&[endpoint, "failed"]),
            refused: self.requests.with_label_values(&[endpoint, "refused"]),
            duration: self.duration.with_label_values(&[endpoint]),
            in_flight: self.in_flight.with_label_values(&[endpoint]),
            up: self.up.with_label_values(&[endpoint]),
            breaker_state: self.breaker_state.with_label_values(&[endpoint]),
            ejections: self.ejections.with_label_values(&[endpoint]),
        };
        metrics.up.set(1);
        metrics
    }

    /// Every collector, for the service's registry.
    pub(crate) fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.requests.clone()),
            Box::new(self.duration.clone()),
            Box::new(self.in_flight.clone()),
            Box::new(self.up.clone()),
            Box::new(self.breaker_state.clone()),
            Box::new(self.ejections.clone()),
            Box::new(self.hedges.clone()),
            Box::new(self.resumes.clone()),
        ]
    }
}
