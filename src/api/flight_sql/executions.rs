//! Which queries run for which statement execution, so `CancelFlightInfo` can stop them: the
//! tickets of one `GetFlightInfo` share an execution id, each `DoGet` on them records its
//! query id here, and a cancelled execution refuses tickets redeemed later.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use moka::sync::Cache;

/// Most executions remembered at once (older ones are forgotten first).
const MAX_EXECUTIONS: u64 = 10_000;

/// Executions and their queries, forgotten after the ticket TTL.
#[derive(Clone)]
pub(crate) struct Executions {
    queries: Cache<String, Arc<Mutex<Vec<String>>>>,
    cancelled: Cache<String, ()>,
}

impl std::fmt::Debug for Executions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executions").finish_non_exhaustive()
    }
}

impl Executions {
    /// Remembers executions for `ttl` (the tickets' lifetime).
    pub(crate) fn new(ttl: Duration) -> Self {
        let ttl = ttl.max(Duration::from_secs(1));
        Self {
            queries: Cache::builder()
                .max_capacity(MAX_EXECUTIONS)
                .time_to_live(ttl)
                .build(),
            cancelled: Cache::builder()
                .max_capacity(MAX_EXECUTIONS)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Records that `query_id` runs for `execution`; false when the execution was cancelled.
    pub(crate) fn start(&self, execution: &str, query_id: &str) -> bool {
        if execution.is_empty() {
            return true;
        }
        if self.cancelled.contains_key(execution) {
            return false;
        }
        let queries = self
            .queries
            .get_with(execution.to_owned(), Default::default);
        queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(query_id.to_owned());
        true
    }

    /// Marks `execution` cancelled and returns the queries that ran for it.
    pub(crate) fn cancel(&self, execution: &str) -> Vec<String> {
        self.cancelled.insert(execution.to_owned(), ());
        self.queries
            .remove(execution)
            .map(|q| q.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .unwrap_or_default()
    }
}
