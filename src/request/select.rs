//! The reads that skip the engine: a Select streams the executor's batches straight out,
//! as a whole (gRPC) or one split per Flight ticket.

use std::sync::Arc;

use arrow::array::RecordBatch;
use futures::{StreamExt, stream::BoxStream};

use super::{
    read::{ReadArgs, prepare},
    tracked::Tracked,
};
use crate::{error::Error, exec::ScanPlan, proto::SelectRequest};

/// Batches of a read, with errors as the client should see them.
pub(crate) type Batches = BoxStream<'static, Result<RecordBatch, Error>>;

/// Plans a Select for Flight. It always re-plans to the split count its tickets were cut for
/// (`num_splits`, once known); a limit reads one split so the limit holds across the result.
pub(crate) async fn plan_select(
    tracked: &Tracked,
    req: &SelectRequest,
    num_splits: Option<u32>,
) -> Result<ScanPlan, Error> {
    let mut hints = req.hints.unwrap_or_default();
    if req.limit > 0 {
        hints.num_splits = 1;
    } else if let Some(n) = num_splits {
        hints.num_splits = n;
    }
    let args = ReadArgs {
        table: req.table.as_ref(),
        columns: &req.columns,
        filter: req.filter.as_ref(),
        limit: req.limit,
        hints: Some(&hints),
        ..Default::default()
    };
    prepare(tracked, args).await
}

/// Every split of `plan`, merged.
pub(crate) fn scan(tracked: &Tracked, plan: ScanPlan) -> Batches {
    let splits = (0..plan.num_splits).collect();
    scan_splits(tracked, plan, splits)
}

/// The given splits of `plan`, merged.
pub(crate) fn scan_splits(tracked: &Tracked, plan: ScanPlan, splits: Vec<u32>) -> Batches {
    let reason = tracked.cancelled_reporter();
    tracked
        .state
        .executor
        .execute_splits(
            plan,
            splits,
            tracked.cancel_token(),
            Arc::clone(&tracked.query.scan),
        )
        .map(move |item| item.map_err(|e| reason.exec_error(e)))
        .boxed()
}

/// At most `limit` rows (0 = all).
pub(crate) fn limit_rows(batches: Batches, limit: u64) -> Batches {
    if limit == 0 {
        return batches;
    }
    // Ends as soon as the limit is reached, without waiting for (or reading) another batch;
    // dropping `batches` then stops the scan.
    futures::stream::unfold((batches, limit), |(mut batches, remaining)| async move {
        if remaining == 0 {
            return None;
        }
        match batches.next().await? {
            Ok(batch) => {
                let rows = (batch.num_rows() as u64).min(remaining);
                let batch = batch.slice(0, usize::try_from(rows).unwrap_or(usize::MAX));
                Some((Ok(batch), (batches, remaining - rows)))
            }
            Err(e) => Some((Err(e), (batches, remaining))),
        }
    })
    .boxed()
}
