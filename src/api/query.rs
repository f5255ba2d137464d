//! `QueryService`: list, describe, select, count, explain.

use std::{pin::Pin, sync::Arc};

use futures::Stream;
use tonic::{Request, Response, Status};

use super::{convert, ipc, track};
use crate::{
    error::Error,
    proto::{self, query_service_server::QueryService},
    request::{self, ReadArgs, Tracked},
    state::AppState,
};

/// The `QueryService` handler.
#[derive(Debug, Clone)]
pub struct QueryApi {
    state: Arc<AppState>,
}

impl QueryApi {
    /// A handler over the shared state.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<proto::ArrowChunk, Status>> + Send>>;

#[tonic::async_trait]
impl QueryService for QueryApi {
    async fn list_schemas(
        &self,
        request: Request<proto::ListSchemasRequest>,
    ) -> Result<Response<proto::ListSchemasResponse>, Status> {
        let caller = super::caller(&request);
        let req = request.into_inner();
        let mut schemas = self
            .state
            .catalog
            .backend()
            .list_schemas(&req.bucket)
            .await
            .map_err(Error::from)?;
        schemas.retain(|schema| caller.may_read(schema));
        Ok(Response::new(proto::ListSchemasResponse { schemas }))
    }

    async fn list_tables(
        &self,
        request: Request<proto::ListTablesRequest>,
    ) -> Result<Response<proto::ListTablesResponse>, Status> {
        let caller = super::caller(&request);
        let req = request.into_inner();
        if req.schema.is_empty() {
            return Err(Error::InvalidArgument("`schema` is required".to_owned()).into());
        }
        caller.check_read(&req.schema).map_err(Error::from)?;
        let tables = self
            .state
            .catalog
            .backend()
            .list_tables(&req.bucket, &req.schema)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(proto::ListTablesResponse {
            tables: tables
                .iter()
                .map(|t| proto::TableSummary {
                    table: Some(convert::table_proto(&t.table)),
                    num_rows: t.num_rows,
                    size_bytes: t.size_bytes,
                })
                .collect(),
        }))
    }

    async fn describe_table(
        &self,
        request: Request<proto::DescribeTableRequest>,
    ) -> Result<Response<proto::DescribeTableResponse>, Status> {
        let caller = super::caller(&request);
        let req = request.into_inner();
        let table = request::table_ref(req.table.as_ref())?;
        caller.check_read(&table.schema).map_err(Error::from)?;
        let described = self
            .state
            .catalog
            .describe(&table, req.bypass_cache)
            .await
            .map_err(Error::from)?;
        let meta = &described.entry.meta;
        Ok(Response::new(proto::DescribeTableResponse {
            table: Some(convert::table_proto(&table)),
            columns: meta
                .schema
                .fields()
                .iter()
                .map(|f| proto::Column {
                    name: f.name().clone(),
                    data_type: f.data_type().to_string(),
                    nullable: f.is_nullable(),
                })
                .collect(),
            num_rows: meta.num_rows,
            size_bytes: meta.size_bytes,
            from_cache: described.from_cache,
            cache_age_seconds: described.entry.loaded_at.elapsed().as_secs_f64(),
        }))
    }

    type SelectStream = ChunkStream;

    async fn select(
        &self,
        request: Request<proto::SelectRequest>,
    ) -> Result<Response<Self::SelectStream>, Status> {
        let tracked = track(&self.state, &request, "Select")?;
        let req = request.into_inner();
        let max = self.state.config.server.max_select_limit;
        if max > 0 && req.limit > max {
            let err = Error::InvalidArgument(format!(
                "limit {} exceeds the server's maximum {max} (server.max_select_limit); \
                 use a smaller limit or 0 to stream every row",
                req.limit
            ));
            let status = Status::from(err.clone());
            tracked.finish::<()>(&Err(err));
            return Err(status);
        }
        let args = ReadArgs {
            table: req.table.as_ref(),
            columns: &req.columns,
            filter: req.filter.as_ref(),
            limit: req.limit,
            hints: req.hints.as_ref(),
            no_columns: false,
            kind: crate::plan::QueryKind::Read,
        };
        let plan = match request::prepare(&tracked, args).await {
            Ok(plan) => plan,
            Err(err) => {
                let status = Status::from(err.clone());
                tracked.finish::<()>(&Err(err));
                return Err(status);
            }
        };
        Ok(Response::new(select_stream(tracked, plan, req.limit)))
    }

    async fn count(
        &self,
        request: Request<proto::CountRequest>,
    ) -> Result<Response<proto::CountResponse>, Status> {
        let tracked = track(&self.state, &request, "Count")?;
        let query_id = tracked.query.id().to_owned();
        let req = request.into_inner();
        let result = request::count(&tracked, &req).await;
        let response = result
            .as_ref()
            .map(|&count| proto::CountResponse { count, query_id })
            .map_err(Error::clone);
        tracked.finish(&result);
        Ok(Response::new(response?))
    }

    async fn explain(
        &self,
        request: Request<proto::ExplainRequest>,
    ) -> Result<Response<proto::ExplainResponse>, Status> {
        let tracked = track(&self.state, &request, "Explain")?;
        let result = request::explain(&tracked, request.get_ref()).await;
        let response = result.clone();
        tracked.finish(&result);
        Ok(Response::new(response?))
    }
}

/// The scan as a stream of IPC chunks: schema first, batches cut to the limit, end marker.
fn select_stream(tracked: Tracked, plan: crate::exec::ScanPlan, limit: u64) -> ChunkStream {
    let schema = Arc::clone(&plan.output_schema);
    let batches = request::scan(&tracked, plan);
    Box::pin(ipc::chunk_stream(tracked, schema, batches, limit))
}
