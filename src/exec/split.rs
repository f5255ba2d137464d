//! One split: read it, retry it when the backend says a retry may help.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Instant,
};

use arrow::record_batch::RecordBatch;
use futures::{StreamExt, stream::BoxStream};

use super::{ExecError, ScanPlan, ScanStats, SplitState};
use crate::backend::{Backend, Split};

/// Everything a split needs, shared by all splits of one scan.
pub(super) struct SplitRunner {
    pub(super) backend: Arc<dyn Backend>,
    pub(super) plan: Arc<ScanPlan>,
    pub(super) attempts: u32,
    pub(super) stats: Arc<ScanStats>,
}

impl SplitRunner {
    /// The batches of one split. A retryable failure before the first batch starts the split
    /// again; after a batch has been delivered a restart would repeat rows, so the backend
    /// must resume by itself (VAST resumes from its last complete page) or the error stands.
    pub(super) fn run(&self, split: Split) -> BoxStream<'static, Result<RecordBatch, ExecError>> {
        let backend = Arc::clone(&self.backend);
        let plan = Arc::clone(&self.plan);
        let stats = Arc::clone(&self.stats);
        let attempts = self.attempts.max(1);
        async_stream(move |tx| async move {
            let log = &stats.splits;
            let mut attempt = 0;
            'attempts: loop {
                attempt += 1;
                log.set_state(split.index, SplitState::Running);
                let mut delivered = false;
                let mut stream = backend.scan(&plan.table, &plan.meta, &plan.request, split);
                loop {
                    let asked = Instant::now();
                    let Some(item) = stream.next().await else {
                        log.waited(split.index, asked.elapsed());
                        break;
                    };
                    let backend_wait = asked.elapsed();
                    match item {
                        Ok(batch) => {
                            delivered = true;
                            let (rows, bytes) = (
                                batch.num_rows() as u64,
                                batch.get_array_memory_size() as u64,
                            );
                            let handed = Instant::now();
                            if tx.send(Ok(batch)).await.is_err() {
                                return;
                            }
                            log.delivered(split.index, rows, bytes, backend_wait, handed.elapsed());
                        }
                        Err(err) if err.is_retryable() && !delivered && attempt < attempts => {
                            stats.retries.fetch_add(1, Ordering::Relaxed);
                            log.retried(split.index);
                            tracing::warn!(table = %plan.table, split = split.index, attempt, error = %err, "retrying split");
                            tokio::time::sleep(backoff(attempt)).await;
                            continue 'attempts;
                        }
                        Err(source) => {
                            log.set_state(split.index, SplitState::Failed);
                            let _ = tx
                                .send(Err(ExecError::Split {
                                    table: plan.table.to_string(),
                                    split: format!("{}/{}", split.index, split.count),
                                    source,
                                }))
                                .await;
                            return;
                        }
                    }
                }
                stats.splits_done.fetch_add(1, Ordering::Relaxed);
                log.set_state(split.index, SplitState::Done);
                return;
            }
        })
    }
}

fn backoff(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_millis(50u64 << attempt.min(6))
}

/// A stream fed by an async producer through a one-slot channel; the producer stops when the
/// stream is dropped.
fn async_stream<F, Fut>(producer: F) -> BoxStream<'static, Result<RecordBatch, ExecError>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<RecordBatch, ExecError>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let task = tokio::spawn(producer(tx));
    let guard = AbortOnDrop(task);
    tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(move |item| {
            let _keep = &guard;
            item
        })
        .boxed()
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
