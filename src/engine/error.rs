//! Errors of the DuckDB worker pool.

use super::EngineQuery;

/// Why an engine request failed. Messages say what to fix.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Every worker is busy and the wait queue is full.
    #[error("the analytics engine is overloaded ({queued} requests already waiting); retry later")]
    Overloaded {
        /// Requests that were waiting when this one was refused.
        queued: usize,
    },
    /// The caller cancelled the request (or dropped its output).
    #[error("the analytics query was cancelled")]
    Cancelled,
    /// The SQL failed to prepare or run (a user error for the `Sql` RPC).
    #[error("SQL error: {0}")]
    Sql(String),
    /// An input column shown to the query as a narrower type (`EngineQuery::narrowed_inputs`,
    /// chosen from the table's statistics) held a value outside it: the table changed since
    /// its statistics were read.
    #[error("the table's data changed since its statistics were read ({0})")]
    OutsideStatistics(String),
    /// The query needed more memory than the engine's memory limit allows.
    #[error("the analytics query ran out of memory (engine.memory_limit): {0}")]
    OutOfMemory(String),
    /// The input stream failed or carried data the engine cannot load.
    #[error("input data: {0}")]
    Input(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A column type the engine cannot load.
    #[error("column `{column}` has type {data_type}, which the analytics engine cannot load")]
    UnsupportedType {
        /// The column name.
        column: String,
        /// The Arrow type, as text.
        data_type: String,
    },
    /// A bug or an unexpected DuckDB failure.
    #[error("internal engine error: {0}")]
    Internal(String),
}

impl EngineError {
    /// Classifies a DuckDB error raised while running `query`.
    pub(crate) fn from_query(err: &duckdb::Error, query: &EngineQuery) -> Self {
        let text = err.to_string();
        // Only the narrowing casts of `t` convert to a smaller type in typed analytics' SQL;
        // user SQL (never narrowed) gets the plain SQL error for its own casts.
        if !query.narrowed_inputs.is_empty()
            && text.contains("out of range for the destination type")
        {
            Self::OutsideStatistics(text)
        } else if text.contains("Out of Memory Error") {
            Self::OutOfMemory(text)
        } else if text.contains("INTERRUPT") {
            Self::Cancelled
        } else {
            Self::Sql(text)
        }
    }

    /// Wraps a DuckDB error raised by the engine's own statements (DDL, appends).
    pub(crate) fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        let text = err.to_string();
        if text.contains("Out of Memory Error") {
            Self::OutOfMemory(text)
        } else if text.contains("INTERRUPT") {
            Self::Cancelled
        } else {
            Self::Internal(format!("{context}: {text}"))
        }
    }
}
