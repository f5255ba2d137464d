//! How one run of an analytics query stops short of its answer: an error for the client, or
//! a signal that an optimistic choice did not hold and the query should run again
//! (`rerun`). The signals never leave this layer.

use crate::{
    analytics::{group_codes::TooManyGroupValues, narrowing::OutsideStatistics},
    engine::EngineError,
    error::Error,
    exec::ExecError,
};

use super::tracked::CancelReason;

/// Why a run of an analytics query stopped.
#[derive(Debug)]
pub(crate) enum RunError {
    /// An error for the client.
    Failed(Error),
    /// A group column narrowed from the table's statistics met a value outside them: the
    /// table changed under its cached metadata.
    StaleStatistics(OutsideStatistics),
    /// A column given 8-bit codes met more distinct values than they hold.
    TooManyGroupValues(TooManyGroupValues),
}

impl From<Error> for RunError {
    fn from(err: Error) -> Self {
        Self::Failed(err)
    }
}

impl RunError {
    /// The engine's error, told apart: the client's error, or a signal to run again.
    pub(crate) fn from_engine(reason: &CancelReason, err: EngineError) -> Self {
        let failed = |err| Self::Failed(err);
        match err {
            EngineError::Overloaded { .. } => failed(Error::Overloaded(err.to_string())),
            EngineError::Cancelled => failed(reason.cancelled()),
            EngineError::Sql(_) | EngineError::UnsupportedType { .. } => {
                failed(Error::InvalidArgument(err.to_string()))
            }
            EngineError::OutOfMemory(_) => failed(Error::Overloaded(err.to_string())),
            EngineError::Input(source) => match source.downcast::<ExecError>() {
                Ok(exec) => failed(reason.exec_error(*exec)),
                Err(other) => match other.downcast::<OutsideStatistics>() {
                    Ok(stale) => Self::StaleStatistics(*stale),
                    Err(other) => match other.downcast::<TooManyGroupValues>() {
                        Ok(full) => Self::TooManyGroupValues(*full),
                        Err(other) => failed(Error::Internal(format!("analytics input: {other}"))),
                    },
                },
            },
            EngineError::Internal(m) => failed(Error::Internal(m)),
        }
    }

    /// The error for a caller that cannot run again: a signal here is a bug, since such a
    /// caller neither narrows integers nor gives 8-bit codes.
    pub(crate) fn into_error(self) -> Error {
        match self {
            Self::Failed(err) => err,
            Self::StaleStatistics(stale) => {
                Error::Internal(format!("a query that cannot run again narrowed: {stale}"))
            }
            Self::TooManyGroupValues(full) => Error::Internal(format!(
                "a query that cannot run again coded in 8 bits: {full}"
            )),
        }
    }
}

/// The engine's error for a caller that cannot run again (streamed results).
pub(crate) fn engine_error(reason: &CancelReason, err: EngineError) -> Error {
    RunError::from_engine(reason, err).into_error()
}
