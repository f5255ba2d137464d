//! Per-split progress of one scan, the flight recorder's rows: each split's state, rows,
//! bytes, retries, and where its time went (waiting on the backend for the next batch, or on
//! the consumer — the engine or the client — to take the last one).

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use serde::Serialize;

/// Where a split is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitState {
    /// Planned, not started (all concurrency slots busy).
    Queued,
    /// Reading.
    Running,
    /// Waiting to start again after a retryable failure.
    Retrying,
    /// Every row delivered.
    Done,
    /// Failed for good.
    Failed,
}

impl SplitState {
    /// The lower-case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// One split's record.
#[derive(Debug, Clone, Serialize)]
pub struct SplitRecord {
    /// The split's index among the plan's splits.
    pub index: u32,
    /// Where it is.
    pub state: SplitState,
    /// Endpoints that served its pages (VAST), in first-use order.
    pub endpoints: Vec<String>,
    /// Whether its read was hedged on a second endpoint (VAST).
    pub hedged: bool,
    /// Rows delivered.
    pub rows: u64,
    /// Arrow bytes delivered.
    pub bytes: u64,
    /// Batches delivered (VAST: pages).
    pub pages: u64,
    /// Attempts retried.
    pub retries: u32,
    /// Time spent waiting for the backend's next batch.
    pub backend_wait_ms: f64,
    /// Time spent waiting for the consumer to take a batch.
    pub consumer_wait_ms: f64,
}

impl SplitRecord {
    fn queued(index: u32) -> Self {
        Self {
            index,
            state: SplitState::Queued,
            endpoints: Vec::new(),
            hedged: false,
            rows: 0,
            bytes: 0,
            pages: 0,
            retries: 0,
            backend_wait_ms: 0.0,
            consumer_wait_ms: 0.0,
        }
    }
}

/// The splits of one scan, by index.
#[derive(Debug, Default)]
pub struct SplitLog(Mutex<BTreeMap<u32, SplitRecord>>);

impl SplitLog {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u32, SplitRecord>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lists `indexes` as queued.
    pub(crate) fn queue(&self, indexes: &[u32]) {
        let mut log = self.lock();
        for &index in indexes {
            log.entry(index)
                .or_insert_with(|| SplitRecord::queued(index));
        }
    }

    /// Moves split `index` to `state`.
    pub(crate) fn set_state(&self, index: u32, state: SplitState) {
        self.update(index, |r| r.state = state);
    }

    /// Counts one retry of split `index`, which now waits to start again.
    pub(crate) fn retried(&self, index: u32) {
        self.update(index, |r| {
            r.retries += 1;
            r.state = SplitState::Retrying;
        });
    }

    /// A batch of `rows` rows and `bytes` bytes that took `backend_wait` to arrive and
    /// `consumer_wait` to hand on.
    pub(crate) fn delivered(
        &self,
        index: u32,
        rows: u64,
        bytes: u64,
        backend_wait: Duration,
        consumer_wait: Duration,
    ) {
        self.update(index, |r| {
            r.rows += rows;
            r.bytes += bytes;
            r.pages += 1;
            r.backend_wait_ms += backend_wait.as_secs_f64() * 1e3;
            r.consumer_wait_ms += consumer_wait.as_secs_f64() * 1e3;
        });
    }

    /// Time spent waiting for the backend without a batch (the end of the split's stream).
    pub(crate) fn waited(&self, index: u32, backend_wait: Duration) {
        self.update(index, |r| {
            r.backend_wait_ms += backend_wait.as_secs_f64() * 1e3;
        });
    }

    fn update(&self, index: u32, change: impl FnOnce(&mut SplitRecord)) {
        let mut log = self.lock();
        change(
            log.entry(index)
                .or_insert_with(|| SplitRecord::queued(index)),
        );
    }

    /// Every split's record, by index.
    pub fn snapshot(&self) -> Vec<SplitRecord> {
        self.lock().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{SplitLog, SplitState};

    #[test]
    fn a_split_moves_from_queued_through_retries_to_done_with_its_counts() {
        let log = SplitLog::default();
        log.queue(&[0, 1]);
        log.set_state(1, SplitState::Running);
        log.retried(1);
        log.set_state(1, SplitState::Running);
        let ms = Duration::from_millis;
        log.delivered(1, 10, 80, ms(3), ms(1));
        log.delivered(1, 5, 40, ms(2), ms(0));
        log.waited(1, ms(1));
        log.set_state(1, SplitState::Done);
        let splits = log.snapshot();
        assert_eq!(splits.len(), 2);
        assert_eq!(splits[0].state, SplitState::Queued);
        let one = &splits[1];
        assert_eq!(
            (one.state, one.rows, one.bytes, one.pages, one.retries),
            (SplitState::Done, 15, 120, 2, 1)
        );
        assert!((one.backend_wait_ms - 6.0).abs() < 1e-9);
        assert!((one.consumer_wait_ms - 1.0).abs() < 1e-9);
    }
}
