//! The request's input as an Arrow C stream that DuckDB scans natively: the input channel
//! becomes a [`RecordBatchReader`] ([`InputReader`]) that DuckDB pulls on its own threads while
//! the splits are still arriving. DuckDB converts whole vectors, with no per-value calls as in
//! the Appender.
//!
//! The query reads the stream through a CTE named `t` put in front of it
//! ([`with_input_ctes`]): `WITH t AS [NOT] MATERIALIZED (SELECT * FROM <stream>) <query>`; a
//! query over several inputs (a join) gets one such CTE per input, each under its own name.
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
    EngineError, InputReads,
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

    fn take(&self) -> Option<EngineError> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The first input's own error in place of the DuckDB error it caused, if there was one.
fn explain<T>(
    failures: &[InputFailure],
    result: Result<T, EngineError>,
    cancel: &CancellationToken,
) -> Result<T, EngineError> {
    let failure = failures.iter().find_map(InputFailure::take);
    match (result, failure) {
        (Ok(v), None) => Ok(v),
        (_, Some(err)) => Err(err),
        (Err(_), None) if cancel.is_cancelled() => Err(EngineError::Cancelled),
        (Err(err), None) => Err(err),
    }
}

/// One input of a query, read through the CTE `cte`.
#[derive(Debug)]
pub(crate) struct StreamInput {
    /// The name the query reads it by (`t` for the single input of an analytic).
    pub(crate) cte: String,
    /// Unique, unguessable name of the view the stream is registered as (starts with
    /// [`super::INTERNAL_PREFIX`]). It lives in `main`: the loader connection that registers
    /// it cannot see the worker connection's temp schema.
    pub(crate) view: String,
    /// The normalized schema the input is cast to.
    pub(crate) plan: TablePlan,
    /// How many times the query reads it.
    pub(crate) reads: InputReads,
    /// Its batches, fed by an async pump.
    pub(crate) input: Input,
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

/// Runs `sql` over `inputs`: registers each stream as its view, hands `run` the SQL with one
/// CTE per input in front ([`with_input_ctes`]), then drops the views. Errors of an input win
/// over the DuckDB errors they caused.
pub(crate) fn query_over<T>(
    loader: &mut RawConnection,
    inputs: Vec<StreamInput>,
    cancel: &CancellationToken,
    sql: &str,
    run: impl FnOnce(&str) -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    let mut views = Vec::with_capacity(inputs.len());
    let mut failures = Vec::with_capacity(inputs.len());
    let mut ctes = Vec::with_capacity(inputs.len());
    for input in inputs {
        match register(loader, &input.view, &input.plan, input.input, cancel) {
            Ok((view, failure)) => {
                views.push(view);
                failures.push(failure);
                ctes.push((input.cte, input.view, input.reads));
            }
            Err(err) => {
                // Best effort: the registration error is the one to report.
                let _ = drop_views(loader, views);
                return Err(err);
            }
        }
    }
    let result = run(&with_input_ctes(sql, &ctes));
    let dropped = drop_views(loader, views);
    explain(&failures, result.and_then(|v| dropped.map(|()| v)), cancel)
}

fn drop_views(loader: &mut RawConnection, views: Vec<ArrowStreamView>) -> Result<(), EngineError> {
    let mut result = Ok(());
    for view in views {
        if let Err(err) = loader.drop_arrow_stream(view) {
            result = Err(EngineError::internal("dropping an input stream", err));
        }
    }
    result
}

/// `sql` with `<cte> AS [NOT] MATERIALIZED (SELECT * FROM <view>)` in front for each input
/// (`NOT` when the query reads it [`InputReads::Once`]): joined to the query's own WITH list
/// when it starts with `WITH` or `WITH RECURSIVE` (as `analytics::sql::validate` leaves user
/// SQL), else as a WITH clause of its own. A query that defines a CTE of the same name itself
/// gets DuckDB's duplicate-name error.
pub(crate) fn with_input_ctes(sql: &str, inputs: &[(String, String, InputReads)]) -> String {
    let sql = sql.trim_start();
    if inputs.is_empty() {
        return sql.to_owned();
    }
    let ctes = inputs
        .iter()
        .map(|(cte, view, reads)| {
            let materialized = match reads {
                InputReads::Once => "NOT MATERIALIZED",
                InputReads::Any => "MATERIALIZED",
            };
            format!(
                "{} AS {materialized} (SELECT * FROM {})",
                quote_ident(cte),
                quote_ident(view)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    match after_keyword(sql, "with") {
        None => format!("WITH {ctes} {sql}"),
        Some(rest) => match after_keyword(rest, "recursive") {
            Some(rest) => format!("WITH RECURSIVE {ctes}, {rest}"),
            None => format!("WITH {ctes}, {rest}"),
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
