//! The request's input as an Arrow C stream that DuckDB scans natively: the input channel
//! becomes a [`RecordBatchReader`] ([`InputReader`]) that DuckDB pulls on its own threads while
//! the splits are still arriving. DuckDB converts whole vectors, with no per-value calls as in
//! the Appender.
//!
//! The query reads the stream through a CTE named `t` put in front of it
//! ([`with_input_cte`]): `WITH t AS [NOT] MATERIALIZED (SELECT * FROM <stream>) <query>`.
//! - A query that reads `t` exactly once ([`InputReads::Once`], every typed analytic) gets
//!   `NOT MATERIALIZED`: DuckDB inlines the CTE, so the stream feeds the query's operators
//!   directly — aggregation runs while the splits arrive and no row is copied.
//! - Any other query (user SQL, which may read `t` any number of times) gets `MATERIALIZED`:
//!   the rows are kept once in DuckDB's in-memory result format (cheaper than a table: no
//!   storage or statistics) and every scan of `t` reads them.
//!
//! The C API's scan (`duckdb_arrow_scan`) ignores the projections and filters DuckDB pushes
//! into it (a pushed projection reads the wrong columns), so the stream is read by one
//! `SELECT *` only, with the optimizers that would push into it disabled
//! ([`super::sandbox`]); `engine::tests::queries_over_the_input_stream_see_every_column`
//! pins this down. A second read of a stream (which would see no rows) fails instead.

use std::sync::{Arc, Mutex, PoisonError};

use arrow::{
    datatypes::SchemaRef,
    error::ArrowError,
    record_batch::{RecordBatch, RecordBatchReader},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    EngineError, EngineQuery, InputReads,
    ffi::{ArrowStreamView, RawConnection},
    ingest::TablePlan,
    quote_ident,
};

type Input = mpsc::Receiver<Result<RecordBatch, EngineError>>;

/// The error that ended an input stream, kept with its type for the caller (DuckDB only
/// passes a message on).
#[derive(Debug, Clone, Default)]
struct InputFailure(Arc<Mutex<Option<EngineError>>>);

impl InputFailure {
    fn set(&self, err: EngineError) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
    }

    /// The input's own error in place of the DuckDB error it caused, if there was one.
    fn explain<T>(
        &self,
        result: Result<T, EngineError>,
        cancel: &CancellationToken,
    ) -> Result<T, EngineError> {
        let failure = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        match (result, failure) {
            (Ok(v), None) => Ok(v),
            (_, Some(err)) => Err(err),
            (Err(_), None) if cancel.is_cancelled() => Err(EngineError::Cancelled),
            (Err(err), None) => Err(err),
        }
    }
}

/// Registers `input` as the view `stream_view`, to be read exactly once by `SELECT *`.
fn register(
    loader: &mut RawConnection,
    stream_view: &str,
    plan: &TablePlan,
    input: Input,
    cancel: &CancellationToken,
) -> Result<(ArrowStreamView, InputFailure), EngineError> {
    let failure = InputFailure::default();
    let reader = InputReader {
        plan: plan.clone(),
        input,
        cancel: cancel.clone(),
        failure: failure.clone(),
        ended: false,
    };
    let view = loader
        .register_arrow_stream(stream_view, Box::new(reader))
        .map_err(|err| EngineError::internal("registering the input stream", err))?;
    Ok((view, failure))
}

/// Runs `query` with `input` as `t`: registers the stream as the view `stream_view`, hands
/// `run` the query's SQL with the input CTE in front ([`with_input_cte`]), then drops the
/// view. Errors of the input win over the DuckDB errors they caused.
pub(crate) fn query_over<T>(
    loader: &mut RawConnection,
    stream_view: &str,
    plan: &TablePlan,
    input: Input,
    cancel: &CancellationToken,
    query: &EngineQuery,
    run: impl FnOnce(&str) -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    let (view, failure) = register(loader, stream_view, plan, input, cancel)?;
    let result = run(&with_input_cte(query, stream_view));
    let dropped = loader
        .drop_arrow_stream(view)
        .map_err(|err| EngineError::internal("dropping the input stream", err));
    failure.explain(result.and_then(|v| dropped.map(|()| v)), cancel)
}

/// The query's SQL (over `t`) with `t AS [NOT] MATERIALIZED (SELECT * FROM <stream_view>)` in
/// front (`NOT` when it reads `t` [`InputReads::Once`]): joined to the query's own WITH list
/// when it starts with `WITH` or `WITH RECURSIVE` (as `analytics::sql::validate` leaves user
/// SQL), else as a WITH clause of its own. A query that defines a CTE `t` itself gets
/// DuckDB's duplicate-name error.
pub(crate) fn with_input_cte(query: &EngineQuery, stream_view: &str) -> String {
    let materialized = match query.input_reads {
        InputReads::Once => "NOT MATERIALIZED",
        InputReads::Any => "MATERIALIZED",
    };
    let cte = format!(
        "t AS {materialized} (SELECT * FROM {})",
        quote_ident(stream_view)
    );
    let sql = query.sql.trim_start();
    match after_keyword(sql, "with") {
        None => format!("WITH {cte} {sql}"),
        Some(rest) => match after_keyword(rest, "recursive") {
            Some(rest) => format!("WITH RECURSIVE {cte}, {rest}"),
            None => format!("WITH {cte}, {rest}"),
        },
    }
}

/// The text after `keyword` and the whitespace following it, if `text` starts with it.
fn after_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    let rest = &text[keyword.len()..];
    (head.eq_ignore_ascii_case(keyword) && rest.starts_with(char::is_whitespace))
        .then(|| rest.trim_start())
}

/// The input channel as a [`RecordBatchReader`]; DuckDB calls it from its worker threads.
struct InputReader {
    plan: TablePlan,
    input: Input,
    cancel: CancellationToken,
    failure: InputFailure,
    /// The end was reported once; a later call means a second scan.
    ended: bool,
}

impl InputReader {
    fn fail(&self, err: EngineError) -> Option<Result<RecordBatch, ArrowError>> {
        let message = err.to_string();
        self.failure.set(err);
        Some(Err(ArrowError::ExternalError(message.into())))
    }
}

impl Iterator for InputReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return self.fail(EngineError::Internal(
                "the input stream was read twice; it can be scanned only once".to_owned(),
            ));
        }
        loop {
            if self.cancel.is_cancelled() {
                return self.fail(EngineError::Cancelled);
            }
            // Not an async context: DuckDB's threads (or the worker's blocking thread).
            let batch = match self.input.blocking_recv() {
                // The pump also ends on cancel: only a clean end is the end of the input.
                None if self.cancel.is_cancelled() => return self.fail(EngineError::Cancelled),
                None => {
                    self.ended = true;
                    return None;
                }
                Some(Err(err)) => return self.fail(err),
                Some(Ok(batch)) => batch,
            };
            if batch.num_rows() == 0 {
                continue;
            }
            return match self.plan.normalize(batch) {
                Ok(batch) => Some(Ok(batch)),
                Err(err) => self.fail(err),
            };
        }
    }
}

impl RecordBatchReader for InputReader {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.plan.schema)
    }
}
