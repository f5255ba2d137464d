//! The request a data command sends, built once: `--explain` asks for its plan, otherwise it
//! runs.

use super::{ClientCommand, Failure, args::Scope, where_clause};
use crate::proto::{self, explain_request::Query};

/// The request of a command that reads a table (`select`, `count`, `sql`, an analytic);
/// `None` for the others.
pub(super) fn data_request(command: &ClientCommand) -> Result<Option<Query>, Failure> {
    use ClientCommand as C;
    Ok(Some(match command {
        C::Select(s) => Query::Select(proto::SelectRequest {
            table: Some(table_ref(&s.scope.table)?),
            columns: s.columns.clone(),
            filter: filter(&s.scope)?,
            limit: s.limit.unwrap_or(0),
            hints: None,
        }),
        C::Count(scope) => Query::Count(proto::CountRequest {
            table: Some(table_ref(&scope.table)?),
            filter: filter(scope)?,
            hints: None,
        }),
        C::Sql(s) => Query::Sql(proto::SqlRequest {
            table: Some(table_ref(&s.scope.table)?),
            filter: filter(&s.scope)?,
            sql: s.sql.clone(),
            limit: s.limit.unwrap_or(0),
            ..Default::default()
        }),
        C::MovingAverage(a) => Query::MovingAverage(proto::MovingAverageRequest {
            table: Some(table_ref(&a.on.scope.table)?),
            filter: filter(&a.on.scope)?,
            hints: None,
            group_by: a.on.group_by.clone(),
            time_column: a.time_column.clone(),
            value_column: a.value_column.clone(),
            window_rows: a.window_rows.unwrap_or(0),
            window: a.window.map(duration).transpose()?,
        }),
        C::Trend(a) => Query::Trend(proto::TrendRequest {
            table: Some(table_ref(&a.on.scope.table)?),
            filter: filter(&a.on.scope)?,
            hints: None,
            group_by: a.on.group_by.clone(),
            time_column: a.time_column.clone(),
            value_column: a.value_column.clone(),
        }),
        C::DetectAnomalies(a) => Query::DetectAnomalies(proto::DetectAnomaliesRequest {
            table: Some(table_ref(&a.on.scope.table)?),
            filter: filter(&a.on.scope)?,
            hints: None,
            group_by: a.on.group_by.clone(),
            time_column: a.time_column.clone(),
            value_column: a.value_column.clone(),
            threshold: a.threshold.unwrap_or(0.0),
            window_rows: a.window_rows.unwrap_or(0),
        }),
        C::WindowAggregate(a) => Query::WindowAggregate(proto::WindowAggregateRequest {
            table: Some(table_ref(&a.on.scope.table)?),
            filter: filter(&a.on.scope)?,
            hints: None,
            group_by: a.on.group_by.clone(),
            time_column: a.time_column.clone(),
            interval: Some(duration(a.interval)?),
            value_columns: a.value_columns.clone(),
            functions: a.functions.clone(),
        }),
        C::Percentiles(a) => Query::Percentiles(proto::PercentilesRequest {
            table: Some(table_ref(&a.on.scope.table)?),
            filter: filter(&a.on.scope)?,
            hints: None,
            group_by: a.on.group_by.clone(),
            value_column: a.value_column.clone(),
            quantiles: a.quantiles.clone(),
        }),
        C::Correlation(a) => Query::Correlation(proto::CorrelationRequest {
            table: Some(table_ref(&a.on.scope.table)?),
            filter: filter(&a.on.scope)?,
            hints: None,
            group_by: a.on.group_by.clone(),
            columns: a.columns.clone(),
        }),
        C::Histogram(a) => Query::Histogram(proto::HistogramRequest {
            table: Some(table_ref(&a.on.scope.table)?),
            filter: filter(&a.on.scope)?,
            hints: None,
            group_by: a.on.group_by.clone(),
            value_column: a.value_column.clone(),
            edges: a.edges.clone(),
            bins: a.bins.unwrap_or(0),
        }),
        C::TopN(a) => Query::TopN(proto::TopNRequest {
            table: Some(table_ref(&a.on.scope.table)?),
            filter: filter(&a.on.scope)?,
            hints: None,
            group_by: a.on.group_by.clone(),
            value_column: a.value_column.clone(),
            function: a.function.clone(),
            n: a.n,
            ascending: a.ascending,
        }),
        C::Schemas
        | C::Tables { .. }
        | C::Describe { .. }
        | C::Endpoints
        | C::Queries { .. }
        | C::Slow { .. }
        | C::Query { .. }
        | C::Watch { .. }
        | C::Cancel { .. } => return Ok(None),
    }))
}

/// `schema.table` or `bucket.schema.table`.
pub(super) fn table_ref(name: &str) -> Result<proto::TableRef, Failure> {
    let parts: Vec<&str> = name.split('.').collect();
    let (bucket, schema, table) = match parts.as_slice() {
        [schema, table] => ("", *schema, *table),
        [bucket, schema, table] => (*bucket, *schema, *table),
        _ => {
            return Err(Failure::invalid(format!(
                "`{name}` is not SCHEMA.TABLE or BUCKET.SCHEMA.TABLE"
            )));
        }
    };
    if schema.is_empty() || table.is_empty() {
        return Err(Failure::invalid(format!(
            "`{name}` is not SCHEMA.TABLE or BUCKET.SCHEMA.TABLE"
        )));
    }
    Ok(proto::TableRef {
        bucket: bucket.to_owned(),
        schema: schema.to_owned(),
        table: table.to_owned(),
    })
}

fn filter(scope: &Scope) -> Result<Option<proto::Filter>, Failure> {
    scope
        .filter
        .as_deref()
        .map(|text| where_clause::parse(text).map_err(|e| Failure::invalid(e.to_string())))
        .transpose()
}

fn duration(d: std::time::Duration) -> Result<prost_types::Duration, Failure> {
    prost_types::Duration::try_from(d)
        .map_err(|e| Failure::invalid(format!("duration {d:?} out of range: {e}")))
}
