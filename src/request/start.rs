//! An analytics query started: the analytic plans its columns and SQL, the scan reads only
//! those with the filter pushed down, group columns become integer codes or 8-bit integers
//! where the plan gains by them, and a DuckDB worker starts on the batches as they arrive.

use std::sync::Arc;

use arrow::datatypes::Schema;
use futures::StreamExt;

use super::{
    analytic::AnalyticRequest,
    read::{self, ReadArgs},
    run_error::RunError,
    tracked::Tracked,
};
use crate::{
    analytics::{
        AnalyticPlan, AnalyticsError, CodedSql,
        coding_lessons::CodingLessons,
        group_codes::{CodeWidth, CodingError, GroupCodes},
        narrowing::{NarrowedGroups, NarrowingError},
    },
    backend::TableRef,
    engine::{EngineInput, EngineOutput},
    error::Error,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Whether the engine may see string group columns as integer codes ([`GroupCodes`]): only
/// where the result is decoded afterwards, not where it is streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// Any codes: also a plan's coded SQL ([`AnalyticPlan::coded_sql`]), whose result only
    /// the typed decode finishes, and 8-bit codes where the plan wants
    /// [`eight_bit_groups`](AnalyticPlan::eight_bit_groups) and the column is not known to
    /// need 32: for the typed RPCs, which can run again.
    Any,
    /// 32-bit codes, only where the plan's own SQL runs over them: a Flight command's result
    /// is sent as the query gives it.
    U32,
    Off,
}

/// Whether small integer group columns may reach the engine narrowed to 8 bits
/// ([`NarrowedGroups`]): only where the whole result is awaited, so that a query refused for
/// stale statistics can run again; not where it streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Narrowing {
    Allowed,
    Off,
}

/// A started analytics query.
pub(crate) struct Started {
    pub(crate) output: EngineOutput,
    /// The codes of the input's group columns, to decode the result with.
    pub(crate) codes: Option<GroupCodes>,
    /// Running the plan's coded SQL: it, and the most rows its complete result has.
    pub(crate) coded_sql: Option<CodedSql>,
}

/// How a query starts: what it may do with its group columns, and whether it reads rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StartOptions {
    pub(crate) coding: Coding,
    pub(crate) narrowing: Narrowing,
    /// Feed no rows: validate the request and yield the result schema (Flight's
    /// GetFlightInfo).
    pub(crate) dry_run: bool,
}

/// Plans the request, scans its columns and starts the DuckDB query.
pub(crate) async fn start<R: AnalyticRequest>(
    tracked: &Tracked,
    request: &R,
    plan_fn: impl FnOnce(&Schema) -> Result<AnalyticPlan, AnalyticsError>,
    options: StartOptions,
) -> Result<Started, RunError> {
    let state = &tracked.state;
    // One catalog lookup: the analytic's plan needs the schema before the read is planned.
    let (table, meta) = read::describe(tracked, request.table(), request.hints()).await?;
    let mut plan = plan_fn(&meta.schema).map_err(Error::from)?;
    let mut scan = read::plan_read(
        tracked,
        table.clone(),
        meta,
        &ReadArgs {
            table: request.table(),
            columns: &plan.columns,
            filter: request.filter(),
            hints: request.hints(),
            kind: request.kind(),
            ..Default::default()
        },
    )
    .await?;
    let mut schema = Arc::clone(&scan.output_schema);
    let codes = if options.dry_run {
        None
    } else {
        choose_codes(
            &plan,
            &schema,
            options.coding,
            &table,
            &state.coding_lessons,
        )
        .map_err(Error::from)?
    };
    let mut coded_sql = None;
    if let Some(codes) = &codes {
        coded_sql = plan.use_coded_sql();
        schema = codes.schema();
        // The coder takes dictionary arrays too, and codes each Parquet dictionary entry once.
        let table_schema = &scan.meta.schema;
        scan.request.dictionary_columns = plan
            .codable_groups
            .iter()
            .filter_map(|name| table_schema.index_of(name).ok())
            .collect();
    }
    // Integer columns only, so independent of the string columns' codes.
    let narrowed = match options.narrowing {
        Narrowing::Allowed if plan.eight_bit_groups => {
            NarrowedGroups::new(&schema, &plan.narrowable_groups, &scan.meta.int_ranges)
        }
        Narrowing::Allowed | Narrowing::Off => None,
    };
    if let Some(narrowed) = &narrowed {
        tracing::debug!(columns = ?narrowed.columns(), "group columns narrowed to 8 bits");
        schema = narrowed.schema();
    }
    let mut batches = if options.dry_run {
        futures::stream::empty().boxed()
    } else {
        state
            .executor
            .execute(
                scan,
                tracked.cancel_token(),
                Arc::clone(&tracked.query.scan),
            )
            .map(|item| item.map_err(|e| Box::new(e) as BoxError))
            .boxed()
    };
    if let Some(codes) = &codes {
        let u8_columns = codes.u8_columns();
        if !u8_columns.is_empty() {
            tracing::debug!(columns = ?u8_columns, "group columns coded in 8 bits");
        }
        let codes = codes.clone();
        batches = batches
            .map(move |item| {
                item.and_then(|batch| {
                    codes.encode(batch).map_err(|err| match err {
                        // Kept as its own type: `RunError::from_engine` finds it.
                        CodingError::TooManyValues(full) => Box::new(full) as BoxError,
                        CodingError::Arrow(other) => Box::new(other),
                    })
                })
            })
            .boxed();
    }
    if let Some(narrowed) = narrowed {
        batches = batches
            .map(move |item| {
                item.and_then(|batch| {
                    narrowed.narrow(batch).map_err(|err| match err {
                        // Kept as its own type: `RunError::from_engine` finds it.
                        NarrowingError::OutsideStatistics(stale) => Box::new(stale) as BoxError,
                        other => Box::new(other),
                    })
                })
            })
            .boxed();
    }
    let output = state
        .engine
        .run(
            EngineInput { schema, batches },
            plan.query,
            tracked.cancel_token(),
        )
        .await
        .map_err(|e| RunError::from_engine(&tracked.cancelled_reporter(), e))?;
    Ok(Started {
        output,
        codes,
        coded_sql,
    })
}

/// The codes for `plan`'s group columns under `coding`, if any: 8-bit where the plan gains by
/// them and no earlier request of `table` found the column too varied; none when its coded
/// SQL is known to leave the result cut short.
fn choose_codes(
    plan: &AnalyticPlan,
    schema: &Schema,
    coding: Coding,
    table: &TableRef,
    lessons: &CodingLessons,
) -> Result<Option<GroupCodes>, AnalyticsError> {
    match coding {
        Coding::Any => {
            let cut_short = plan
                .coded_sql
                .as_ref()
                .is_some_and(|coded| lessons.cut_short(table, &coded.sql));
            if cut_short {
                return Ok(None);
            }
            GroupCodes::new(schema, &plan.codable_groups, |column| {
                if plan.eight_bit_groups {
                    lessons.width(table, column)
                } else {
                    CodeWidth::U32
                }
            })
        }
        Coding::U32 if plan.coded_sql.is_none() => {
            GroupCodes::new(schema, &plan.codable_groups, |_| CodeWidth::U32)
        }
        Coding::U32 | Coding::Off => Ok(None),
    }
}
