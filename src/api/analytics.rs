//! `AnalyticsService`. The DuckDB engine lands with issue 3; until then every RPC answers
//! `UNIMPLEMENTED` naming what is missing.

use std::{pin::Pin, sync::Arc};

use futures::Stream;
use tonic::{Request, Response, Status};

use crate::{
    proto::{self, analytics_service_server::AnalyticsService},
    state::AppState,
};

/// The `AnalyticsService` handler.
#[derive(Debug, Clone)]
pub struct AnalyticsApi {
    #[allow(dead_code)]
    state: Arc<AppState>,
}

impl AnalyticsApi {
    /// A handler over the shared state.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

fn missing(rpc: &str) -> Status {
    Status::unimplemented(format!(
        "AnalyticsService/{rpc} needs the DuckDB worker pool (issue 3), which is not built yet"
    ))
}

#[tonic::async_trait]
impl AnalyticsService for AnalyticsApi {
    async fn moving_average(
        &self,
        _: Request<proto::MovingAverageRequest>,
    ) -> Result<Response<proto::MovingAverageResponse>, Status> {
        Err(missing("MovingAverage"))
    }
    async fn trend(
        &self,
        _: Request<proto::TrendRequest>,
    ) -> Result<Response<proto::TrendResponse>, Status> {
        Err(missing("Trend"))
    }
    async fn detect_anomalies(
        &self,
        _: Request<proto::DetectAnomaliesRequest>,
    ) -> Result<Response<proto::DetectAnomaliesResponse>, Status> {
        Err(missing("DetectAnomalies"))
    }
    async fn window_aggregate(
        &self,
        _: Request<proto::WindowAggregateRequest>,
    ) -> Result<Response<proto::WindowAggregateResponse>, Status> {
        Err(missing("WindowAggregate"))
    }
    async fn percentiles(
        &self,
        _: Request<proto::PercentilesRequest>,
    ) -> Result<Response<proto::PercentilesResponse>, Status> {
        Err(missing("Percentiles"))
    }
    async fn correlation(
        &self,
        _: Request<proto::CorrelationRequest>,
    ) -> Result<Response<proto::CorrelationResponse>, Status> {
        Err(missing("Correlation"))
    }
    async fn histogram(
        &self,
        _: Request<proto::HistogramRequest>,
    ) -> Result<Response<proto::HistogramResponse>, Status> {
        Err(missing("Histogram"))
    }
    async fn top_n(
        &self,
        _: Request<proto::TopNRequest>,
    ) -> Result<Response<proto::TopNResponse>, Status> {
        Err(missing("TopN"))
    }

    type SqlStream = Pin<Box<dyn Stream<Item = Result<proto::ArrowChunk, Status>> + Send>>;

    async fn sql(
        &self,
        _: Request<proto::SqlRequest>,
    ) -> Result<Response<Self::SqlStream>, Status> {
        Err(missing("Sql"))
    }
}
