//! Arrow Flight on the gRPC port: result sets for pyarrow, ADBC, DuckDB, Spark.
//!
//! `GetFlightInfo` plans a command and answers with one endpoint per split, each with a signed
//! ticket (see [`ticket`]); `DoGet` redeems one ticket and streams that split. A path
//! descriptor reads a whole table; a command descriptor is a `FlightCommand` (JSON or proto,
//! see [`command`]): a Select (split-parallel) or an analytic / SQL (one endpoint).

pub(crate) mod command;
mod router;
pub(crate) mod ticket;

use std::{pin::Pin, sync::Arc};

use arrow::{datatypes::SchemaRef, ipc::writer::IpcWriteOptions, record_batch::RecordBatch};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaAsIpc, SchemaResult, Ticket,
    encode::FlightDataEncoderBuilder, error::FlightError, flight_service_server::FlightService,
};
use futures::{Stream, StreamExt, TryStreamExt, stream::BoxStream};
use tonic::{Request, Response, Status, Streaming};

use super::track;
use crate::{
    analytics::public_names::{self, public_schema},
    error::Error,
    proto::{FlightCommand, flight_command::Command},
    request::{self, Tracked},
    state::AppState,
};

pub use self::router::FlightRouter;
use self::ticket::{TicketError, TicketSigner};

/// Largest Flight message body; slices batches below tonic's 4 MiB default decode limit.
const MAX_FLIGHT_DATA_BYTES: usize = 2 * 1024 * 1024;

/// The Flight handler.
#[derive(Debug, Clone)]
pub struct FlightApi {
    state: Arc<AppState>,
    signer: TicketSigner,
}

impl FlightApi {
    /// A handler over the shared state; tickets are signed with `flight.ticket_key`.
    pub fn new(state: Arc<AppState>) -> Self {
        let flight = &state.config.flight;
        let signer = TicketSigner::new(&flight.ticket_key, flight.ticket_ttl);
        Self { state, signer }
    }
}

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl From<TicketError> for Error {
    fn from(err: TicketError) -> Self {
        match err {
            TicketError::OtherCaller => Error::PermissionDenied(err.to_string()),
            _ => Error::InvalidArgument(err.to_string()),
        }
    }
}

fn flight_error(err: FlightError) -> Status {
    Status::internal(format!("encoding Flight data: {err}"))
}

impl FlightApi {
    /// Schema, split count and row count (when known) of a command, without reading rows.
    async fn describe(
        &self,
        tracked: &Tracked,
        command: &FlightCommand,
    ) -> Result<(SchemaRef, u32, Option<u64>), Error> {
        match &command.command {
            Some(Command::Select(req)) => {
                let plan = request::plan_select(tracked, req, None).await?;
                let exact = (req.filter.is_none() && req.limit == 0).then_some(plan.meta.num_rows);
                Ok((Arc::clone(&plan.output_schema), plan.num_splits, exact))
            }
            Some(other) => {
                let output = request::run_command(tracked, other, true).await?;
                Ok((public_schema(other, &output.schema), 1, None))
            }
            None => Err(Error::InvalidArgument("empty flight command".to_owned())),
        }
    }

    async fn flight_info(
        &self,
        tracked: &Tracked,
        descriptor: FlightDescriptor,
    ) -> Result<FlightInfo, Error> {
        let command = command::from_descriptor(&descriptor)?;
        let (schema, num_splits, rows) = self.describe(tracked, &command).await?;
        let mut info = FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(|e| Error::Internal(format!("encoding the schema: {e}")))?
            .with_descriptor(descriptor)
            .with_total_records(rows.map_or(-1, |r| i64::try_from(r).unwrap_or(i64::MAX)))
            .with_ordered(false);
        for split in 0..num_splits {
            let ticket = self
                .signer
                .sign(&command, split, num_splits, &tracked.caller.name);
            info = info.with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)));
        }
        Ok(info)
    }

    /// The record batches one ticket stands for.
    async fn ticket_batches(
        &self,
        tracked: &Tracked,
        ticket: &[u8],
    ) -> Result<(SchemaRef, request::Batches), Error> {
        let body = self.signer.verify(ticket, &tracked.caller.name)?;
        let command = body.command.and_then(|c| c.command);
        match command {
            Some(Command::Select(req)) => {
                let plan = request::plan_select(tracked, &req, Some(body.num_splits)).await?;
                if plan.num_splits != body.num_splits {
                    return Err(Error::InvalidArgument(format!(
                        "the table changed since GetFlightInfo ({} splits now, {} then); \
                         call GetFlightInfo again",
                        plan.num_splits, body.num_splits
                    )));
                }
                let schema = Arc::clone(&plan.output_schema);
                let batches = request::scan_splits(tracked, plan, vec![body.split]);
                Ok((schema, request::limit_rows(batches, req.limit)))
            }
            Some(other) => {
                let output = request::run_command(tracked, &other, false).await?;
                let schema = public_schema(&other, &output.schema);
                let reason = tracked.cancelled_reporter();
                let names = Arc::clone(&schema);
                let batches = output.batches.map(move |item| {
                    let batch = item.map_err(|e| request::engine_error(&reason, e))?;
                    public_names::rename(batch, &names)
                        .map_err(|e| Error::Internal(format!("naming the result columns: {e}")))
                });
                Ok((schema, batches.boxed()))
            }
            None => Err(Error::InvalidArgument("ticket holds no command".to_owned())),
        }
    }
}

/// Encodes batches as Flight data, recording the outcome when the stream ends. tonic polls
/// the encoder directly (no task or channel in between): the scan's own bounded channel is
/// the only buffer, and a client that goes away drops the whole chain, which cancels the scan.
pub(super) fn flight_stream(
    tracked: Tracked,
    schema: SchemaRef,
    batches: BoxStream<'static, Result<RecordBatch, Error>>,
) -> Boxed<FlightData> {
    let counted = {
        let query = Arc::clone(&tracked.query);
        batches.map_ok(move |b| {
            query.add_rows_returned(b.num_rows() as u64);
            b
        })
    };
    // Errors travel through the encoder as FlightError::Tonic and are unwrapped below.
    let input = counted.map_err(|e| FlightError::Tonic(Box::new(Status::from(e))));
    let encoded = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .with_max_flight_data_size(MAX_FLIGHT_DATA_BYTES)
        .build(input);
    let cancel = tracked.cancel_token();
    let reason = tracked.cancelled_reporter();
    let stream = futures::stream::unfold(Some((encoded, tracked)), move |state| {
        let cancel = cancel.clone();
        let reason = reason.clone();
        async move {
            let (mut encoded, tracked) = state?;
            let next = tokio::select! {
                biased;
                () = cancel.cancelled() => Err(reason.cancelled()),
                next = encoded.next() => Ok(next),
            };
            let failure = match next {
                Ok(Some(Ok(data))) => return Some((Ok(data), Some((encoded, tracked)))),
                Ok(None) => {
                    tracked.finish::<()>(&Ok(()));
                    return None;
                }
                Err(err) => (Status::from(err.clone()), err),
                Ok(Some(Err(FlightError::Tonic(status)))) => {
                    let err = Error::Internal(status.message().to_owned());
                    (*status, err)
                }
                Ok(Some(Err(other))) => {
                    let status = flight_error(other);
                    let err = Error::Internal(status.message().to_owned());
                    (status, err)
                }
            };
            let (status, err) = failure;
            tracked.finish::<()>(&Err(err));
            Some((Err(status), None))
        }
    });
    Box::pin(stream)
}

fn unsupported(rpc: &str) -> Status {
    Status::unimplemented(format!(
        "FlightService/{rpc} is not supported: vastgate serves reads (GetFlightInfo, DoGet, \
         GetSchema, ListFlights)"
    ))
}

#[tonic::async_trait]
impl FlightService for FlightApi {
    type HandshakeStream = Boxed<HandshakeResponse>;
    type ListFlightsStream = Boxed<FlightInfo>;
    type DoGetStream = Boxed<FlightData>;
    type DoPutStream = Boxed<PutResult>;
    type DoExchangeStream = Boxed<FlightData>;
    type DoActionStream = Boxed<arrow_flight::Result>;
    type ListActionsStream = Boxed<ActionType>;

    async fn handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes());
        let token = self
            .state
            .gate
            .handshake(authorization)
            .map_err(Error::from)?;
        let reply = HandshakeResponse {
            protocol_version: 0,
            payload: Default::default(),
        };
        let mut response =
            Response::new(Box::pin(futures::stream::iter([Ok(reply)])) as Self::HandshakeStream);
        // The client sends this header on its later calls (pyarrow's authenticate_basic_token).
        if let Some(bearer) = token.and_then(|t| format!("Bearer {t}").parse().ok()) {
            response.metadata_mut().insert("authorization", bearer);
        }
        Ok(response)
    }

    async fn list_flights(
        &self,
        request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        let caller = super::caller(&request);
        let backend = self.state.catalog.backend();
        let mut infos = Vec::new();
        let buckets = if self.state.config.vast.buckets.is_empty() {
            vec![String::new()]
        } else {
            self.state.config.vast.buckets.clone()
        };
        for bucket in buckets {
            for schema in backend.list_schemas(&bucket).await.map_err(Error::from)? {
                if !caller.may_read(&schema) {
                    continue;
                }
                for summary in backend
                    .list_tables(&bucket, &schema)
                    .await
                    .map_err(Error::from)?
                {
                    let table = &summary.table;
                    let described = self.state.catalog.describe(table, false).await;
                    let Ok(described) = described else { continue };
                    let mut path = vec![table.schema.clone(), table.table.clone()];
                    if !table.bucket.is_empty() {
                        path.insert(0, table.bucket.clone());
                    }
                    let info = FlightInfo::new()
                        .try_with_schema(&described.entry.meta.schema)
                        .map_err(|e| Status::internal(format!("encoding a schema: {e}")))?
                        .with_descriptor(FlightDescriptor::new_path(path))
                        .with_total_records(i64::try_from(summary.num_rows).unwrap_or(i64::MAX))
                        .with_total_bytes(i64::try_from(summary.size_bytes).unwrap_or(i64::MAX));
                    infos.push(Ok(info));
                }
            }
        }
        Ok(Response::new(Box::pin(futures::stream::iter(infos))))
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let tracked = track(&self.state, &request, "GetFlightInfo")?;
        let result = self.flight_info(&tracked, request.into_inner()).await;
        let reply = result.clone();
        tracked.finish(&result);
        Ok(Response::new(reply?))
    }

    async fn poll_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        let info = self.get_flight_info(request).await?.into_inner();
        Ok(Response::new(PollInfo::new().with_info(info)))
    }

    async fn get_schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        let tracked = track(&self.state, &request, "GetSchema")?;
        let result = async {
            let command = command::from_descriptor(request.get_ref())?;
            let (schema, _, _) = self.describe(&tracked, &command).await?;
            SchemaAsIpc::new(&schema, &IpcWriteOptions::default())
                .try_into()
                .map_err(|e: arrow::error::ArrowError| Error::Internal(e.to_string()))
        }
        .await;
        let reply = result.clone();
        tracked.finish(&result);
        Ok(Response::new(reply?))
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let tracked = track(&self.state, &request, "DoGet")?;
        match self
            .ticket_batches(&tracked, &request.get_ref().ticket)
            .await
        {
            Ok((schema, batches)) => Ok(Response::new(flight_stream(tracked, schema, batches))),
            Err(err) => {
                let status = Status::from(err.clone());
                tracked.finish::<()>(&Err(err));
                Err(status)
            }
        }
    }

    async fn do_put(
        &self,
        _: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        Err(unsupported("DoPut"))
    }

    async fn do_exchange(
        &self,
        _: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(unsupported("DoExchange"))
    }

    async fn do_action(
        &self,
        _: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        Err(unsupported("DoAction"))
    }

    async fn list_actions(
        &self,
        _: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        Ok(Response::new(Box::pin(futures::stream::empty())))
    }
}
