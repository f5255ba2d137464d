//! Flight SQL: what BI tools and ADBC/JDBC drivers call. This part answers the catalog
//! (`GetSqlInfo`, `GetCatalogs`, `GetDbSchemas`, `GetTables`, `GetTableTypes`, empty key
//! listings); statements are refused with a pointer to what works today. The
//! Flight router (`api/flight/router.rs`) hands Flight SQL traffic here.
//!
//! A catalog command's ticket is the command itself (`Any`-encoded): it carries nothing secret,
//! and `DoGet` filters by the caller's schemas again.

mod catalog;
mod info;

use std::sync::Arc;

use arrow::{datatypes::Schema, record_batch::RecordBatch};
use arrow_flight::{
    FlightDescriptor, FlightEndpoint, FlightInfo, IpcMessage, SchemaAsIpc, SchemaResult, Ticket,
    encode::FlightDataEncoderBuilder,
    flight_service_server::FlightService,
    sql::{
        Any, Command, CommandGetCatalogs, CommandGetDbSchemas, CommandGetExportedKeys,
        CommandGetImportedKeys, CommandGetPrimaryKeys, CommandGetSqlInfo, CommandGetTableTypes,
        CommandGetTables, CommandStatementQuery, ProstMessageExt, server::FlightSqlService,
    },
};
use futures::TryStreamExt;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::{error::Error, state::AppState};

type DoGetStream = <FlightSqlApi as FlightService>::DoGetStream;

/// The Flight SQL handler.
#[derive(Debug, Clone)]
pub struct FlightSqlApi {
    state: Arc<AppState>,
}

impl FlightSqlApi {
    /// A handler over the shared state.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
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
            Command::CommandGetPrimaryKeys(_) => catalog::primary_keys_schema(),
            Command::CommandGetExportedKeys(_) | Command::CommandGetImportedKeys(_) => {
                catalog::foreign_keys_schema()
            }
            other => return Err(not_yet(other.type_url())),
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

fn not_yet(what: &str) -> Status {
    Status::unimplemented(format!(
        "Flight SQL {what} is not served yet: the catalog is; run SQL through \
         AnalyticsService/Sql or plain Flight's {{\"sql\": ...}} command"
    ))
}

#[tonic::async_trait]
impl FlightSqlService for FlightSqlApi {
    type FlightService = Self;

    async fn get_flight_info_statement(
        &self,
        _query: CommandStatementQuery,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        Err(not_yet("CommandStatementQuery"))
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
