//! WindowAggregate: epoch-aligned time buckets of a fixed interval; count sum avg min max
//! stddev p50 p95 p99 over one or more value columns; per group.
//!
//! Bucket start = floor(time / interval) × interval in integer microseconds since the Unix
//! epoch (floored division, so times before 1970 fall into the right bucket too).

use std::collections::BTreeMap;

use arrow::{array::RecordBatch, datatypes::Schema};

use super::{
    AnalyticPlan, AnalyticsError,
    columns::{Columns, duration_micros, invalid},
    decode::{Rows, timestamp_from_micros},
};
use crate::{
    engine::{EngineQuery, InputReads, quote_ident},
    proto,
};

#[cfg(test)]
mod tests;

/// The functions a request may ask for.
pub const FUNCTIONS: [&str; 9] = [
    "count", "sum", "avg", "min", "max", "stddev", "p50", "p95", "p99",
];

fn aggregate(function: &str, column: &str) -> Option<String> {
    let q = quote_ident(column);
    Some(match function {
        "count" => format!("count({q})"),
        "sum" | "avg" | "min" | "max" => format!("{function}({q})"),
        "stddev" => format!("stddev_samp({q})"),
        "p50" => format!("quantile_cont({q}, 0.5)"),
        "p95" => format!("quantile_cont({q}, 0.95)"),
        "p99" => format!("quantile_cont({q}, 0.99)"),
        _ => return None,
    })
}

/// `(function, column)` pairs of the request, validated and without duplicates.
pub(crate) fn outputs(
    req: &proto::WindowAggregateRequest,
) -> Result<Vec<(String, String)>, AnalyticsError> {
    if req.value_columns.is_empty() {
        return Err(invalid(
            "value_columns must name at least one numeric column",
        ));
    }
    if req.functions.is_empty() {
        return Err(invalid(format!(
            "functions must name at least one of {}",
            FUNCTIONS.join(" ")
        )));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for column in &req.value_columns {
        for function in &req.functions {
            let function = function.to_ascii_lowercase();
            if !FUNCTIONS.contains(&function.as_str()) {
                return Err(invalid(format!(
                    "function `{function}` is not one of {}",
                    FUNCTIONS.join(" ")
                )));
            }
            let pair = (function, column.clone());
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    Ok(out)
}

/// The request's interval in microseconds.
pub(crate) fn interval_micros(req: &proto::WindowAggregateRequest) -> Result<i64, AnalyticsError> {
    let interval = req
        .interval
        .as_ref()
        .ok_or_else(|| invalid("interval is required (e.g. 60s)"))?;
    duration_micros("interval", interval)
}

/// `CAST(… AS DOUBLE) AS __a{k}`: the aggregate of each output, in order.
pub(crate) fn aggregates(outputs: &[(String, String)]) -> Result<Vec<String>, AnalyticsError> {
    outputs
        .iter()
        .enumerate()
        .map(|(k, (function, column))| {
            aggregate(function, column)
                .map(|a| format!("CAST({a} AS DOUBLE) AS __a{k}"))
                .ok_or_else(|| invalid(format!("function `{function}` is unknown")))
        })
        .collect()
}

/// `, "v", "w"`: each value column once, and not again if it is also a group column.
pub(crate) fn value_list(req: &proto::WindowAggregateRequest) -> String {
    let mut values = String::new();
    for (i, column) in req.value_columns.iter().enumerate() {
        if !req.value_columns[..i].contains(column) && !req.group_by.contains(column) {
            values.push_str(&format!(", {}", quote_ident(column)));
        }
    }
    values
}

/// Validates `req` and builds the scan and SQL.
pub fn plan(
    req: &proto::WindowAggregateRequest,
    schema: &Schema,
) -> Result<AnalyticPlan, AnalyticsError> {
    let interval = interval_micros(req)?;
    let outputs = outputs(req)?;
    let mut columns = Columns::new(schema);
    let groups = columns.groups(&req.group_by)?;
    let time = columns.time("time_column", &req.time_column)?;
    for column in &req.value_columns {
        columns.numeric("value_columns", column)?;
    }
    let aggregates = aggregates(&outputs)?;
    let values = value_list(req);
    // Rows are grouped by bucket number, floor(µs / interval); `//` truncates toward zero, so
    // times before 1970 are moved down by interval - 1 first. The bucket's start (number ×
    // interval) is computed per result row only, not per input row.
    let sql = format!(
        "SELECT {g_text}__k * ? AS __b, {aggregates} FROM (\
           SELECT {g}(__tu - CASE WHEN __tu < 0 THEN ? - 1 ELSE 0 END) // ? AS __k{values} \
           FROM (SELECT *, {time} AS __tu FROM t) WHERE __tu IS NOT NULL\
         ) GROUP BY {g}__k{order}",
        g_text = groups.select_text(),
        aggregates = aggregates.join(", "),
        g = groups.list_comma(),
        order = groups.order_by("__k"),
    );
    let interval = duckdb::types::Value::BigInt(interval);
    let query = EngineQuery {
        sql,
        params: vec![interval.clone(), interval.clone(), interval],
        max_rows: None,
        input_reads: InputReads::Once,
    };
    Ok(AnalyticPlan::grouped(columns, &groups, query))
}

/// Builds the response from the result of [`plan`]'s query.
pub fn decode(
    batches: &[RecordBatch],
    req: &proto::WindowAggregateRequest,
) -> Result<proto::WindowAggregateResponse, AnalyticsError> {
    let outputs = outputs(req)?;
    let keys: Vec<String> = outputs.iter().map(|(f, c)| format!("{f}_{c}")).collect();
    let mut buckets = Vec::new();
    for batch in batches {
        let rows = Rows::new(batch, req.group_by.len())?;
        let start = rows.i64("__b")?;
        let columns = (0..keys.len())
            .map(|k| rows.f64(&format!("__a{k}")))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..rows.len() {
            let start = start
                .get(row)
                .ok_or_else(|| AnalyticsError::Internal("NULL bucket start".to_owned()))?;
            let values: BTreeMap<String, f64> = keys
                .iter()
                .zip(&columns)
                .filter_map(|(key, column)| Some((key.clone(), column.get(row)?)))
                .collect();
            buckets.push(proto::WindowBucket {
                group: Some(rows.group(row)),
                start: Some(timestamp_from_micros(start)),
                values,
            });
        }
    }
    Ok(proto::WindowAggregateResponse {
        buckets,
        query_id: String::new(),
    })
}
