//! The protocol edge: gRPC and Flight handlers that turn requests into calls of the
//! [`request`](crate::request) layer and its answers back into messages. No policy lives here.

pub mod admin;
pub mod analytics;
pub mod flight;
pub mod flight_sql;
pub mod query;

mod convert;
mod ipc;

use std::{sync::Arc, time::Duration};

use crate::{
    auth::{self, Caller},
    request::Tracked,
    state::AppState,
};

/// The id of one request, set by the server's tracing layer and returned as `x-query-id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryId(pub String);

impl QueryId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

/// Starts tracking `request` as a query of `method`, under its query id, its caller and its
/// `grpc-timeout`.
fn track<T>(
    state: &Arc<AppState>,
    request: &tonic::Request<T>,
    method: &str,
) -> Result<Tracked, tonic::Status> {
    let query_id = request
        .extensions()
        .get::<QueryId>()
        .cloned()
        .unwrap_or_else(QueryId::generate)
        .0;
    let timeout = grpc_timeout(request.metadata());
    Ok(Tracked::start(
        state,
        &query_id,
        method,
        timeout,
        caller(request),
    )?)
}

/// Who sent `request`, as the server's authentication layer found; a handler called without
/// that layer (in-process tests) runs as [`anonymous`](auth::anonymous).
fn caller<T>(request: &tonic::Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(auth::anonymous)
}

/// Parses the `grpc-timeout` header (`<digits><unit>`, unit one of H M S m u n).
fn grpc_timeout(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let text = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value.saturating_mul(3600)),
        "M" => Duration::from_secs(value.saturating_mul(60)),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}
