//! The split executor used by every read.
//!
//! A scan plan names a table and `n` splits. The executor reads up to
//! `exec.split_concurrency` splits at once, merges their batches into one bounded channel and
//! hands the receiving end to the caller. Dropping that stream (client disconnect), cancelling
//! the token (`CancelQuery`, deadline) or a split failing for good stops every split.

mod progress;
mod split;

pub use progress::{SplitLog, SplitRecord, SplitState};

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use arrow::record_batch::RecordBatch;
use futures::{StreamExt, stream::BoxStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    backend::{Backend, BackendError, EndpointLog, Split},
    config::ExecConfig,
};

/// Why a scan stopped early.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    /// A split failed and could not be retried (or ran out of attempts).
    #[error("split {split} of {table}: {source}")]
    Split {
        /// The table.
        table: String,
        /// `index/count`.
        split: String,
        /// The backend's error.
        #[source]
        source: BackendError,
    },
    /// The query was cancelled (client gone, `CancelQuery`, shutdown).
    #[error("query cancelled")]
    Cancelled,
    /// The scan delivered more rows than `limits.max_rows_per_query` allows.
    #[error(
        "the query scanned more than limits.max_rows_per_query = {limit} rows; narrow the \
         filter or ask an operator to raise the limit"
    )]
    RowLimit {
        /// The limit.
        limit: u64,
    },
}

/// A merged stream of record batches from every split of a scan.
pub type BatchStream = BoxStream<'static, Result<RecordBatch, ExecError>>;

/// Counters of one scan, shared with the query log.
#[derive(Debug, Default)]
pub struct ScanStats {
    /// Rows delivered by the backend (after its filter).
    pub rows: AtomicU64,
    /// In-memory Arrow bytes delivered.
    pub bytes: AtomicU64,
    /// Splits finished.
    pub splits_done: AtomicU64,
    /// Split attempts retried.
    pub retries: AtomicU64,
    /// The endpoints that served the scan (VAST).
    pub endpoints: EndpointLog,
    /// Most rows the scan may deliver (`limits.max_rows_per_query`; 0: no limit).
    pub max_rows: AtomicU64,
    /// Each split's progress.
    pub splits: SplitLog,
}

impl ScanStats {
    /// Each split's record, with the endpoints that served it.
    pub fn split_records(&self) -> Vec<SplitRecord> {
        let mut records = self.splits.snapshot();
        for record in &mut records {
            (record.endpoints, record.hedged) = self.endpoints.of_split(record.index);
        }
        records
    }
}

pub use crate::plan::ScanPlan;

/// Runs scan plans against one backend.
#[derive(Debug, Clone)]
pub struct Executor {
    backend: Arc<dyn Backend>,
    config: ExecConfig,
}

impl Executor {
    /// An executor over `backend`.
    pub fn new(backend: Arc<dyn Backend>, config: ExecConfig) -> Self {
        Self { backend, config }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Reads every split of `plan`; see [`Executor::execute_splits`].
    pub fn execute(
        &self,
        plan: ScanPlan,
        cancel: CancellationToken,
        stats: Arc<ScanStats>,
    ) -> BatchStream {
        let splits = (0..plan.num_splits).collect();
        self.execute_splits(plan, splits, cancel, stats)
    }

    /// Reads the listed splits of `plan` (Flight reads one per ticket) into one bounded stream.
    pub fn execute_splits(
        &self,
        plan: ScanPlan,
        splits: Vec<u32>,
        cancel: CancellationToken,
        stats: Arc<ScanStats>,
    ) -> BatchStream {
        let (tx, rx) = mpsc::channel(self.config.channel_capacity);
        stats.splits.queue(&splits);
        let mut plan = plan;
        plan.request.endpoints = stats.endpoints.clone();
        let runner = split::SplitRunner {
            backend: Arc::clone(&self.backend),
            plan: Arc::new(plan),
            attempts: self.config.split_attempts,
            stats,
        };
        let concurrency = self.config.split_concurrency;
        tokio::spawn(pump(runner, splits, concurrency, tx, cancel));
        tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
    }
}

/// Moves batches from the splits into `tx` until done, cancelled, or the receiver is gone.
async fn pump(
    runner: split::SplitRunner,
    splits: Vec<u32>,
    concurrency: usize,
    tx: mpsc::Sender<Result<RecordBatch, ExecError>>,
    cancel: CancellationToken,
) {
    let count = runner.plan.num_splits;
    let mut merged = futures::stream::iter(splits)
        .map(|index| runner.run(Split { index, count }))
        .flatten_unordered(concurrency);
    loop {
        let item = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                drop(merged);
                // The receiver may be gone already; nothing to do then.
                let _ = tx.send(Err(ExecError::Cancelled)).await;
                return;
            }
            _ = tx.closed() => return,
            item = merged.next() => item,
        };
        let Some(item) = item else { return };
        let mut over_limit = None;
        if let Ok(batch) = &item {
            let rows = batch.num_rows() as u64;
            let total = runner.stats.rows.fetch_add(rows, Ordering::Relaxed) + rows;
            let limit = runner.stats.max_rows.load(Ordering::Relaxed);
            if limit > 0 && total > limit {
                over_limit = Some(ExecError::RowLimit { limit });
            }
            runner
                .stats
                .bytes
                .fetch_add(batch.get_array_memory_size() as u64, Ordering::Relaxed);
        }
        let item = match over_limit {
            Some(err) => Err(err),
            None => item,
        };
        let failed = item.is_err();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                // The consumer must learn that the stream is cut short, not see a clean end.
                drop(merged);
                let _ = tx.send(Err(ExecError::Cancelled)).await;
                return;
            }
            sent = tx.send(item) => if sent.is_err() { return },
        }
        if failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
