//! DetectAnomalies: z = (x − mean) / stddev_samp against the whole group, or against a
//! trailing window of N rows (the current row and the N-1 before it, by time); rows with
//! |z| ≥ threshold. Groups (or windows) with stddev 0 or fewer than 2 rows have none.

use arrow::{array::RecordBatch, datatypes::Schema};

use super::{
    AnalyticPlan, AnalyticsError,
    columns::{Columns, invalid},
    decode::{Rows, timestamp_from_micros},
};
use crate::{
    engine::{EngineQuery, InputReads, quote_ident},
    proto,
};

#[cfg(test)]
mod tests;

/// Threshold used when the request's is 0.
pub const DEFAULT_THRESHOLD: f64 = 3.0;

/// Largest `window_rows`.
pub const MAX_WINDOW_ROWS: u32 = 1_000_000;

fn threshold(req: &proto::DetectAnomaliesRequest) -> Result<f64, AnalyticsError> {
    let t = req.threshold;
    if t == 0.0 {
        Ok(DEFAULT_THRESHOLD)
    } else if t.is_finite() && t > 0.0 {
        Ok(t)
    } else {
        Err(invalid(format!(
            "threshold must be a positive number, got {t}"
        )))
    }
}

/// Validates `req` and builds the scan and SQL.
///
/// The result has one summary row (`__kind` 1) carrying `rows_examined`, then the anomalies
/// (`__kind` 0) ordered by group and time.
pub fn plan(
    req: &proto::DetectAnomaliesRequest,
    schema: &Schema,
) -> Result<AnalyticPlan, AnalyticsError> {
    let threshold = threshold(req)?;
    if req.window_rows > MAX_WINDOW_ROWS {
        return Err(invalid(format!(
            "window_rows must be at most {MAX_WINDOW_ROWS}, got {}",
            req.window_rows
        )));
    }
    let mut columns = Columns::new(schema);
    let groups = columns.groups(&req.group_by)?;
    let time = columns.time("time_column", &req.time_column)?;
    columns.numeric("value_column", &req.value_column)?;
    let value = quote_ident(&req.value_column);
    // `__z`: every row of `__s` with the mean and sample stddev it is scored against.
    let scored = if req.window_rows > 0 {
        format!(
            "SELECT *, avg(__v) OVER __w AS __mean, stddev_samp(__v) OVER __w AS __sd FROM __s \
             WINDOW __w AS ({} ORDER BY __t, __v ROWS BETWEEN {} PRECEDING AND CURRENT ROW)",
            groups.partition_by(),
            req.window_rows - 1
        )
    } else {
        // Against the whole group: one aggregate per group joined back to its rows, cheaper
        // than the same aggregates as a window partitioned by the group (no partitioning or
        // sorting of the rows). `HAVING count(*) >= 0` keeps every group but
        // makes DuckDB build the join's hash table on the groups (see histogram.rs).
        format!(
            "SELECT __s.*, __k.__mean, __k.__sd FROM __s JOIN (\
               SELECT {g}avg(__v) AS __mean, stddev_samp(__v) AS __sd FROM __s{group_by} HAVING count(*) >= 0\
             ) AS __k ON {same_group}",
            g = groups.list_comma(),
            group_by = groups.group_by(),
            same_group = groups.same_group("__s", "__k"),
        )
    };
    let group_rank = if groups.is_empty() {
        "0".to_owned()
    } else {
        format!(
            "dense_rank() OVER (ORDER BY {})",
            groups.order_terms().join(", ")
        )
    };
    let null_groups: String = (0..groups.len())
        .map(|i| format!("NULL AS __g{i}, "))
        .collect();
    let sql = format!(
        "WITH __s AS MATERIALIZED (\
           SELECT {g}{time} AS __t, CAST({value} AS DOUBLE) AS __v FROM t \
           WHERE {value} IS NOT NULL AND {time} IS NOT NULL\
         ), __z AS ({scored}) \
         SELECT 0 AS __kind, {group_rank} AS __rank, {g_text}__t, __v, (__v - __mean) / __sd AS __z, NULL::BIGINT AS __n \
         FROM __z WHERE __sd > 0 AND abs(__v - __mean) / __sd >= ? \
         UNION ALL \
         SELECT 1, 0, {null_groups}NULL, NULL, NULL, (SELECT count(*) FROM __s) \
         ORDER BY __kind DESC, __rank, __t, __v",
        g = groups.list_comma(),
        g_text = groups.select_text(),
    );
    let query = EngineQuery {
        sql,
        params: vec![duckdb::types::Value::Double(threshold)],
        max_rows: None,
        input_reads: InputReads::Once,
    };
    // Over codes, the rank keeps each group's rows together in code order, and the count row
    // (NULL groups, first) joins the NULL group's block if there is one; `GroupCodes::decode`
    // puts the blocks in string order.
    Ok(AnalyticPlan::grouped(columns, &groups, query))
}

/// Builds the response from the result of [`plan`]'s query.
pub fn decode(
    batches: &[RecordBatch],
    req: &proto::DetectAnomaliesRequest,
) -> Result<proto::DetectAnomaliesResponse, AnalyticsError> {
    let mut response = proto::DetectAnomaliesResponse::default();
    for batch in batches {
        let rows = Rows::new(batch, req.group_by.len())?;
        let (kind, time, value, z, n) = (
            rows.i64("__kind")?,
            rows.i64("__t")?,
            rows.f64("__v")?,
            rows.f64("__z")?,
            rows.i64("__n")?,
        );
        for row in 0..rows.len() {
            if kind.get(row) == Some(1) {
                response.rows_examined = n.count(row);
                continue;
            }
            let t = time
                .get(row)
                .ok_or_else(|| AnalyticsError::Internal("NULL anomaly time".to_owned()))?;
            response.anomalies.push(proto::Anomaly {
                group: Some(rows.group(row)),
                time: Some(timestamp_from_micros(t)),
                value: value.or_nan(row),
                z_score: z.or_nan(row),
            });
        }
    }
    Ok(response)
}
