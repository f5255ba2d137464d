//! One Flight service on the port for two dialects: Flight SQL (commands and tickets that are
//! `Any` messages of `arrow.flight.protocol.sql`) goes to [`FlightSqlApi`], everything else
//! (our JSON / proto commands, path descriptors, our signed tickets) to [`FlightApi`].
//!
//! arrow-flight's blanket `FlightService` for a `FlightSqlService` decodes every command as
//! `Any` before any fallback (our JSON would fail there) and fixes ListFlights and GetSchema to
//! "unimplemented", so the two are routed here instead of merged into one type.

use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
    flight_service_server::FlightService, sql::Any,
};
use prost::Message;
use tonic::{Request, Response, Status, Streaming};

use super::{Boxed, FlightApi};
use crate::api::flight_sql::FlightSqlApi;

const SQL_TYPE_PREFIX: &str = "type.googleapis.com/arrow.flight.protocol.sql.";

/// Whether `bytes` (a descriptor's command or a ticket) is a Flight SQL message.
fn is_sql(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && Any::decode(bytes).is_ok_and(|any| any.type_url.starts_with(SQL_TYPE_PREFIX))
}

/// See the module doc.
#[derive(Debug, Clone)]
pub struct FlightRouter {
    plain: FlightApi,
    sql: FlightSqlApi,
}

impl FlightRouter {
    /// Routes between the plain Flight handler and the Flight SQL one.
    pub fn new(plain: FlightApi, sql: FlightSqlApi) -> Self {
        Self { plain, sql }
    }
}

#[tonic::async_trait]
impl FlightService for FlightRouter {
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
        self.plain.handshake(request).await
    }

    async fn list_flights(
        &self,
        request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        self.plain.list_flights(request).await
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        if is_sql(&request.get_ref().cmd) {
            FlightService::get_flight_info(&self.sql, request).await
        } else {
            self.plain.get_flight_info(request).await
        }
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
        if is_sql(&request.get_ref().cmd) {
            self.sql.schema(request).await
        } else {
            self.plain.get_schema(request).await
        }
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        if is_sql(&request.get_ref().ticket) {
            FlightService::do_get(&self.sql, request).await
        } else {
            self.plain.do_get(request).await
        }
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        FlightService::do_put(&self.sql, request).await
    }

    async fn do_exchange(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        self.plain.do_exchange(request).await
    }

    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        FlightService::do_action(&self.sql, request).await
    }

    async fn list_actions(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        FlightService::list_actions(&self.sql, request).await
    }
}
