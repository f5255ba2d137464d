//! The read transaction of a split: begun on the best member (hedged when that member is slow
//! to answer), kept alive while the split is read, committed or rolled back in the background.

use std::{sync::Arc, time::Duration};

use http::Method;

use super::tx::{begin, end, keep_alive};
use crate::{
    backend::BackendError,
    cluster::{Cluster, Member},
};

/// Begins a read transaction on the best member (but `avoid`). When no answer comes within
/// the hedging delay, a second begin goes to another member; the first answer wins and the
/// other transaction, if it opens, is rolled back.
pub(super) async fn begin_hedged(
    cluster: &Arc<Cluster>,
    avoid: Option<usize>,
) -> Result<u64, (BackendError, Option<usize>)> {
    let first = cluster.best(avoid);
    let begin_on =
        |member: Arc<Member>| Box::pin(async move { begin(&member).await.map(|id| (member, id)) });
    let mut primary = begin_on(Arc::clone(&first));
    let failed = |e| (e, Some(first.index));
    let Some(delay) = cluster.hedging().delay(&first) else {
        return primary.await.map(|(_, id)| id).map_err(failed);
    };
    tokio::select! {
        result = &mut primary => return result.map(|(_, id)| id).map_err(failed),
        () = tokio::time::sleep(delay) => {}
    }
    let second = cluster.best(Some(first.index));
    if second.index == first.index || !cluster.hedging().try_hedge() {
        return primary.await.map(|(_, id)| id).map_err(failed);
    }
    cluster.hedged(&second);
    let mut secondary = begin_on(second);
    let (winner, loser) = tokio::select! {
        result = &mut primary => (result, secondary),
        result = &mut secondary => (result, primary),
    };
    match winner {
        Ok((_, id)) => {
            tokio::spawn(async move {
                if let Ok((member, id)) = loser.await {
                    let _ = end(&member, id, Method::DELETE).await;
                }
            });
            Ok(id)
        }
        // The first to answer failed: the other may still succeed.
        Err(_) => loser.await.map(|(_, id)| id).map_err(failed),
    }
}

/// Commits or rolls back `txid` on the best member without making the split wait for it.
pub(super) fn end_in_background(cluster: &Arc<Cluster>, txid: u64, method: Method) {
    let member = cluster.best(None);
    tokio::spawn(async move {
        if let Err(e) = end(&member, txid, method).await {
            tracing::warn!("end of read transaction {txid} failed: {e}");
        }
    });
}

/// Pings a read transaction every interval while the split is read; stops when dropped.
#[derive(Debug)]
pub(super) struct KeepAlive(tokio::task::JoinHandle<()>);

impl KeepAlive {
    pub(super) fn start(cluster: &Arc<Cluster>, txid: u64, every: Duration) -> Option<Self> {
        if every.is_zero() {
            return None;
        }
        let cluster = Arc::clone(cluster);
        Some(Self(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                // Any member will do: the transaction belongs to the cluster.
                let member = cluster.best(None);
                if let Err(e) = keep_alive(&member, txid).await {
                    tracing::debug!("keep-alive of transaction {txid} failed: {e}");
                }
            }
        })))
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}
