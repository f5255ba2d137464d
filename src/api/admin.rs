//! `AdminService`: health, endpoints, cache, query log, config.

use std::{str::FromStr, sync::Arc, time::Duration};

use futures::{StreamExt, stream::BoxStream};
use tonic::{Request, Response, Status};

use super::convert;
use crate::{
    error::Error,
    monitor::{ExportFormat, QueryRecord, watch},
    proto::{self, admin_service_server::AdminService},
    request,
    state::AppState,
};

/// The `AdminService` handler.
#[derive(Debug, Clone)]
pub struct AdminApi {
    state: Arc<AppState>,
}

impl AdminApi {
    /// A handler over the shared state.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

/// A query as lists show it: without its splits' records.
fn query_info(mut r: QueryRecord) -> proto::QueryInfo {
    r.split_details.clear();
    query_detail(r)
}

/// A query with every split's record.
fn query_detail(r: QueryRecord) -> proto::QueryInfo {
    proto::QueryInfo {
        splits_done: r.splits_done,
        phase: r.phase,
        split_details: r
            .split_details
            .into_iter()
            .map(|s| proto::SplitInfo {
                index: s.index,
                state: s.state.as_str().to_owned(),
                endpoints: s.endpoints,
                hedged: s.hedged,
                rows: s.rows,
                bytes: s.bytes,
                retries: s.retries,
                backend_wait_ms: s.backend_wait_ms,
                consumer_wait_ms: s.consumer_wait_ms,
                pages: s.pages,
            })
            .collect(),
        query_id: r.query_id,
        method: r.method,
        table: r.table,
        state: r.state.as_str().to_owned(),
        started: Some(convert::timestamp(r.started)),
        duration_ms: r.duration_ms,
        rows_scanned: r.rows_scanned,
        rows_returned: r.rows_returned,
        bytes_scanned: r.bytes_scanned,
        splits: r.splits,
        endpoints: r.endpoints,
        cache_hit: r.cache_hit,
        slow: r.slow,
        error: r.error,
        caller: r.caller,
    }
}

/// The query `query_id` if the caller may see it.
fn visible_query(
    state: &AppState,
    query_id: &str,
    owner: Option<&str>,
) -> Result<QueryRecord, Status> {
    state
        .queries
        .get(query_id)
        .filter(|q| owner.is_none_or(|o| q.caller == o))
        .ok_or_else(|| {
            Status::not_found(format!(
                "no query `{query_id}` among the running and recent ones; see ListQueries"
            ))
        })
}

/// The caller whose queries alone a request may see and cancel: `None` for an admin.
fn own_queries_only<T>(request: &Request<T>) -> Option<String> {
    let caller = super::caller(request);
    (!caller.is_admin()).then_some(caller.name)
}

fn limit_or(limit: u32, default: usize) -> usize {
    if limit == 0 { default } else { limit as usize }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn health(
        &self,
        _request: Request<proto::HealthRequest>,
    ) -> Result<Response<proto::HealthResponse>, Status> {
        let readiness = self.state.readiness().await;
        Ok(Response::new(proto::HealthResponse {
            status: if readiness.is_ok() {
                "SERVING"
            } else {
                "NOT_SERVING"
            }
            .to_owned(),
            reason: readiness.err().unwrap_or_default(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            backend: self.state.catalog.backend().kind().to_owned(),
            uptime_seconds: self.state.started.elapsed().as_secs_f64(),
            running_queries: u32::try_from(self.state.queries.running_count()).unwrap_or(u32::MAX),
        }))
    }

    async fn list_endpoints(
        &self,
        _request: Request<proto::ListEndpointsRequest>,
    ) -> Result<Response<proto::ListEndpointsResponse>, Status> {
        // The local backend has no remote endpoints: the list is empty there.
        let endpoints = self
            .state
            .catalog
            .backend()
            .endpoints()
            .into_iter()
            .map(|e| proto::Endpoint {
                url: e.url,
                healthy: e.healthy,
                breaker_state: e.breaker_state,
                latency_ms: e.latency_ms,
                error_rate: e.error_rate,
                in_flight: e.in_flight,
                requests: e.requests,
                errors: e.errors,
                ejections: e.ejections,
                hedges: e.hedges,
                last_error: e.last_error,
                last_probe_unix_ms: e.last_probe.map_or(0, |(at, _)| {
                    at.duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                }),
                last_probe_ok: e.last_probe.is_some_and(|(_, ok)| ok),
            })
            .collect();
        Ok(Response::new(proto::ListEndpointsResponse { endpoints }))
    }

    async fn cache_stats(
        &self,
        _request: Request<proto::CacheStatsRequest>,
    ) -> Result<Response<proto::CacheStatsResponse>, Status> {
        let stats = self.state.catalog.stats().await;
        let partials = self.state.partials.stats();
        Ok(Response::new(proto::CacheStatsResponse {
            entries: stats.entries,
            hits: stats.hits,
            misses: stats.misses,
            evictions: stats.evictions,
            hit_rate: stats.hit_rate(),
            expirations: stats.expirations,
            size_evictions: stats.size_evictions,
            approximate_bytes: stats.approximate_bytes,
            partial_entries: partials.entries,
            partial_bytes: partials.bytes,
            partial_hits: partials.hits,
            partial_misses: partials.misses,
            rows_not_scanned: partials.rows_not_scanned,
            partial_shared_hits: partials.shared_hits,
            partial_shared_errors: partials.shared_errors,
        }))
    }

    async fn invalidate_cache(
        &self,
        request: Request<proto::InvalidateCacheRequest>,
    ) -> Result<Response<proto::InvalidateCacheResponse>, Status> {
        let req = request.into_inner();
        let table = match &req.table {
            Some(t) => Some(request::table_ref(Some(t))?),
            None => None,
        };
        let invalidated = self.state.catalog.invalidate(table.as_ref()).await;
        self.state.coding_lessons.forget(table.as_ref());
        let table_name = table.as_ref().map(ToString::to_string);
        let partials_invalidated = self.state.partials.invalidate(table_name.as_deref()).await;
        Ok(Response::new(proto::InvalidateCacheResponse {
            invalidated,
            partials_invalidated,
        }))
    }

    async fn get_query(
        &self,
        request: Request<proto::GetQueryRequest>,
    ) -> Result<Response<proto::GetQueryResponse>, Status> {
        let owner = own_queries_only(&request);
        let query_id = request.into_inner().query_id;
        let query = visible_query(&self.state, &query_id, owner.as_deref())?;
        Ok(Response::new(proto::GetQueryResponse {
            query: Some(query_detail(query)),
        }))
    }

    type WatchQueryStream = BoxStream<'static, Result<proto::GetQueryResponse, Status>>;

    async fn watch_query(
        &self,
        request: Request<proto::WatchQueryRequest>,
    ) -> Result<Response<Self::WatchQueryStream>, Status> {
        let owner = own_queries_only(&request);
        let req = request.into_inner();
        // Unknown (or someone else's) query: NOT_FOUND now, not an empty stream.
        visible_query(&self.state, &req.query_id, owner.as_deref())?;
        let interval = Duration::from_millis(u64::from(if req.interval_ms == 0 {
            250
        } else {
            req.interval_ms.max(10)
        }));
        let state = Arc::clone(&self.state);
        let query_id = req.query_id;
        let snapshots =
            watch::snapshots(move || state.queries.get(&query_id), interval).map(|query| {
                Ok(proto::GetQueryResponse {
                    query: Some(query_detail(query)),
                })
            });
        Ok(Response::new(snapshots.boxed()))
    }

    async fn list_queries(
        &self,
        request: Request<proto::ListQueriesRequest>,
    ) -> Result<Response<proto::ListQueriesResponse>, Status> {
        let owner = own_queries_only(&request);
        let limit = limit_or(request.into_inner().limit, 100);
        let queries = &self.state.queries;
        let visible = |r: &QueryRecord| owner.as_ref().is_none_or(|o| &r.caller == o);
        Ok(Response::new(proto::ListQueriesResponse {
            running: queries
                .running()
                .into_iter()
                .filter(visible)
                .map(query_info)
                .collect(),
            recent: queries
                .recent(usize::MAX)
                .into_iter()
                .filter(visible)
                .take(limit)
                .map(query_info)
                .collect(),
        }))
    }

    async fn slow_queries(
        &self,
        request: Request<proto::SlowQueriesRequest>,
    ) -> Result<Response<proto::SlowQueriesResponse>, Status> {
        let req = request.into_inner();
        if !req.min_duration_ms.is_finite() || req.min_duration_ms < 0.0 {
            return Err(Error::InvalidArgument(
                "`min_duration_ms` must be a non-negative number".to_owned(),
            )
            .into());
        }
        let min =
            (req.min_duration_ms > 0.0).then(|| Duration::from_secs_f64(req.min_duration_ms / 1e3));
        let queries = self.state.queries.slow(limit_or(req.limit, 100), min);
        Ok(Response::new(proto::SlowQueriesResponse {
            queries: queries.into_iter().map(query_info).collect(),
        }))
    }

    async fn performance_trends(
        &self,
        request: Request<proto::PerformanceTrendsRequest>,
    ) -> Result<Response<proto::PerformanceTrendsResponse>, Status> {
        let seconds = match request.into_inner().bucket_seconds {
            0 => 60,
            s => u64::from(s),
        };
        let buckets = self.state.queries.trends(Duration::from_secs(seconds));
        Ok(Response::new(proto::PerformanceTrendsResponse {
            buckets: buckets
                .into_iter()
                .map(|b| proto::PerformanceBucket {
                    start: Some(convert::timestamp(b.start)),
                    method: b.method,
                    queries: b.queries,
                    errors: b.errors,
                    p50_ms: b.p50_ms,
                    p95_ms: b.p95_ms,
                    p99_ms: b.p99_ms,
                    rows_scanned: b.rows_scanned,
                })
                .collect(),
        }))
    }

    async fn export_query_log(
        &self,
        request: Request<proto::ExportQueryLogRequest>,
    ) -> Result<Response<proto::ExportQueryLogResponse>, Status> {
        let format =
            ExportFormat::from_str(&request.into_inner().format).map_err(Error::InvalidArgument)?;
        Ok(Response::new(proto::ExportQueryLogResponse {
            data: self.state.queries.export(format),
            content_type: format.content_type().to_owned(),
        }))
    }

    async fn cancel_query(
        &self,
        request: Request<proto::CancelQueryRequest>,
    ) -> Result<Response<proto::CancelQueryResponse>, Status> {
        let owner = own_queries_only(&request);
        let id = request.into_inner().query_id;
        if id.is_empty() {
            return Err(Error::InvalidArgument("`query_id` is required".to_owned()).into());
        }
        let cancelled = self.state.queries.cancel_of(&id, owner.as_deref());
        if !cancelled {
            return Err(Status::not_found(format!(
                "no running query with id `{id}`; see ListQueries for running queries"
            )));
        }
        Ok(Response::new(proto::CancelQueryResponse { cancelled }))
    }

    async fn get_config(
        &self,
        _request: Request<proto::GetConfigRequest>,
    ) -> Result<Response<proto::GetConfigResponse>, Status> {
        Ok(Response::new(proto::GetConfigResponse {
            toml: self.state.config.redacted_toml(),
        }))
    }
}
