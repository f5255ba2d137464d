//! The result of an engine request: a bounded stream of coalesced record batches.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use arrow::{array::RecordBatch, compute::concat_batches, datatypes::SchemaRef};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::EngineError;

/// Rows per output batch the engine aims for (DuckDB yields 2048-row chunks).
pub const TARGET_BATCH_ROWS: usize = 65_536;

/// Result batches of one request, streamed from the worker through a bounded channel.
///
/// Dropping it cancels the request: DuckDB is interrupted and the worker freed.
#[derive(Debug)]
pub struct EngineOutput {
    schema: SchemaRef,
    rx: mpsc::Receiver<Result<RecordBatch, EngineError>>,
    /// The request's token, cancelled when the output is dropped. A cancelled worker may
    /// stop without sending its error (it does not wait for a reader that stalled), so an
    /// output that ends after a cancel ends with `Cancelled`, never as a complete result.
    cancel: CancellationToken,
    /// The end (or an error) was yielded.
    ended: bool,
}

impl Drop for EngineOutput {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl EngineOutput {
    pub(crate) fn new(
        schema: SchemaRef,
        rx: mpsc::Receiver<Result<RecordBatch, EngineError>>,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            schema,
            rx,
            cancel,
            ended: false,
        }
    }

    /// An output that is one batch computed already (an `EXPLAIN`'s plan rows).
    pub(crate) fn ready(batch: RecordBatch) -> Self {
        let (tx, rx) = mpsc::channel(1);
        let schema = batch.schema();
        // A fresh channel of capacity 1 has room for the one batch.
        let _ = tx.try_send(Ok(batch));
        Self::new(schema, rx, CancellationToken::new())
    }

    /// The schema of the result batches.
    pub fn schema(&self) -> SchemaRef {
        std::sync::Arc::clone(&self.schema)
    }

    /// Collects every batch (for small, typed analytics results).
    pub async fn collect(mut self) -> Result<Vec<RecordBatch>, EngineError> {
        let mut batches = Vec::new();
        while let Some(batch) = self.next().await {
            batches.push(batch?);
        }
        Ok(batches)
    }
}

impl Stream for EngineOutput {
    type Item = Result<RecordBatch, EngineError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let item = match std::task::ready!(self.rx.poll_recv(cx)) {
            Some(Ok(batch)) => return Poll::Ready(Some(Ok(batch))),
            Some(Err(err)) => Some(Err(err)),
            None if self.cancel.is_cancelled() => Some(Err(EngineError::Cancelled)),
            None => None,
        };
        self.ended = true;
        Poll::Ready(item)
    }
}

/// Gathers small DuckDB chunks into batches of about [`TARGET_BATCH_ROWS`] and enforces the
/// row limit.
#[derive(Debug)]
pub(crate) struct Coalescer {
    schema: SchemaRef,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    remaining: Option<u64>,
}

impl Coalescer {
    pub(crate) fn new(schema: SchemaRef, max_rows: Option<u64>) -> Self {
        Self {
            schema,
            pending: Vec::new(),
            pending_rows: 0,
            remaining: max_rows,
        }
    }

    /// True once the row limit is reached: stop fetching.
    pub(crate) fn is_full(&self) -> bool {
        self.remaining == Some(0)
    }

    /// Adds a chunk; returns a batch when enough rows are gathered.
    pub(crate) fn push(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>, EngineError> {
        let mut batch = batch;
        if let Some(remaining) = self.remaining.as_mut() {
            let take = usize::try_from(*remaining)
                .unwrap_or(usize::MAX)
                .min(batch.num_rows());
            batch = batch.slice(0, take);
            *remaining -= take as u64;
        }
        if batch.num_rows() == 0 {
            return if self.is_full() {
                self.flush()
            } else {
                Ok(None)
            };
        }
        self.pending_rows += batch.num_rows();
        self.pending.push(batch);
        if self.pending_rows >= TARGET_BATCH_ROWS || self.is_full() {
            self.flush()
        } else {
            Ok(None)
        }
    }

    /// Emits whatever is pending.
    pub(crate) fn flush(&mut self) -> Result<Option<RecordBatch>, EngineError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let batches = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        if batches.len() == 1 {
            return Ok(batches.into_iter().next());
        }
        concat_batches(&self.schema, &batches)
            .map(Some)
            .map_err(|err| EngineError::Internal(format!("coalescing result batches: {err}")))
    }
}
