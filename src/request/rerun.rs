//! The run policy of typed analytics: run a query to the end, and once more when an
//! optimistic choice of [`start`] does not hold, so the client gets its answer, not an error:
//! - a group column narrowed from the table's statistics meets a value outside them (the
//!   table changed under its cached metadata): the cached metadata is dropped and the query
//!   runs without narrowing;
//! - a column given 8-bit codes has more distinct values than they hold: it runs with the
//!   column coded in 32 bits;
//! - the plan's coded SQL left a result cut short: it runs over the strings.
//!
//! The last two are remembered ([`CodingLessons`](crate::analytics::coding_lessons::CodingLessons)), so
//! later requests start from the choice that held.

use arrow::{array::RecordBatch, datatypes::Schema};

use super::{
    analytic::AnalyticRequest,
    read::table_ref,
    run_error::RunError,
    start::{Coding, Narrowing, StartOptions, start},
    tracked::Tracked,
};
use crate::{
    analytics::{AnalyticPlan, AnalyticsError, group_codes::GroupCodes},
    error::Error,
};

/// How one run ended, short of an error.
enum Attempt {
    Done(Vec<RecordBatch>, Option<GroupCodes>),
    /// The result of this coded SQL was cut short.
    CutShort(String),
}

/// Runs the request's query to the end, again where a choice did not hold; returns the
/// result and the codes to decode it with.
pub(crate) async fn run_to_end<R: AnalyticRequest>(
    tracked: &Tracked,
    request: &R,
    plan_fn: impl Fn(&Schema) -> Result<AnalyticPlan, AnalyticsError>,
) -> Result<(Vec<RecordBatch>, Option<GroupCodes>), Error> {
    let plan_fn = &plan_fn;
    let attempt = |coding, narrowing| async move {
        let options = StartOptions {
            coding,
            narrowing,
            dry_run: false,
        };
        let started = start(tracked, request, plan_fn, options).await?;
        let batches = started
            .output
            .collect()
            .await
            .map_err(|e| RunError::from_engine(&tracked.cancelled_reporter(), e))?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        Ok::<_, RunError>(match started.coded_sql {
            Some(coded) if rows > coded.max_rows => Attempt::CutShort(coded.sql),
            _ => Attempt::Done(batches, started.codes),
        })
    };
    let lessons = &tracked.state.coding_lessons;
    let (mut coding, mut narrowing) = (Coding::Any, Narrowing::Allowed);
    // Each failed attempt gives one choice up for good; a request grouped by several string
    // columns that all overflow their codes ends in the last, plain attempt.
    for _ in 0..3 {
        match attempt(coding, narrowing).await {
            Ok(Attempt::Done(batches, codes)) => return Ok((batches, codes)),
            Ok(Attempt::CutShort(sql)) => {
                tracing::debug!("coded result cut short; running again over the group strings");
                lessons
                    .learn_cut_short(&table_ref(request.table())?, &sql)
                    .await;
                coding = Coding::Off;
            }
            Err(RunError::StaleStatistics(stale)) => {
                tracing::warn!(%stale, "narrowed group column out of its statistics; running again");
                if let Ok(table) = table_ref(request.table()) {
                    tracked.state.catalog.invalidate(Some(&table)).await;
                }
                narrowing = Narrowing::Off;
            }
            Err(RunError::TooManyGroupValues(full)) => {
                tracing::debug!(%full, "running again with the column coded in 32 bits");
                lessons
                    .learn_u32(&table_ref(request.table())?, &full.column)
                    .await;
            }
            Err(RunError::Failed(err)) => return Err(err),
        }
    }
    match attempt(Coding::Off, Narrowing::Off).await {
        Ok(Attempt::Done(batches, codes)) => Ok((batches, codes)),
        Ok(Attempt::CutShort(_)) => Err(Error::Internal(
            "a result without group codes was taken for a coded one".to_owned(),
        )),
        Err(err) => Err(err.into_error()),
    }
}
