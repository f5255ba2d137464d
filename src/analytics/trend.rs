//! Trend: least-squares slope (per second), intercept, r² and n of a value on epoch seconds,
//! per group.

use arrow::{array::RecordBatch, datatypes::Schema};

use super::{AnalyticPlan, AnalyticsError, columns::Columns, decode::Rows};
use crate::{
    engine::{EngineQuery, quote_ident},
    proto,
};

#[cfg(test)]
mod tests;

/// Validates `req` and builds the scan and SQL.
pub fn plan(req: &proto::TrendRequest, schema: &Schema) -> Result<AnalyticPlan, AnalyticsError> {
    let mut columns = Columns::new(schema);
    let groups = columns.groups(&req.group_by)?;
    let time = columns.time("time_column", &req.time_column)?;
    columns.numeric("value_column", &req.value_column)?;
    let value = quote_ident(&req.value_column);
    let sql = format!(
        "SELECT {g_text}regr_slope(__y, __x) AS __slope, regr_intercept(__y, __x) AS __intercept, \
         regr_r2(__y, __x) AS __r2, regr_count(__y, __x) AS __n \
         FROM (SELECT {g}CAST({value} AS DOUBLE) AS __y, {time} / 1e6 AS __x FROM t){group_by}{order}",
        g_text = groups.select_text(),
        g = groups.list_comma(),
        group_by = groups.group_by(),
        order = groups.order_by(""),
    );
    let query = EngineQuery::new(sql).reading_input_once();
    Ok(AnalyticPlan::grouped(columns, &groups, query))
}

/// Builds the response from the result of [`plan`]'s query.
pub fn decode(
    batches: &[RecordBatch],
    req: &proto::TrendRequest,
) -> Result<proto::TrendResponse, AnalyticsError> {
    let mut trends = Vec::new();
    for batch in batches {
        let rows = Rows::new(batch, req.group_by.len())?;
        let (slope, intercept, r2, n) = (
            rows.f64("__slope")?,
            rows.f64("__intercept")?,
            rows.f64("__r2")?,
            rows.i64("__n")?,
        );
        for row in 0..rows.len() {
            trends.push(proto::TrendRow {
                group: Some(rows.group(row)),
                slope_per_second: slope.or_nan(row),
                intercept: intercept.or_nan(row),
                r_squared: r2.or_nan(row),
                n: n.count(row),
            });
        }
    }
    Ok(proto::TrendResponse {
        trends,
        query_id: String::new(),
    })
}
