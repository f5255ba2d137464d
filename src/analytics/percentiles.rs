//! Percentiles: exact `quantile_cont` (linear interpolation) of a value, per group.

use arrow::{array::RecordBatch, datatypes::Schema};

use super::{
    AnalyticPlan, AnalyticsError,
    columns::{Columns, double_literal, invalid},
    decode::Rows,
};
use crate::{
    engine::{EngineQuery, quote_ident},
    proto,
};

#[cfg(test)]
mod tests;

/// Quantiles used when the request names none.
pub const DEFAULT_QUANTILES: [f64; 6] = [0.25, 0.5, 0.75, 0.9, 0.95, 0.99];

/// Most quantiles one request may ask for.
pub const MAX_QUANTILES: usize = 1_000;

/// The quantiles of `req` (or the defaults), validated.
fn quantiles(req: &proto::PercentilesRequest) -> Result<Vec<f64>, AnalyticsError> {
    if req.quantiles.is_empty() {
        return Ok(DEFAULT_QUANTILES.to_vec());
    }
    if req.quantiles.len() > MAX_QUANTILES {
        return Err(invalid(format!(
            "at most {MAX_QUANTILES} quantiles per request"
        )));
    }
    for q in &req.quantiles {
        if !(0.0..=1.0).contains(q) {
            return Err(invalid(format!("quantile {q} is outside [0, 1]")));
        }
    }
    Ok(req.quantiles.clone())
}

/// Validates `req` and builds the scan and SQL.
pub fn plan(
    req: &proto::PercentilesRequest,
    schema: &Schema,
) -> Result<AnalyticPlan, AnalyticsError> {
    let quantiles = quantiles(req)?;
    let mut columns = Columns::new(schema);
    let groups = columns.groups(&req.group_by)?;
    columns.numeric("value_column", &req.value_column)?;
    let value = quote_ident(&req.value_column);
    let list: Vec<String> = quantiles.iter().map(|q| double_literal(*q)).collect();
    let sql = format!(
        "SELECT {g_text}count(__v) AS __n, quantile_cont(__v, [{list}]) AS __q \
         FROM (SELECT {g}CAST({value} AS DOUBLE) AS __v FROM t){group_by}{order}",
        g_text = groups.select_text(),
        g = groups.list_comma(),
        list = list.join(", "),
        group_by = groups.group_by(),
        order = groups.order_by(""),
    );
    let query = EngineQuery::new(sql).reading_input_once();
    // Quantile states fill and combine slower on DuckDB's perfect-hash aggregate than in its
    // hash table (`benches/RESULTS.md`).
    Ok(AnalyticPlan::grouped(columns, &groups, query).without_eight_bit_groups())
}

/// Builds the response from the result of [`plan`]'s query.
pub fn decode(
    batches: &[RecordBatch],
    req: &proto::PercentilesRequest,
) -> Result<proto::PercentilesResponse, AnalyticsError> {
    let quantiles = quantiles(req)?;
    let mut rows_out = Vec::new();
    for batch in batches {
        let rows = Rows::new(batch, req.group_by.len())?;
        let (n, q) = (rows.i64("__n")?, rows.f64_list("__q")?);
        for row in 0..rows.len() {
            let values = q
                .get(row)
                .unwrap_or_else(|| vec![f64::NAN; quantiles.len()]);
            if values.len() != quantiles.len() {
                return Err(AnalyticsError::Internal(format!(
                    "expected {} quantiles, got {}",
                    quantiles.len(),
                    values.len()
                )));
            }
            rows_out.push(proto::PercentilesRow {
                group: Some(rows.group(row)),
                n: n.count(row),
                values: quantiles
                    .iter()
                    .zip(values)
                    .map(|(&quantile, value)| proto::QuantileValue { quantile, value })
                    .collect(),
            });
        }
    }
    Ok(proto::PercentilesResponse {
        rows: rows_out,
        query_id: String::new(),
    })
}
