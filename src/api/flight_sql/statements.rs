//! Flight SQL statements: `CommandStatementQuery`, prepared statements and their tickets,
//! and cancellation; `EXPLAIN <statement>` answers the plan of each table scan as rows. Thin:
//! parsing and checking is `sql`, running is `request::statement`.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_flight::{
    FlightDescriptor, FlightEndpoint, FlightInfo, IpcMessage, SchemaAsIpc, Ticket,
    decode::FlightRecordBatchStream,
    sql::{
        ActionCreatePreparedStatementResult, DoPutPreparedStatementResult, ProstMessageExt,
        TicketStatementQuery,
    },
};
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use tonic::{Request, Response, Status};

use super::{DoGetStream, FlightSqlApi, params};
use crate::{
    api::{flight::flight_stream, track},
    error::Error,
    proto::{self, FlightSqlHandleBody},
    request::{self, SplitPart, StatementOptions, Tracked},
    sql::Statement,
};

fn ipc_schema(schema: &Schema) -> Result<bytes::Bytes, Error> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &Default::default())
        .try_into()
        .map_err(|e: arrow::error::ArrowError| {
            Error::Internal(format!("encoding a schema: {e}"))
        })?;
    Ok(bytes)
}

/// Records the outcome of a tracked call and turns its error into a status.
fn finish<T>(tracked: Tracked, result: Result<T, Error>) -> Result<T, Status> {
    tracked.finish(&result);
    result.map_err(Status::from)
}

/// A checked statement, and whether it came as `EXPLAIN <statement>`.
struct Parsed {
    statement: Statement,
    explain: bool,
}

impl std::ops::Deref for Parsed {
    type Target = Statement;
    fn deref(&self) -> &Statement {
        &self.statement
    }
}

impl FlightSqlApi {
    fn parse(&self, sql: &str) -> Result<Parsed, Error> {
        let explained = crate::sql::explained(sql)?;
        let statement = Statement::over_service_tables(&self.state.sql, explained.unwrap_or(sql))?;
        Ok(Parsed {
            statement,
            explain: explained.is_some(),
        })
    }

    /// The result schema of `statement`, from a run that reads no rows, and the split count
    /// of its first table (an `EXPLAIN`: the plan rows, planned, in one part).
    async fn describe(
        &self,
        tracked: &Tracked,
        statement: &Parsed,
        params: &[proto::Literal],
    ) -> Result<(SchemaRef, u32), Error> {
        if statement.explain {
            request::explain_statement(tracked, statement, params).await?;
            return Ok((crate::plan::plan_rows_schema(), 1));
        }
        let options = StatementOptions {
            part: None,
            dry_run: true,
        };
        let started = request::start_statement(tracked, statement, params, options).await?;
        Ok((started.schema, started.num_splits))
    }

    /// `GetSchema` of a statement: its result schema, without reading rows.
    pub(super) async fn statement_schema(
        &self,
        sql: &str,
        request: &Request<FlightDescriptor>,
    ) -> Result<Response<arrow_flight::SchemaResult>, Status> {
        let tracked = track(&self.state, request, "FlightSql/GetSchema")?;
        let result = match self.parse(sql) {
            Ok(statement) => {
                let params = vec![proto::Literal::default(); statement.parameters()];
                self.describe(&tracked, &statement, &params).await
            }
            Err(err) => Err(err),
        };
        let schema = finish(tracked, result.and_then(|(schema, _)| ipc_schema(&schema)))?;
        Ok(Response::new(arrow_flight::SchemaResult { schema }))
    }

    /// `GetFlightInfo` of a statement with its parameters bound: one endpoint per split when
    /// it is a plain scan of one table, else one.
    pub(super) async fn statement_info(
        &self,
        sql: String,
        params: Vec<proto::Literal>,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let tracked = track(&self.state, &request, "FlightSql/GetFlightInfo")?;
        let result = self.info(&tracked, sql, params, &request).await;
        finish(tracked, result).map(Response::new)
    }

    async fn info(
        &self,
        tracked: &Tracked,
        sql: String,
        params: Vec<proto::Literal>,
        request: &Request<FlightDescriptor>,
    ) -> Result<FlightInfo, Error> {
        let statement = self.parse(&sql)?;
        if params.len() != statement.parameters() {
            return Err(Error::InvalidArgument(format!(
                "the statement takes {} parameter(s): prepare it and bind them with DoPut",
                statement.parameters()
            )));
        }
        let (schema, num_splits) = self.describe(tracked, &statement, &params).await?;
        let execution_id = uuid::Uuid::new_v4().simple().to_string();
        let parts: Vec<(u32, u32)> =
            if !statement.explain && statement.is_single_table_scan() && num_splits > 1 {
                (0..num_splits).map(|i| (i, num_splits)).collect()
            } else {
                vec![(0, 0)]
            };
        let mut info = FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(|e| Error::Internal(format!("encoding the schema: {e}")))?
            .with_descriptor(request.get_ref().clone())
            .with_ordered(parts.len() == 1);
        for (split, num_splits) in parts {
            let body = FlightSqlHandleBody {
                sql: sql.clone(),
                parameters: params.clone(),
                bound: true,
                split,
                num_splits,
                execution_id: execution_id.clone(),
                ..Default::default()
            };
            let handle = self.handles.issue(body, &tracked.caller.name);
            let ticket = TicketStatementQuery {
                statement_handle: handle.into(),
            };
            let ticket = Ticket::new(ticket.as_any().encode_to_vec());
            info = info.with_endpoint(FlightEndpoint::new().with_ticket(ticket));
        }
        Ok(info)
    }

    /// `DoGet` of a statement ticket (or of a prepared statement's handle).
    pub(super) async fn statement_get(
        &self,
        handle: &[u8],
        request: Request<impl Send>,
    ) -> Result<Response<DoGetStream>, Status> {
        let tracked = track(&self.state, &request, "FlightSql/DoGet")?;
        match self.start_get(&tracked, handle).await {
            Ok((schema, batches)) => Ok(Response::new(flight_stream(tracked, schema, batches))),
            Err(err) => {
                let status = Status::from(err.clone());
                tracked.finish::<()>(&Err(err));
                Err(status)
            }
        }
    }

    async fn start_get(
        &self,
        tracked: &Tracked,
        handle: &[u8],
    ) -> Result<(SchemaRef, request::Batches), Error> {
        let body = self.handles.redeem(handle, &tracked.caller.name)?;
        if !self
            .executions
            .start(&body.execution_id, tracked.query.id())
        {
            return Err(Error::Cancelled(
                "the statement was cancelled (CancelFlightInfo)".to_owned(),
            ));
        }
        let statement = self.parse(&body.sql)?;
        if !body.bound && statement.parameters() > 0 {
            return Err(unbound(&statement));
        }
        if statement.explain {
            let plans = request::explain_statement(tracked, &statement, &body.parameters).await?;
            let batch = crate::plan::plan_rows(&plans)
                .map_err(|e| Error::Internal(format!("building the plan rows: {e}")))?;
            let schema = batch.schema();
            return Ok((schema, futures::stream::once(async { Ok(batch) }).boxed()));
        }
        let options = StatementOptions {
            part: (body.num_splits > 0).then_some(SplitPart {
                index: body.split,
                count: body.num_splits,
            }),
            dry_run: false,
        };
        let started =
            request::start_statement(tracked, &statement, &body.parameters, options).await?;
        Ok((started.schema, started.batches))
    }

    /// `CreatePreparedStatement`: the statement checked, its result and parameter schemas,
    /// and a handle that carries it.
    pub(super) async fn prepare(
        &self,
        sql: String,
        request: &Request<impl Send>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let tracked = track(&self.state, request, "FlightSql/CreatePreparedStatement")?;
        let result = self.prepare_tracked(&tracked, sql).await;
        finish(tracked, result)
    }

    async fn prepare_tracked(
        &self,
        tracked: &Tracked,
        sql: String,
    ) -> Result<ActionCreatePreparedStatementResult, Error> {
        let statement = self.parse(&sql)?;
        let (schema, _) = self.describe(tracked, &statement, &[]).await?;
        // The parameters' types are whatever the client binds; DuckDB casts them.
        let parameter_schema = Schema::new(
            (1..=statement.parameters())
                .map(|i| Field::new(format!("${i}"), DataType::Null, true))
                .collect::<Vec<_>>(),
        );
        let body = FlightSqlHandleBody {
            sql,
            bound: statement.parameters() == 0,
            ..Default::default()
        };
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: self.handles.issue(body, &tracked.caller.name).into(),
            dataset_schema: ipc_schema(&schema)?,
            parameter_schema: ipc_schema(&parameter_schema)?,
        })
    }

    /// `DoPut` of parameters for a prepared statement: a new handle with them bound.
    pub(super) async fn bind(
        &self,
        handle: &[u8],
        request: Request<arrow_flight::sql::server::PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let caller = super::super::caller(&request);
        let mut body = self
            .handles
            .redeem(handle, &caller.name)
            .map_err(Error::from)?;
        let statement = self.parse(&body.sql)?;
        let stream = request.into_inner().map_err(Into::into);
        let batches: Vec<_> = FlightRecordBatchStream::new_from_flight_data(stream)
            .try_collect()
            .await
            .map_err(|e| Error::InvalidArgument(format!("reading the bound parameters: {e}")))?;
        let params = match batches.iter().find(|b| b.num_rows() > 0) {
            Some(batch) => params::bound_row(batch)?,
            None if statement.parameters() == 0 => Vec::new(),
            None => {
                return Err(Error::InvalidArgument(
                    "DoPut sent no parameter row; bind one row with a value per `?`".to_owned(),
                )
                .into());
            }
        };
        if params.len() != statement.parameters() {
            return Err(Error::InvalidArgument(format!(
                "the statement takes {} parameter(s) but {} were bound",
                statement.parameters(),
                params.len()
            ))
            .into());
        }
        body.parameters = params;
        body.bound = true;
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(self.handles.issue(body, &caller.name).into()),
        })
    }

    /// `GetFlightInfo` of a prepared statement.
    pub(super) async fn prepared_info(
        &self,
        handle: &[u8],
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let caller = super::super::caller(&request);
        let body = self
            .handles
            .redeem(handle, &caller.name)
            .map_err(Error::from)?;
        if !body.bound {
            let statement = self.parse(&body.sql)?;
            return Err(unbound(&statement).into());
        }
        self.statement_info(body.sql, body.parameters, request)
            .await
    }

    /// Cancels the executions behind the tickets of `info`; true when there was one.
    pub(super) fn cancel(&self, info: &FlightInfo, caller: &str) -> Result<bool, Error> {
        let mut any = false;
        for endpoint in &info.endpoint {
            let Some(ticket) = &endpoint.ticket else {
                continue;
            };
            let Ok(any_ticket) = arrow_flight::sql::Any::decode(&*ticket.ticket) else {
                continue;
            };
            let Ok(Some(ticket)) = any_ticket.unpack::<TicketStatementQuery>() else {
                continue;
            };
            let body = self.handles.redeem(&ticket.statement_handle, caller)?;
            for query_id in self.executions.cancel(&body.execution_id) {
                self.state.queries.cancel(&query_id);
            }
            any = true;
        }
        Ok(any)
    }
}

fn unbound(statement: &Statement) -> Error {
    Error::InvalidArgument(format!(
        "the prepared statement takes {} parameter(s): bind them with DoPut first",
        statement.parameters()
    ))
}
