//! Transactions: every call runs in one. Begin, keep-alive, commit or rollback, and the
//! rollback of a transaction whose caller went away.

use std::sync::Arc;

use http::Method;

use super::client::{Call, header_u64};
use crate::{backend::BackendError, cluster::Member};

/// A transaction between its begin and the start of its commit or rollback. Dropped there —
/// the caller's future was dropped: a client that left, a deadline — it is rolled back in the
/// background instead of being left open until the cluster times it out.
pub(super) struct OpenTransaction {
    rollback: Option<(Arc<Member>, u64)>,
}

impl OpenTransaction {
    pub(super) fn new(ep: &Arc<Member>, txid: u64) -> Self {
        Self {
            rollback: Some((Arc::clone(ep), txid)),
        }
    }

    /// The caller ends the transaction itself from here on.
    pub(super) fn close(mut self) {
        self.rollback = None;
    }
}

impl Drop for OpenTransaction {
    fn drop(&mut self) {
        let Some((ep, txid)) = self.rollback.take() else {
            return;
        };
        // Without a runtime (process exit) the cluster's timeout ends it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = end(&ep, txid, Method::DELETE).await {
                    tracing::debug!("rollback of abandoned transaction {txid} failed: {e}");
                }
            });
        }
    }
}

/// Begins a transaction on `ep`.
pub(crate) async fn begin(ep: &Arc<Member>) -> Result<u64, BackendError> {
    let call = Call::tabular(
        Method::POST,
        "/".to_owned(),
        "transaction",
        0,
        "begin transaction".to_owned(),
    );
    let (headers, _) = ep.send_full(&call).await?;
    header_u64(&headers, "tabular-txid").ok_or_else(|| BackendError::Data {
        location: ep.url.clone(),
        message: "begin transaction: no numeric tabular-txid header in the answer".to_owned(),
    })
}

/// Tells the cluster that transaction `txid` is still in use (`GET /?transaction`).
pub(crate) async fn keep_alive(ep: &Arc<Member>, txid: u64) -> Result<(), BackendError> {
    let call = Call::tabular(
        Method::GET,
        "/".to_owned(),
        "transaction",
        txid,
        format!("keep-alive of transaction {txid}"),
    );
    ep.send_full(&call).await.map(|_| ())
}

/// Commits (`PUT`) or rolls back (`DELETE`) transaction `txid`.
pub(crate) async fn end(ep: &Arc<Member>, txid: u64, method: Method) -> Result<(), BackendError> {
    let what = if method == Method::PUT {
        "commit"
    } else {
        "rollback"
    };
    let call = Call::tabular(
        method,
        "/".to_owned(),
        "transaction",
        txid,
        format!("{what} transaction {txid}"),
    );
    ep.send_full(&call).await.map(|_| ())
}
