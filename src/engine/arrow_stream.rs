//! Loading the request's input through DuckDB's native Arrow scan: the input channel becomes
//! an Arrow C stream ([`InputReader`]) that `CREATE TABLE … AS SELECT * FROM <stream view>`
//! pulls on DuckDB's own threads while the splits are still arriving. DuckDB converts whole
//! vectors (no per-value FFI calls as in the Appender), which made ingest N× faster
//! (`benches/RESULTS.md`, "Engine ingest").

use std::sync::{Arc, Mutex, PoisonError};

use arrow::{
    datatypes::SchemaRef,
    error::ArrowError,
    record_batch::{RecordBatch, RecordBatchReader},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{EngineError, ffi::RawConnection, ingest::TablePlan, quote_ident};

/// Creates the table `table_ref` (schema-qualified, quoted) from every batch of `input`.
///
/// An input error or a cancel stops DuckDB's scan; the original error is returned, not
/// DuckDB's rewording of it.
pub(crate) fn load(
    loader: &mut RawConnection,
    stream_view: &str,
    table_ref: &str,
    plan: &TablePlan,
    input: mpsc::Receiver<Result<RecordBatch, EngineError>>,
    cancel: &CancellationToken,
) -> Result<(), EngineError> {
    let failure = Arc::new(Mutex::new(None));
    let reader = InputReader {
        plan: plan.clone(),
        input,
        cancel: cancel.clone(),
        failure: Arc::clone(&failure),
    };
    let create = format!(
        "CREATE TABLE {table_ref} AS SELECT * FROM {}",
        quote_ident(stream_view)
    );
    let loaded = loader.load_arrow_stream(stream_view, Box::new(reader), &create);
    let failure = failure
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    match (loaded, failure) {
        (_, Some(err)) => Err(err),
        (Err(_), None) if cancel.is_cancelled() => Err(EngineError::Cancelled),
        (Err(err), None) => Err(EngineError::internal("loading the input", err)),
        (Ok(()), None) => Ok(()),
    }
}

/// The input channel as a [`RecordBatchReader`]; DuckDB calls it from its worker threads.
struct InputReader {
    plan: TablePlan,
    input: mpsc::Receiver<Result<RecordBatch, EngineError>>,
    cancel: CancellationToken,
    /// The error that ended the stream, kept with its type for the caller.
    failure: Arc<Mutex<Option<EngineError>>>,
}

impl InputReader {
    fn fail(&self, err: EngineError) -> Option<Result<RecordBatch, ArrowError>> {
        let message = err.to_string();
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
        Some(Err(ArrowError::ExternalError(message.into())))
    }
}

impl Iterator for InputReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.cancel.is_cancelled() {
                return self.fail(EngineError::Cancelled);
            }
            // Not an async context: DuckDB's threads (or the worker's blocking thread).
            let batch = match self.input.blocking_recv() {
                // The pump also ends on cancel: only a clean end is the end of the input.
                None if self.cancel.is_cancelled() => return self.fail(EngineError::Cancelled),
                None => return None,
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
