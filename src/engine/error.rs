//! Errors of the DuckDB worker pool.

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
    /// Classifies a DuckDB error raised while running a query.
    pub(crate) fn from_query(err: &duckdb::Error) -> Self {
        let text = err.to_string();
        if text.contains("Out of Memory Error") {
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
