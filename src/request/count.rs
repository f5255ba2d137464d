//! `Count`: the rows a filter keeps, scanned with no columns.

use futures::StreamExt;

use super::{
    read::{ReadArgs, prepare},
    select::scan,
    tracked::Tracked,
};
use crate::{error::Error, proto::CountRequest};

/// Counts the rows of the request's table that its filter keeps.
pub(crate) async fn count(tracked: &Tracked, req: &CountRequest) -> Result<u64, Error> {
    let args = ReadArgs {
        table: req.table.as_ref(),
        filter: req.filter.as_ref(),
        hints: req.hints.as_ref(),
        no_columns: true,
        kind: crate::plan::QueryKind::Count,
        ..Default::default()
    };
    let plan = prepare(tracked, args).await?;
    let mut batches = scan(tracked, plan);
    let mut total = 0u64;
    while let Some(batch) = batches.next().await {
        total += batch?.num_rows() as u64;
    }
    tracked.query.add_rows_returned(1);
    Ok(total)
}
