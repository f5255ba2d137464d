//! Flight SQL: what BI tools and ADBC/JDBC drivers call. The catalog (`GetSqlInfo`,
//! `GetCatalogs`, `GetDbSchemas`, `GetTables`, `GetTableTypes`, `GetXdbcTypeInfo`, empty key
//! listings), statements and prepared statements over the service's tables (`statements`),
//! and cancellation. The Flight router (`api/flight/router.rs`) hands Flight SQL traffic here.
//!
//! A catalog command's ticket is the command itself (`Any`-encoded): it carries nothing secret,
//! and `DoGet` filters by the caller's schemas again. A statement's handles and tickets are
//! signed (`handle`), so the server keeps no per-statement state.

mod catalog;
mod executions;
mod handle;
mod info;
mod params;
mod statements;
mod types;

use std::sync::Arc;

use arrow::{datatypes::Schema, record_batch::RecordBatch};
use arrow_flight::{
    Action, ActionType, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus,
    FlightDescriptor, FlightEndpoint, FlightInfo, IpcMessage, SchemaAsIpc, SchemaResult, Ticket,
    encode::FlightDataEncoderBuilder,
    flight_service_server::FlightService,
    sql::{
        ActionCancelQueryRequest, ActionCancelQueryResult, ActionClosePreparedStatementRequest,
        ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult, Any, Command,
        CommandGetCatalogs, CommandGetDbSchemas, CommandGetExportedKeys, CommandGetImportedKeys,
        CommandGetPrimaryKeys, CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
        CommandGetXdbcTypeInfo, CommandPreparedStatementQuery, CommandStatementQuery,
        DoPutPreparedStatementResult, ProstMessageExt, TicketStatementQuery,
        server::{FlightSqlService, PeekableFlightDataStream},
    },
};
use futures::TryStreamExt;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::{auth::Caller, error::Error, state::AppState};

type DoGetStream = <FlightSqlApi as FlightService>::DoGetStream;

/// The Flight action that cancels the work behind a FlightInfo's tickets.
const CANCEL_FLIGHT_INFO: &str = "CancelFlightInfo";

/// The Flight SQL handler.
#[derive(Debug, Clone)]
pub struct FlightSqlApi {
    state: Arc<AppState>,
    handles: handle::Handles,
    executions: executions::Executions,
}

impl FlightSqlApi {
    /// A handler over the shared state; handles are signed with `flight.ticket_key`.
    pub fn new(state: Arc<AppState>) -> Self {
        let flight = &state.config.flight;
        let handles = handle::Handles::new(flight);
        let executions = executions::Executions::new(flight.ticket_ttl);
        Self {
            state,
            handles,
            executions,
        }
    }

    /// Cancels the statement executions behind `info`'s tickets.
    fn cancel_info(&self, info: Option<FlightInfo>, caller: &Caller) -> Result<bool, Status> {
        let info =
            info.ok_or_else(|| Status::invalid_argument("the request holds no FlightInfo"))?;
        Ok(self.cancel(&info, &caller.name)?)
    }

    /// `GetSchema` of a Flight SQL command (arrow-flight's blanket service has none).
    pub(crate) async fn schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        let any = Any::decode(&*request.get_ref().cmd)
            .map_err(|e| Status::invalid_argument(format!("Flight SQL command: {e}")))?;
        let command = Command::try_from(any)
            .map_err(|e| Status::invalid_argument(format!("Flight SQL command: {e}")))?;
        let schema = match command {
            Command::CommandGetCatalogs(c) => c.into_builder().schema(),
            Command::CommandGetDbSchemas(c) => c.into_builder().schema(),
            Command::CommandGetTables(c) => c.into_builder().schema(),
            Command::CommandGetTableTypes(c) => c.into_builder().schema(),
            Command::CommandGetSqlInfo(c) => c.into_builder(info::sql_info()).schema(),
            Command::CommandGetXdbcTypeInfo(c) => c.into_builder(types::xdbc_types()).schema(),
            Command::CommandGetPrimaryKeys(_) => catalog::primary_keys_schema(),
            Command::CommandGetExportedKeys(_) | Command::CommandGetImportedKeys(_) => {
                catalog::foreign_keys_schema()
            }
            Command::CommandStatementQuery(c) => {
                return self.statement_schema(&c.query, &request).await;
            }
            Command::CommandPreparedStatementQuery(_) => {
                return Err(Status::unimplemented(
                    "GetSchema of a prepared statement: its dataset schema came with \
                     CreatePreparedStatement",
                ));
            }
            other => {
                return Err(Status::unimplemented(format!(
                    "Flight SQL {} is not served: vastgate is read-only",
                    other.type_url()
                )));
            }
        };
        let IpcMessage(schema) = SchemaAsIpc::new(&schema, &Default::default())
            .try_into()
            .map_err(|e: arrow::error::ArrowError| Status::internal(e.to_string()))?;
        Ok(Response::new(SchemaResult { schema }))
    }
}

/// One endpoint on this server whose ticket is the command itself.
fn info_for(
    command: Any,
    schema: &Schema,
    request: Request<FlightDescriptor>,
) -> Result<Response<FlightInfo>, Status> {
    let ticket = Ticket::new(command.encode_to_vec());
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("encoding a schema: {e}")))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(request.into_inner());
    Ok(Response::new(info))
}

/// A one-batch answer as Flight data.
fn batch_stream(batch: Result<RecordBatch, Error>) -> Result<Response<DoGetStream>, Status> {
    let batch = batch?;
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(batch.schema())
        .build(futures::stream::iter([Ok(batch)]))
        .map_err(Status::from);
    Ok(Response::new(Box::pin(stream)))
}

#[tonic::async_trait]
impl FlightSqlService for FlightSqlApi {
    type FlightService = Self;

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.statement_info(query.query, Vec::new(), request).await
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.prepared_info(&query.prepared_statement_handle, request)
            .await
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.statement_get(&ticket.statement_handle, request).await
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.statement_get(&query.prepared_statement_handle, request)
            .await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        self.prepare(query.query, &request).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        // Handles are stateless: there is nothing to free.
        Ok(())
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        self.bind(&query.prepared_statement_handle, request).await
    }

    async fn do_action_cancel_query(
        &self,
        query: ActionCancelQueryRequest,
        request: Request<Action>,
    ) -> Result<ActionCancelQueryResult, Status> {
        let info = FlightInfo::decode(query.info)
            .map_err(|e| Status::invalid_argument(format!("CancelQuery's FlightInfo: {e}")))?;
        let caller = super::caller(&request);
        // `ActionCancelQueryResult.CancelResult` (not exported by arrow-flight): CANCELLED = 1,
        // NOT_CANCELLABLE = 3.
        let result = match self.cancel_info(Some(info), &caller)? {
            true => 1,
            false => 3,
        };
        Ok(ActionCancelQueryResult { result })
    }

    async fn do_action_fallback(
        &self,
        request: Request<Action>,
    ) -> Result<Response<<Self as FlightService>::DoActionStream>, Status> {
        if request.get_ref().r#type != CANCEL_FLIGHT_INFO {
            return Err(Status::invalid_argument(format!(
                "unknown action `{}`; ListActions names the ones served",
                request.get_ref().r#type
            )));
        }
        let cancel = CancelFlightInfoRequest::decode(request.get_ref().body.clone())
            .map_err(|e| Status::invalid_argument(format!("CancelFlightInfoRequest: {e}")))?;
        let caller = super::caller(&request);
        let status = match self.cancel_info(cancel.info, &caller)? {
            true => CancelStatus::Cancelled,
            false => CancelStatus::NotCancellable,
        };
        let result = CancelFlightInfoResult {
            status: status.into(),
        };
        let body = arrow_flight::Result {
            body: result.encode_to_vec().into(),
        };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(body)]))))
    }

    async fn list_custom_actions(&self) -> Option<Vec<Result<ActionType, Status>>> {
        Some(vec![Ok(ActionType {
            r#type: CANCEL_FLIGHT_INFO.to_owned(),
            description: "Cancels the statement behind a FlightInfo's tickets \
                          (CancelFlightInfoRequest → CancelFlightInfoResult)"
                .to_owned(),
        })])
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        info_for(query.as_any(), &schema, request)
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        info_for(query.as_any(), &schema, request)
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        info_for(query.as_any(), &schema, request)
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        info_for(query.as_any(), &schema, request)
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(info::sql_info()).schema();
        info_for(query.as_any(), &schema, request)
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder(types::xdbc_types()).schema();
        info_for(query.as_any(), &schema, request)
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        info_for(query.as_any(), &catalog::primary_keys_schema(), request)
    }

    async fn get_flight_info_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        info_for(query.as_any(), &catalog::foreign_keys_schema(), request)
    }

    async fn get_flight_info_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        info_for(query.as_any(), &catalog::foreign_keys_schema(), request)
    }

    async fn do_get_catalogs(
        &self,
        _query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        batch_stream(catalog::catalogs(&self.state))
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let caller = super::caller(&request);
        batch_stream(catalog::db_schemas(&self.state, &caller, query).await)
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let caller = super::caller(&request);
        batch_stream(catalog::tables(&self.state, &caller, query).await)
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(catalog::TABLE_TYPE);
        batch_stream(builder.build().map_err(|e| Error::Internal(e.to_string())))
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let batch = query.into_builder(info::sql_info()).build();
        batch_stream(batch.map_err(|e| Error::Internal(e.to_string())))
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let batch = query.into_builder(types::xdbc_types()).build();
        batch_stream(batch.map_err(|e| Error::Internal(e.to_string())))
    }

    async fn do_get_primary_keys(
        &self,
        _query: CommandGetPrimaryKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        batch_stream(Ok(catalog::primary_keys()))
    }

    async fn do_get_exported_keys(
        &self,
        _query: CommandGetExportedKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        batch_stream(Ok(catalog::foreign_keys()))
    }

    async fn do_get_imported_keys(
        &self,
        _query: CommandGetImportedKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        batch_stream(Ok(catalog::foreign_keys()))
    }
}
