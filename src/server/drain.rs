//! Shutdown without dropping work: refuse new calls, report `NOT_SERVING` so load balancers
//! move away, let the calls in flight finish within the grace period, then stop the servers.

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

use super::{admission::AdmissionLayer, health};
use crate::state::AppState;

/// How often the drain looks whether calls are still in flight.
const POLL: Duration = Duration::from_millis(20);

pub(super) struct Drain {
    pub(super) state: Arc<AppState>,
    pub(super) health: HealthReporter,
    pub(super) admission: AdmissionLayer,
    pub(super) stop: CancellationToken,
    pub(super) grace: Duration,
}

impl Drain {
    pub(super) async fn run(self) {
        self.state.draining.cancel();
        health::set_all(&self.health, ServingStatus::NotServing).await;
        let in_flight = self.admission.in_flight();
        tracing::info!(in_flight, grace = ?self.grace, "shutting down: draining in-flight calls");
        let deadline = Instant::now() + self.grace;
        while self.admission.in_flight() > 0 && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        let left = self.admission.in_flight();
        if left > 0 {
            tracing::warn!(left, "shutdown grace period over; dropping remaining calls");
            // Cancels their scans and engine work, so blocking threads do not hold the exit.
            self.state.queries.cancel_all();
        }
        self.stop.cancel();
    }
}
