//! The HTTP port: `/` (the status page, `status_page.rs`), `/metrics` (Prometheus text; a
//! bearer token when `server.metrics_token` is set), `/healthz` (alive), `/readyz` (can serve:
//! not draining, backend reachable).

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use subtle::ConstantTimeEq;

use crate::{metrics::ScrapeTimeReadings, state::AppState};

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(super::status_page::page))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let expected = &state.config.server.metrics_token;
    if !expected.is_empty() {
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                "/metrics needs `Authorization: Bearer <server.metrics_token>`\n",
            )
                .into_response();
        }
    }
    // moka counts entries lazily; settle it so the gauge is exact at scrape time.
    let stats = state.catalog.stats().await;
    state
        .metrics
        .cache_entries
        .set(i64::try_from(stats.entries).unwrap_or(i64::MAX));
    let engine = &state.engine;
    state.metrics.record_readings(ScrapeTimeReadings {
        engine_queued: engine.queued(),
        engine_busy: engine.workers().saturating_sub(engine.idle_workers()),
        engine_workers: engine.workers(),
        engine_refused: engine.refused(),
        slow_queries: state.queries.slow_total(),
        queries_running: state.queries.running_count(),
    });
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Ready unless draining or the backend does not answer.
async fn ready(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match state.readiness().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}
