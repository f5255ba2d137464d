//! MovingAverage: per group, ordered by time, the average of the value over the current row
//! and the N-1 rows before it (`window_rows`), or over the rows whose time is in
//! (t - window, t] (`window`, a RANGE frame over integer microseconds).

use arrow::{array::RecordBatch, datatypes::Schema};

use super::{
    AnalyticPlan, AnalyticsError,
    columns::{Columns, duration_micros, invalid},
    decode::{Rows, timestamp_from_micros},
};
use crate::{
    engine::{EngineQuery, quote_ident},
    proto,
};

#[cfg(test)]
mod tests;

/// Largest `window_rows`.
pub const MAX_WINDOW_ROWS: u32 = 1_000_000;

/// The window frame (typed-encoded integers only).
fn frame(req: &proto::MovingAverageRequest) -> Result<String, AnalyticsError> {
    match (req.window_rows, &req.window) {
        (0, None) => Err(invalid(
            "give window_rows (a row count) or window (a duration)",
        )),
        (0, Some(window)) => {
            let micros = duration_micros("window", window)?;
            // (t - window, t] over integer microseconds is t - window + 1 ..= t.
            Ok(format!(
                "ORDER BY __t RANGE BETWEEN {} PRECEDING AND CURRENT ROW",
                micros - 1
            ))
        }
        (rows, None) if rows > MAX_WINDOW_ROWS => Err(invalid(format!(
            "window_rows must be in 1..={MAX_WINDOW_ROWS}, got {rows}"
        ))),
        // Ties in time are ordered by value, so equal inputs give equal outputs.
        (rows, None) => Ok(format!(
            "ORDER BY __t, __v ROWS BETWEEN {} PRECEDING AND CURRENT ROW",
            rows - 1
        )),
        (_, Some(_)) => Err(invalid("give window_rows or window, not both")),
    }
}

/// Validates `req` and builds the scan and SQL.
pub fn plan(
    req: &proto::MovingAverageRequest,
    schema: &Schema,
) -> Result<AnalyticPlan, AnalyticsError> {
    let frame = frame(req)?;
    let mut columns = Columns::new(schema);
    let groups = columns.groups(&req.group_by)?;
    let time = columns.time("time_column", &req.time_column)?;
    columns.numeric("value_column", &req.value_column)?;
    let value = quote_ident(&req.value_column);
    let sql = format!(
        "SELECT {g_text}__t, __v, avg(__v) OVER ({partition} {frame}) AS __avg \
         FROM (SELECT {g}{time} AS __t, CAST({value} AS DOUBLE) AS __v FROM t) \
         WHERE __t IS NOT NULL{order}",
        g_text = groups.select_text(),
        partition = groups.partition_by(),
        g = groups.list_comma(),
        order = groups.order_by("__t, __v"),
    );
    let query = EngineQuery::new(sql).reading_input_once();
    Ok(AnalyticPlan::grouped(columns, &groups, query))
}

/// Builds the response from the result of [`plan`]'s query. Points are encoded as they are
/// read (see [`proto::PointWriter`]): a response can hold a million of them. One point is
/// reused, its group rebuilt only where the group changes (rows come ordered by group), so
/// no point allocates.
pub fn decode(
    batches: &[RecordBatch],
    req: &proto::MovingAverageRequest,
) -> Result<proto::MovingAverageResponse, AnalyticsError> {
    let mut points =
        proto::PointWriter::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    let mut point = proto::MovingAveragePoint::default();
    for batch in batches {
        let rows = Rows::new(batch, req.group_by.len())?;
        let (time, value, average) = (rows.i64("__t")?, rows.f64("__v")?, rows.f64("__avg")?);
        for row in 0..rows.len() {
            let t = time
                .get(row)
                .ok_or_else(|| AnalyticsError::Internal("NULL time".to_owned()))?;
            let v = value.get(row);
            if !point.group.as_ref().is_some_and(|g| rows.in_group(row, g)) {
                point.group = Some(rows.group(row));
            }
            point.time = Some(timestamp_from_micros(t));
            point.value = v.unwrap_or(f64::NAN);
            point.average = average.or_nan(row);
            point.value_is_null = v.is_none();
            points.push(&point);
        }
    }
    Ok(proto::MovingAverageResponse::from_encoded(
        points,
        String::new(),
    ))
}
