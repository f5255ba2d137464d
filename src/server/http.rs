//! The HTTP port: `/metrics` (Prometheus text), `/healthz` (alive), `/readyz` (can serve).

use std::sync::Arc;

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};

use crate::state::AppState;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    // moka counts entries lazily; settle it so the gauge is exact at scrape time.
    let stats = state.catalog.stats().await;
    state
        .metrics
        .cache_entries
        .set(i64::try_from(stats.entries).unwrap_or(i64::MAX));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// Ready when the backend answers a schema listing.
async fn ready(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match state.catalog.backend().list_schemas("").await {
        Ok(_) => (StatusCode::OK, "ready\n".to_owned()),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("backend not ready: {err}\n"),
        ),
    }
}
