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
    auth::Caller,
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
    /// Who asked.
    pub(crate) caller: Caller,
    timed_out: Arc<AtomicBool>,
    /// `limits.max_query_duration`, when it is what set the deadline.
    duration_limit: Option<Duration>,
    finished: bool,
}

impl Tracked {
    /// Registers query `query_id` of `method` for `caller` and arms its deadline: `timeout`
    /// (the caller's own deadline, if it sent one), `server.request_timeout` or
    /// `limits.max_query_duration`, whichever is sooner. Refused when the caller already runs
    /// `limits.max_concurrent_queries_per_caller` queries.
    pub(crate) fn start(
        state: &Arc<AppState>,
        query_id: &str,
        method: &str,
        timeout: Option<Duration>,
        caller: Caller,
    ) -> Result<Self, Error> {
        let limits = &state.config.limits;
        let query = state
            .queries
            .try_start(
                query_id,
                method,
                &caller.name,
                limits.max_concurrent_queries_per_caller,
            )
            .map_err(|running| {
                Error::LimitExceeded(format!(
                    "caller `{}` already runs {running} queries, \
                     limits.max_concurrent_queries_per_caller; retry when one finishes",
                    caller.name
                ))
            })?;
        query
            .scan
            .max_rows
            .store(limits.max_rows_per_query, Ordering::Relaxed);
        let server_limit = state.config.server.request_timeout;
        let mut timeout = timeout.map_or(server_limit, |t| t.min(server_limit));
        let mut duration_limit = None;
        if !limits.max_query_duration.is_zero() && limits.max_query_duration < timeout {
            timeout = limits.max_query_duration;
            duration_limit = Some(timeout);
        }
        let timed_out = Arc::new(AtomicBool::new(false));
        arm_deadline(query.cancel.clone(), timeout, Arc::clone(&timed_out));
        Ok(Self {
            state: Arc::clone(state),
            query,
            caller,
            timed_out,
            duration_limit,
            finished: false,
        })
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
            duration_limit: self.duration_limit,
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
    duration_limit: Option<Duration>,
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
        let timed_out = self.timed_out.load(Ordering::Relaxed);
        if let Some(limit) = self.duration_limit.filter(|_| timed_out) {
            Error::LimitExceeded(format!(
                "query {} ran longer than limits.max_query_duration = {}; narrow the filter \
                 or ask an operator to raise the limit",
                self.query_id,
                humantime_serde::re::humantime::format_duration(limit)
            ))
        } else if timed_out {
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
