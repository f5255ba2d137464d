//! A typed analytic answered: run to the end ([`run_to_end`]), checked against
//! `engine.max_response_rows`, decoded into its typed response.

use arrow::datatypes::Schema;

use super::{analytic::AnalyticRequest, rerun::run_to_end, tracked::Tracked};
use crate::{analytics::Analytic, error::Error};

/// Answers a typed analytics request of `method` (the name errors give).
pub(crate) async fn answer<R>(
    tracked: &Tracked,
    request: R,
    method: &str,
) -> Result<R::Response, Error>
where
    R: Analytic + AnalyticRequest + Send + 'static,
    R::Response: Send + 'static,
{
    let max_rows = tracked.state.config.engine.max_response_rows;
    // One row past the limit tells "too many" from "exactly the limit".
    let plan = |schema: &Schema| {
        let mut plan = request.plan(schema)?;
        plan.query.max_rows = Some(max_rows.saturating_add(1));
        Ok(plan)
    };
    let (batches, codes) = run_to_end(tracked, &request, plan).await?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows as u64 > max_rows {
        return Err(Error::InvalidArgument(format!(
            "{method} would return more than {max_rows} rows (engine.max_response_rows); \
             narrow the filter, or stream bulk results with Sql or Arrow Flight"
        )));
    }
    tracked.query.add_rows_returned(rows as u64);
    // Decoding grows with the result: off the async workers.
    let decode = move || {
        let batches = match codes {
            Some(codes) => codes.decode(batches)?,
            None => batches,
        };
        request.decode(&batches)
    };
    let response = tokio::task::spawn_blocking(decode)
        .await
        .map_err(|err| Error::Internal(format!("decoding the result: {err}")))??;
    Ok(response)
}
