//! Per-endpoint health counters: requests, failures, latency (EWMA) and in-flight calls, as
//! `AdminService/ListEndpoints` shows them.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use super::breaker::Breaker;
use crate::backend::EndpointStatus;

/// Recent failure share (moving average of call outcomes) above which an endpoint is
/// reported unhealthy: two failures in a row from a clean record, or every other call failing.
const UNHEALTHY_ABOVE: f64 = 0.3;
/// Weight of the newest sample in the moving averages.
const EWMA_WEIGHT: f64 = 0.2;

/// Counters of one endpoint, shared by every clone of it.
#[derive(Debug, Default)]
pub(crate) struct EndpointStats {
    requests: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicU64,
    /// f64 bits of the moving average of outcomes (1 = failed, 0 = completed).
    failure_bits: AtomicU64,
    /// f64 bits of the latency EWMA in milliseconds (0 until the first answer).
    latency_ms_bits: AtomicU64,
    /// Steers calls away while the endpoint keeps failing.
    pub(crate) breaker: Breaker,
}

/// Counts a call as in flight until dropped.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a EndpointStats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl EndpointStats {
    /// A call starts.
    pub(crate) fn start(&self) -> InFlight<'_> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Calls in flight right now.
    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// A call finished whole (its body included): the endpoint works.
    pub(crate) fn completed(&self) {
        ewma(&self.failure_bits, 0.0, false);
        self.breaker.success();
    }

    /// The endpoint answered (response head) after `latency`.
    pub(crate) fn answered(&self, latency: Duration) {
        ewma(&self.latency_ms_bits, latency.as_secs_f64() * 1e3, true);
    }

    /// The endpoint failed in a way that retrying elsewhere may fix.
    pub(crate) fn failure(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        ewma(&self.failure_bits, 1.0, false);
        self.breaker.failure(Instant::now());
    }

    /// What the admin API shows.
    pub(crate) fn snapshot(&self, url: &str) -> EndpointStatus {
        let requests = self.requests.load(Ordering::Relaxed);
        let errors = self.errors.load(Ordering::Relaxed);
        EndpointStatus {
            url: url.to_owned(),
            healthy: f64::from_bits(self.failure_bits.load(Ordering::Relaxed)) <= UNHEALTHY_ABOVE,
            breaker_state: self.breaker.state_name(Instant::now()).to_owned(),
            latency_ms: f64::from_bits(self.latency_ms_bits.load(Ordering::Relaxed)),
            error_rate: if requests == 0 {
                0.0
            } else {
                errors as f64 / requests as f64
            },
            in_flight: u32::try_from(self.in_flight.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
            requests,
            errors,
        }
    }
}

/// Folds `sample` into the moving average stored as f64 bits in `cell`; with `seed`, the first
/// sample (cell still 0) is taken as is. A lost update under contention only skips one sample.
fn ewma(cell: &AtomicU64, sample: f64, seed: bool) {
    let old = f64::from_bits(cell.load(Ordering::Relaxed));
    let new = if seed && old == 0.0 {
        sample
    } else {
        old * (1.0 - EWMA_WEIGHT) + sample * EWMA_WEIGHT
    };
    cell.store(new.to_bits(), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_health_and_latency() {
        let stats = EndpointStats::default();
        {
            let _call = stats.start();
            assert_eq!(stats.snapshot("e").in_flight, 1);
            stats.answered(Duration::from_millis(10));
            stats.completed();
        }
        let _second = stats.start();
        stats.answered(Duration::from_millis(20));
        let s = stats.snapshot("e");
        assert_eq!((s.requests, s.errors, s.in_flight), (2, 0, 1));
        assert!((s.latency_ms - 12.0).abs() < 1e-9, "{}", s.latency_ms);
        stats.failure();
        assert!(stats.snapshot("e").healthy, "one failure is not enough");
        stats.failure();
        let s = stats.snapshot("e");
        assert!(!s.healthy);
        assert!((s.error_rate - 1.0).abs() < 1e-9);
        // An answered head alone does not make it healthy again; complete calls do.
        stats.answered(Duration::from_millis(12));
        assert!(!stats.snapshot("e").healthy);
        stats.completed();
        stats.completed();
        assert!(stats.snapshot("e").healthy);
        // Every other call failing keeps it unhealthy.
        for _ in 0..20 {
            stats.failure();
            stats.completed();
        }
        assert!(!stats.snapshot("e").healthy);
    }
}
