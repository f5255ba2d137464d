//! Correlation: Pearson r of every pair of two or more numeric columns, over the rows where
//! both are non-NULL, with n per pair; per group.

use arrow::{array::RecordBatch, datatypes::Schema};

use super::{
    AnalyticPlan, AnalyticsError,
    columns::{Columns, invalid},
    decode::Rows,
};
use crate::{
    engine::{EngineQuery, quote_ident},
    proto,
};

#[cfg(test)]
mod tests;

/// Most columns one request may correlate (pairs grow quadratically).
pub const MAX_COLUMNS: usize = 64;

/// Every pair `(i, j)` with `i < j` in request order.
pub(crate) fn pairs(count: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..count).flat_map(move |i| (i + 1..count).map(move |j| (i, j)))
}

/// Validates `req` and builds the scan and SQL.
pub fn plan(
    req: &proto::CorrelationRequest,
    schema: &Schema,
) -> Result<AnalyticPlan, AnalyticsError> {
    if req.columns.len() < 2 {
        return Err(invalid("columns must name two or more numeric columns"));
    }
    if req.columns.len() > MAX_COLUMNS {
        return Err(invalid(format!(
            "at most {MAX_COLUMNS} columns can be correlated at once"
        )));
    }
    let mut columns = Columns::new(schema);
    let groups = columns.groups(&req.group_by)?;
    for (i, name) in req.columns.iter().enumerate() {
        columns.numeric("columns", name)?;
        if req.columns[..i].contains(name) {
            return Err(invalid(format!("columns: `{name}` is listed twice")));
        }
    }
    let values: Vec<String> = req
        .columns
        .iter()
        .enumerate()
        .map(|(i, name)| format!("CAST({} AS DOUBLE) AS __c{i}", quote_ident(name)))
        .collect();
    let aggregates: Vec<String> = pairs(req.columns.len())
        .enumerate()
        .map(|(k, (i, j))| {
            format!("corr(__c{j}, __c{i}) AS __r{k}, regr_count(__c{j}, __c{i}) AS __n{k}")
        })
        .collect();
    let sql = format!(
        "SELECT {g_text}{aggregates} FROM (SELECT {g}{values} FROM t){group_by}{order}",
        g_text = groups.select_text(),
        aggregates = aggregates.join(", "),
        g = groups.list_comma(),
        values = values.join(", "),
        group_by = groups.group_by(),
        order = groups.order_by(""),
    );
    let query = EngineQuery::new(sql).reading_input_once();
    Ok(AnalyticPlan::grouped(columns, &groups, query))
}

/// Builds the response from the result of [`plan`]'s query.
pub fn decode(
    batches: &[RecordBatch],
    req: &proto::CorrelationRequest,
) -> Result<proto::CorrelationResponse, AnalyticsError> {
    let mut out = Vec::new();
    for batch in batches {
        let rows = Rows::new(batch, req.group_by.len())?;
        let columns = pairs(req.columns.len())
            .enumerate()
            .map(|(k, pair)| {
                Ok((
                    pair,
                    rows.f64(&format!("__r{k}"))?,
                    rows.i64(&format!("__n{k}"))?,
                ))
            })
            .collect::<Result<Vec<_>, AnalyticsError>>()?;
        for row in 0..rows.len() {
            let group = rows.group(row);
            for ((i, j), r, n) in &columns {
                out.push(proto::CorrelationPair {
                    group: Some(group.clone()),
                    x: req.columns[*i].clone(),
                    y: req.columns[*j].clone(),
                    r: r.or_nan(row),
                    n: n.count(row),
                });
            }
        }
    }
    Ok(proto::CorrelationResponse {
        pairs: out,
        query_id: String::new(),
    })
}
