//! The service-level error and its single mapping to gRPC status codes.
//!
//! Domain modules keep their own small error types; handlers convert them into [`Error`], and
//! only `From<Error> for tonic::Status` picks a code. The match is exhaustive on purpose: a new
//! variant must choose its code (and log level) here.

use crate::{
    analytics::AnalyticsError, auth::Refusal, backend::BackendError, exec::ExecError,
    predicate::PredicateError, sql::SqlError,
};

/// Anything a request can fail with. `Clone` so one error can go both to the client and to
/// the query log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request is malformed; the message says what to fix.
    #[error("{0}")]
    InvalidArgument(String),
    /// The filter does not fit the table.
    #[error(transparent)]
    Predicate(#[from] PredicateError),
    /// Storage failed or the table is missing.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A scan stopped early.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// Too much work queued.
    #[error("{0}")]
    Overloaded(String),
    /// The caller went over one of its `[limits]`; the message names it.
    #[error("{0}")]
    LimitExceeded(String),
    /// The caller may not do this (its role or its schemas).
    #[error("{0}")]
    PermissionDenied(String),
    /// The caller did not say who it is, or its credentials are not valid.
    #[error("{0}")]
    Unauthenticated(String),
    /// The deadline passed.
    #[error("deadline exceeded: {0}")]
    DeadlineExceeded(String),
    /// The client or an operator cancelled the request.
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// Not built yet; the message names what is missing.
    #[error("{0}")]
    Unimplemented(String),
    /// A bug or an unexpected state.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<AnalyticsError> for Error {
    fn from(err: AnalyticsError) -> Self {
        match err {
            AnalyticsError::InvalidArgument(m) => Error::InvalidArgument(m),
            AnalyticsError::Internal(m) => Error::Internal(m),
        }
    }
}

impl From<SqlError> for Error {
    fn from(err: SqlError) -> Self {
        match err {
            SqlError::Syntax(m) | SqlError::Refused(m) => Error::InvalidArgument(m),
            SqlError::Internal(m) => Error::Internal(m),
        }
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Unauthenticated(m) => Error::Unauthenticated(m),
            Refusal::PermissionDenied(m) => Error::PermissionDenied(m),
        }
    }
}

/// Shorthand for results of request handling.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        use tonic::Code;
        let message = err.to_string();
        let code = match &err {
            Error::InvalidArgument(_) | Error::Predicate(_) => Code::InvalidArgument,
            Error::Backend(backend) => backend_code(backend),
            Error::Exec(ExecError::Split { source, .. }) => backend_code(source),
            Error::Exec(ExecError::Cancelled) | Error::Cancelled(_) => Code::Cancelled,
            Error::Overloaded(_)
            | Error::LimitExceeded(_)
            | Error::Exec(ExecError::RowLimit { .. }) => Code::ResourceExhausted,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::DeadlineExceeded(_) => Code::DeadlineExceeded,
            Error::Unimplemented(_) => Code::Unimplemented,
            Error::Internal(_) => Code::Internal,
        };
        match code {
            Code::Internal | Code::DataLoss => tracing::error!(%message, "request failed"),
            Code::Unavailable | Code::ResourceExhausted => {
                tracing::warn!(%message, "request failed")
            }
            _ => tracing::debug!(%message, "request failed"),
        }
        tonic::Status::new(code, message)
    }
}

fn backend_code(err: &BackendError) -> tonic::Code {
    use tonic::Code;
    match err {
        BackendError::NotFound { .. } => Code::NotFound,
        BackendError::Invalid(_) => Code::InvalidArgument,
        BackendError::Unsupported(_) => Code::Unimplemented,
        BackendError::Unavailable { .. } => Code::Unavailable,
        BackendError::Data { .. } => Code::DataLoss,
    }
}

/// An error with its causes (`client error (Connect): invalid peer certificate: …`): hyper's
/// and tonic's transport errors keep what went wrong in their sources.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
