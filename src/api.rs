//! gRPC handlers: proto ⇄ domain conversion and request validation; no business logic.

pub mod admin;
pub mod analytics;
pub mod flight;
pub mod query;

mod convert;
mod ipc;
mod read;
mod tracked;

/// The id of one request, set by the server's tracing layer and returned as `x-query-id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryId(pub String);

impl QueryId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

/// The request's query id, or a new one when the request did not pass through the layer.
fn query_id<T>(request: &tonic::Request<T>) -> String {
    request
        .extensions()
        .get::<QueryId>()
        .cloned()
        .unwrap_or_else(QueryId::generate)
        .0
}
