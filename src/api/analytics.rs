//! `AnalyticsService`: each RPC hands its request to the request layer
//! ([`request::answer`](crate::request::answer) for the typed analytics,
//! [`request::answer_incremental`](crate::request::answer_incremental) for those cached per
//! time bucket,
//! [`request::start_sql`](crate::request::start_sql) for `Sql`) and sends back the answer.

use std::{pin::Pin, sync::Arc};

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::{ipc, track};
use crate::{
    analytics::Analytic,
    engine::EngineOutput,
    error::Error,
    partials::states::Incremental,
    proto::{self, analytics_service_server::AnalyticsService},
    request::{self, AnalyticRequest, Tracked},
    state::AppState,
};

/// The `AnalyticsService` handler.
#[derive(Debug, Clone)]
pub struct AnalyticsApi {
    state: Arc<AppState>,
}

impl AnalyticsApi {
    /// A handler over the shared state.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

/// Responses carry the request's query id.
trait WithQueryId {
    fn set_query_id(&mut self, id: String);
}

macro_rules! with_query_id {
    ($($response:ty),* $(,)?) => {$(
        impl WithQueryId for $response {
            fn set_query_id(&mut self, id: String) { self.query_id = id; }
        }
    )*};
}

with_query_id!(
    proto::MovingAverageResponse,
    proto::TrendResponse,
    proto::DetectAnomaliesResponse,
    proto::WindowAggregateResponse,
    proto::PercentilesResponse,
    proto::CorrelationResponse,
    proto::HistogramResponse,
    proto::TopNResponse,
);

impl AnalyticsApi {
    async fn typed<R>(
        &self,
        request: Request<R>,
        method: &str,
    ) -> Result<Response<R::Response>, Status>
    where
        R: Analytic + AnalyticRequest + Send + 'static,
        R::Response: WithQueryId + Send + 'static,
    {
        let tracked = track(&self.state, &request, method)?;
        let result = request::answer(&tracked, request.into_inner(), method).await;
        respond(tracked, result)
    }

    /// A typed analytic whose answer merges from cached partial states per time bucket.
    async fn incremental<R>(
        &self,
        request: Request<R>,
        method: &str,
    ) -> Result<Response<R::Response>, Status>
    where
        R: Incremental + AnalyticRequest + Send + Sync + 'static,
        R::Response: WithQueryId + Send + 'static,
    {
        let tracked = track(&self.state, &request, method)?;
        let result = request::answer_incremental(&tracked, request.into_inner(), method).await;
        respond(tracked, result)
    }
}

/// The typed response with its query id, or the error as a status; the query log notes
/// which.
fn respond<T: WithQueryId>(
    tracked: Tracked,
    result: Result<T, Error>,
) -> Result<Response<T>, Status> {
    match result {
        Ok(mut response) => {
            response.set_query_id(tracked.query.id().to_owned());
            tracked.finish::<()>(&Ok(()));
            Ok(Response::new(response))
        }
        Err(err) => {
            let status = Status::from(err.clone());
            tracked.finish::<()>(&Err(err));
            Err(status)
        }
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<proto::ArrowChunk, Status>> + Send>>;

#[tonic::async_trait]
impl AnalyticsService for AnalyticsApi {
    async fn moving_average(
        &self,
        request: Request<proto::MovingAverageRequest>,
    ) -> Result<Response<proto::MovingAverageResponse>, Status> {
        self.typed(request, "MovingAverage").await
    }
    async fn trend(
        &self,
        request: Request<proto::TrendRequest>,
    ) -> Result<Response<proto::TrendResponse>, Status> {
        self.incremental(request, "Trend").await
    }
    async fn detect_anomalies(
        &self,
        request: Request<proto::DetectAnomaliesRequest>,
    ) -> Result<Response<proto::DetectAnomaliesResponse>, Status> {
        self.typed(request, "DetectAnomalies").await
    }
    async fn window_aggregate(
        &self,
        request: Request<proto::WindowAggregateRequest>,
    ) -> Result<Response<proto::WindowAggregateResponse>, Status> {
        self.incremental(request, "WindowAggregate").await
    }
    async fn percentiles(
        &self,
        request: Request<proto::PercentilesRequest>,
    ) -> Result<Response<proto::PercentilesResponse>, Status> {
        self.typed(request, "Percentiles").await
    }
    async fn correlation(
        &self,
        request: Request<proto::CorrelationRequest>,
    ) -> Result<Response<proto::CorrelationResponse>, Status> {
        self.incremental(request, "Correlation").await
    }
    async fn histogram(
        &self,
        request: Request<proto::HistogramRequest>,
    ) -> Result<Response<proto::HistogramResponse>, Status> {
        self.incremental(request, "Histogram").await
    }
    async fn top_n(
        &self,
        request: Request<proto::TopNRequest>,
    ) -> Result<Response<proto::TopNResponse>, Status> {
        self.incremental(request, "TopN").await
    }

    type SqlStream = ChunkStream;

    async fn sql(
        &self,
        request: Request<proto::SqlRequest>,
    ) -> Result<Response<Self::SqlStream>, Status> {
        let tracked = track(&self.state, &request, "Sql")?;
        let req = request.into_inner();
        match request::start_sql(&tracked, &req).await {
            Ok(output) => Ok(Response::new(Box::pin(sql_stream(tracked, output)))),
            Err(err) => {
                let status = Status::from(err.clone());
                tracked.finish::<()>(&Err(err));
                Err(status)
            }
        }
    }
}

fn sql_stream(
    tracked: Tracked,
    output: EngineOutput,
) -> impl Stream<Item = Result<proto::ArrowChunk, Status>> + Send {
    let schema = output.schema();
    let reason = tracked.cancelled_reporter();
    let batches = output
        .map(move |item| item.map_err(|e| request::engine_error(&reason, e)))
        .boxed();
    ipc::chunk_stream(tracked, schema, batches, 0)
}
