//! `WatchQuery`: a query's snapshots as it changes. Polled every `interval` (snapshots are
//! cheap: counters and one small map per query); a snapshot is sent when something a watcher
//! sees moved, and the stream ends after the first one of a finished query. Dropping the
//! stream (the client went away) stops the polling.

use std::{sync::Arc, time::Duration};

use futures::{Stream, stream};

use super::{QueryRecord, QueryState};

/// What a watcher sees move: states, progress and counts, not the clock.
fn progress(query: &QueryRecord) -> impl PartialEq + use<> {
    (
        query.state,
        query.phase.clone(),
        query.splits,
        query.splits_done,
        query.rows_scanned,
        query.rows_returned,
        query
            .split_details
            .iter()
            .map(|s| (s.state, s.rows, s.retries, s.endpoints.len(), s.hedged))
            .collect::<Vec<_>>(),
    )
}

/// Snapshots from `get` (the query, while the log has it) as they change.
pub fn snapshots(
    get: impl Fn() -> Option<QueryRecord> + Send + Sync + 'static,
    interval: Duration,
) -> impl Stream<Item = QueryRecord> + Send + 'static {
    let get = Arc::new(get);
    // State: the last progress sent, whether the stream is over, and whether to wait first.
    stream::unfold((None, false, false), move |(last, over, wait)| {
        let get = Arc::clone(&get);
        async move {
            if over {
                return None;
            }
            let mut wait = wait;
            loop {
                if wait {
                    tokio::time::sleep(interval).await;
                }
                wait = true;
                // Gone from the log (the recent ring moved on): nothing more to say.
                let query = get()?;
                let now = progress(&query);
                let finished = query.state != QueryState::Running;
                if finished || last.as_ref() != Some(&now) {
                    return Some((query, (Some(now), finished, true)));
                }
            }
        }
    })
}
