//! gRPC health (`grpc.health.v1`) that tells the truth: every service is `SERVING` while
//! [`AppState::readiness`] holds (not draining, backend reachable) and `NOT_SERVING` otherwise.

use std::{sync::Arc, time::Duration};

use arrow_flight::flight_service_server::FlightServiceServer;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::server::NamedService;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    api::{admin::AdminApi, analytics::AnalyticsApi, flight::FlightApi, query::QueryApi},
    proto::{
        admin_service_server::AdminServiceServer, analytics_service_server::AnalyticsServiceServer,
        query_service_server::QueryServiceServer,
    },
    state::AppState,
};

/// The names health reports on: the whole server (`""`) and each service.
const SERVICES: [&str; 5] = [
    "",
    <QueryServiceServer<QueryApi> as NamedService>::NAME,
    <AnalyticsServiceServer<AnalyticsApi> as NamedService>::NAME,
    <AdminServiceServer<AdminApi> as NamedService>::NAME,
    <FlightServiceServer<FlightApi> as NamedService>::NAME,
];

/// Sets every service's status.
pub(super) async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    for name in SERVICES {
        reporter.set_service_status(name, status).await;
    }
}

/// How long the first check may hold the start of serving.
const FIRST_CHECK: Duration = Duration::from_secs(2);

/// Checks readiness now (so health answers from the first call on), then every `interval`
/// and at once when draining starts, until the guard is dropped.
pub(super) async fn follow_readiness(
    state: Arc<AppState>,
    reporter: HealthReporter,
    interval: Duration,
) -> DropGuard {
    let first = tokio::time::timeout(FIRST_CHECK, check(&state, None)).await;
    let mut last = first.unwrap_or(ServingStatus::NotServing);
    set_all(&reporter, last).await;
    let stop = CancellationToken::new();
    let guard = stop.clone().drop_guard();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = state.draining.cancelled(), if !state.draining.is_cancelled() => {}
                _ = tokio::time::sleep(interval) => {}
            }
            let status = check(&state, Some(last)).await;
            if status != last {
                set_all(&reporter, status).await;
                last = status;
            }
        }
    });
    guard
}

/// The status readiness gives now; logs why when it turns `NOT_SERVING`.
async fn check(state: &AppState, last: Option<ServingStatus>) -> ServingStatus {
    match state.readiness().await {
        Ok(()) => ServingStatus::Serving,
        Err(why) => {
            if last != Some(ServingStatus::NotServing) {
                tracing::warn!("health: NOT_SERVING: {why}");
            }
            ServingStatus::NotServing
        }
    }
}
