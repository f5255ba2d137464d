//! One data request's lifecycle in the query log, with its deadline and cancellation.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio_util::sync::CancellationToken;

use crate::{
    error::Error,
    exec::ExecError,
    monitor::{QueryState, RunningQuery},
    state::AppState,
};

/// A running query that records its outcome when finished or dropped. Dropping it unfinished
/// (the client went away) cancels the query's work and logs it as cancelled.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub(crate) state: Arc<AppState>,
    pub(crate) query: Arc<RunningQuery>,
    timed_out: Arc<AtomicBool>,
    finished: bool,
}

impl Tracked {
    /// Registers query `query_id` of `method` and arms its deadline: `timeout` (the caller's
    /// own deadline, if it sent one) or `server.request_timeout`, whichever is sooner.
    pub(crate) fn start(
        state: &Arc<AppState>,
        query_id: &str,
        method: &str,
        timeout: Option<Duration>,
    ) -> Self {
        let query = state.queries.start(query_id, method);
        let limit = state.config.server.request_timeout;
        let timeout = timeout.map_or(limit, |t| t.min(limit));
        let timed_out = Arc::new(AtomicBool::new(false));
        arm_deadline(query.cancel.clone(), timeout, Arc::clone(&timed_out));
        Self {
            state: Arc::clone(state),
            query,
            timed_out,
            finished: false,
        }
    }

    /// The token that stops this query's scans and engine work.
    pub(crate) fn cancel_token(&self) -> CancellationToken {
        self.query.cancel.clone()
    }

    /// A detached copy of the error classification, for stream adapters.
    pub(crate) fn cancelled_reporter(&self) -> CancelReason {
        CancelReason {
            query_id: self.query.id().to_owned(),
            timed_out: Arc::clone(&self.timed_out),
        }
    }

    /// Records the outcome.
    pub(crate) fn finish<T>(mut self, result: &Result<T, Error>) {
        self.record(result.as_ref().err());
    }

    fn record(&mut self, error: Option<&Error>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let (state, message) = match error {
            None => (QueryState::Ok, String::new()),
            Some(Error::Cancelled(m)) => (QueryState::Cancelled, m.clone()),
            Some(Error::Exec(ExecError::Cancelled)) => {
                (QueryState::Cancelled, "cancelled".to_owned())
            }
            Some(e) => (QueryState::Error, e.to_string()),
        };
        let scan = &self.query.scan;
        let metrics = &self.state.metrics;
        metrics
            .rows_scanned
            .inc_by(scan.rows.load(Ordering::Relaxed));
        metrics
            .bytes_scanned
            .inc_by(scan.bytes.load(Ordering::Relaxed));
        metrics
            .split_retries
            .inc_by(scan.retries.load(Ordering::Relaxed));
        if self.query.splits() > 0 {
            metrics
                .scan_duration
                .observe(self.query.elapsed().as_secs_f64());
        }
        self.state.queries.finish(&self.query, state, message);
        // Stops the deadline watcher and any work still running.
        self.query.cancel.cancel();
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if !self.finished {
            self.query.cancel.cancel();
            let err = Error::Cancelled("the client went away".to_owned());
            self.record(Some(&err));
        }
    }
}

/// Tells a deadline from a cancellation after the fact.
#[derive(Debug, Clone)]
pub(crate) struct CancelReason {
    query_id: String,
    timed_out: Arc<AtomicBool>,
}

impl CancelReason {
    /// Turns a cancelled scan into the error the client should see.
    pub(crate) fn exec_error(&self, err: ExecError) -> Error {
        match err {
            ExecError::Cancelled => self.cancelled(),
            other => Error::Exec(other),
        }
    }

    /// Deadline or cancellation, whichever happened.
    pub(crate) fn cancelled(&self) -> Error {
        if self.timed_out.load(Ordering::Relaxed) {
            Error::DeadlineExceeded(format!(
                "query {} ran past its deadline; raise grpc-timeout or server.request_timeout, \
                 or narrow the filter",
                self.query_id
            ))
        } else {
            Error::Cancelled(format!("query {} was cancelled", self.query_id))
        }
    }
}

fn arm_deadline(cancel: CancellationToken, timeout: Duration, timed_out: Arc<AtomicBool>) {
    tokio::spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = tokio::time::sleep(timeout) => {
                timed_out.store(true, Ordering::Relaxed);
                cancel.cancel();
            }
        }
    });
}
