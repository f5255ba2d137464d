//! `Explain`: the plan of a read or an analytic, built exactly as running it would build it,
//! and returned instead of run.

use arrow::datatypes::Schema;

use super::{
    analytic::AnalyticRequest,
    incremental::{UncoveredScan, cache_use},
    read::{self, ReadArgs},
    tracked::Tracked,
};
use crate::{
    analytics::{Analytic, AnalyticPlan, AnalyticsError, sql},
    engine::{EngineOutput, EngineQuery},
    error::Error,
    exec::ScanPlan,
    partials::states::Incremental,
    plan::{Choice, QueryKind, plan_rows},
    predicate::Predicate,
    proto::{self, explain_request::Query},
    sql::{Statement, pushed_filter},
};

/// Plans `request`'s query without reading a row.
pub(crate) async fn explain(
    tracked: &Tracked,
    request: &proto::ExplainRequest,
) -> Result<proto::ExplainResponse, Error> {
    let query = request.query.as_ref().ok_or_else(|| {
        Error::InvalidArgument(
            "`query` is required: set the request to explain (select, count, sql or an \
             analytic)"
                .to_owned(),
        )
    })?;
    let max = tracked.state.config.engine.max_result_rows;
    match query {
        Query::Select(r) => {
            let args = ReadArgs {
                table: r.table.as_ref(),
                columns: &r.columns,
                filter: r.filter.as_ref(),
                limit: r.limit,
                hints: r.hints.as_ref(),
                no_columns: false,
                kind: QueryKind::Read,
            };
            read_plan(tracked, args).await
        }
        Query::Count(r) => {
            let args = ReadArgs {
                table: r.table.as_ref(),
                filter: r.filter.as_ref(),
                hints: r.hints.as_ref(),
                no_columns: true,
                kind: QueryKind::Count,
                ..Default::default()
            };
            read_plan(tracked, args).await
        }
        Query::Sql(r) => {
            let (checked, once) = Statement::check_over_view(&tracked.state.sql, &r.sql, "t")?;
            analytic_plan(tracked, r, |s| sql::plan(r, checked, once, s, max)).await
        }
        Query::MovingAverage(r) => analytic_plan(tracked, r, |s| r.plan(s)).await,
        Query::Trend(r) => incremental_plan(tracked, r, |s| r.plan(s)).await,
        Query::DetectAnomalies(r) => analytic_plan(tracked, r, |s| r.plan(s)).await,
        Query::WindowAggregate(r) => incremental_plan(tracked, r, |s| r.plan(s)).await,
        Query::Percentiles(r) => analytic_plan(tracked, r, |s| r.plan(s)).await,
        Query::Correlation(r) => incremental_plan(tracked, r, |s| r.plan(s)).await,
        Query::Histogram(r) => incremental_plan(tracked, r, |s| r.plan(s)).await,
        Query::TopN(r) => incremental_plan(tracked, r, |s| r.plan(s)).await,
    }
}

/// The plans of every table scan of a Flight SQL statement, as running it would make them.
pub(crate) async fn explain_statement(
    tracked: &Tracked,
    statement: &Statement,
    params: &[proto::Literal],
) -> Result<Vec<proto::ExplainResponse>, Error> {
    let kind = if statement.is_single_table_scan() {
        QueryKind::Read
    } else {
        QueryKind::Aggregate
    };
    let mut plans = Vec::with_capacity(statement.tables.len());
    for table in &statement.tables {
        let table_ref = proto::TableRef {
            bucket: table.name.bucket.clone(),
            schema: table.name.schema.clone(),
            table: table.name.table.clone(),
        };
        let (resolved, meta) = read::describe(tracked, Some(&table_ref), None).await?;
        let columns = table.columns(&meta.schema);
        let filter = pushed_filter(table, &meta.schema, params);
        let args = ReadArgs {
            table: Some(&table_ref),
            columns: &columns,
            filter: filter.as_ref(),
            kind,
            ..Default::default()
        };
        let scan = read::plan_read(tracked, resolved, meta, &args).await?;
        plans.push(response(tracked, &scan, None));
    }
    Ok(plans)
}

/// Plans as the rows an `EXPLAIN` statement answers.
pub(crate) fn as_output(plans: &[proto::ExplainResponse]) -> Result<EngineOutput, Error> {
    let batch =
        plan_rows(plans).map_err(|e| Error::Internal(format!("building the plan rows: {e}")))?;
    Ok(EngineOutput::ready(batch))
}

async fn read_plan(tracked: &Tracked, args: ReadArgs<'_>) -> Result<proto::ExplainResponse, Error> {
    let (table, meta) = read::describe(tracked, args.table, args.hints).await?;
    let scan = read::plan_read(tracked, table, meta, &args).await?;
    Ok(response(tracked, &scan, None))
}

async fn analytic_plan<R: AnalyticRequest>(
    tracked: &Tracked,
    request: &R,
    plan_fn: impl FnOnce(&Schema) -> Result<AnalyticPlan, AnalyticsError>,
) -> Result<proto::ExplainResponse, Error> {
    let (table, meta) = read::describe(tracked, request.table(), request.hints()).await?;
    let analytic = plan_fn(&meta.schema)?;
    let args = ReadArgs {
        table: request.table(),
        columns: &analytic.columns,
        filter: request.filter(),
        hints: request.hints(),
        kind: request.kind(),
        ..Default::default()
    };
    let scan = read::plan_read(tracked, table, meta, &args).await?;
    Ok(response(tracked, &scan, Some(&analytic.query)))
}

/// An analytic the partial cache may answer: its plan as a call would run it now (the scan
/// of what is not cached, or the one-pass plan), and what the cache does.
async fn incremental_plan<R: Incremental + AnalyticRequest>(
    tracked: &Tracked,
    request: &R,
    plan_fn: impl FnOnce(&Schema) -> Result<AnalyticPlan, AnalyticsError>,
) -> Result<proto::ExplainResponse, Error> {
    let usage = cache_use(tracked, request).await?;
    let mut response = match usage.scan {
        Some((filter, plan)) => {
            let scan = UncoveredScan { request, filter };
            analytic_plan(tracked, &scan, |_| Ok(plan)).await?
        }
        None => analytic_plan(tracked, request, plan_fn).await?,
    };
    response.partial_cache = usage.description;
    response.partial_buckets = usage.buckets;
    response.partial_buckets_cached = usage.cached;
    Ok(response)
}

fn response(
    tracked: &Tracked,
    scan: &ScanPlan,
    engine: Option<&EngineQuery>,
) -> proto::ExplainResponse {
    let choices = &scan.choices;
    let filter = &choices.filter;
    let columns = scan
        .output_schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    proto::ExplainResponse {
        table: Some(proto::TableRef {
            bucket: scan.table.bucket.clone(),
            schema: scan.table.schema.clone(),
            table: scan.table.table.clone(),
        }),
        query_kind: choices.kind.name().to_owned(),
        planner: choices.mode.name().to_owned(),
        splits: Some(choice(&choices.splits)),
        sub_splits: Some(choice(&choices.sub_splits)),
        rows_per_sub_split: Some(choice(&choices.rows_per_sub_split)),
        columns,
        pushed_filter: conjunction(&filter.pushed),
        residual_filter: conjunction(&filter.residual),
        table_rows: scan.meta.num_rows,
        table_bytes: scan.meta.size_bytes,
        row_groups: scan.meta.num_row_groups,
        row_groups_pruned: scan
            .meta
            .num_row_groups
            .saturating_sub(filter.row_groups_kept),
        rows_to_scan: filter.rows_kept,
        estimated_rows: choices.estimate.rows,
        estimate_reason: choices.estimate.reason.clone(),
        healthy_endpoints: choices.healthy_endpoints.unwrap_or(0),
        engine_sql: engine.map(engine_sql).unwrap_or_default(),
        metadata_cache: if tracked.query.cache_hit() {
            "hit"
        } else {
            "miss"
        }
        .to_owned(),
        partial_cache: String::new(),
        partial_buckets: 0,
        partial_buckets_cached: 0,
    }
}

fn choice<T: Copy + Into<u64>>(choice: &Choice<T>) -> proto::PlanChoice {
    proto::PlanChoice {
        value: choice.value.into(),
        reason: choice.reason.clone(),
    }
}

/// Conjuncts as one SQL condition (empty: none).
fn conjunction(conjuncts: &[Predicate]) -> String {
    let parts: Vec<String> = conjuncts
        .iter()
        .map(|p| match p {
            Predicate::Or(_) => format!("({p})"),
            _ => p.to_string(),
        })
        .collect();
    parts.join(" AND ")
}

/// The engine's SQL, with the values bound to its `?` parameters.
fn engine_sql(query: &EngineQuery) -> String {
    if query.params.is_empty() {
        return query.sql.clone();
    }
    let params: Vec<String> = query.params.iter().map(|v| format!("{v:?}")).collect();
    format!("{}\n-- parameters: {}", query.sql, params.join(", "))
}
