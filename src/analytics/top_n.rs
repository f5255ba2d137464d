//! TopN: aggregate a value per group (count sum avg min max), keep the top N groups by it
//! (or the bottom N); ties are broken by the group values, ascending, so the order is
//! deterministic.
//!
//! String groups are coded ([`group_codes`](super::group_codes)): DuckDB hashing the strings
//! of an Arrow stream would be most of the work. Codes do not sort like their strings, so the
//! coded query keeps every group tied with the N-th (`rank() <= N`) and [`decode`] breaks the
//! ties by the decoded strings. A result with more than [`TIED_ROWS`] extra rows is cut short
//! and the request runs again over the strings.

use std::cmp::Ordering;

use arrow::{array::RecordBatch, datatypes::Schema};

use super::{
    AnalyticPlan, AnalyticsError, CodedSql,
    columns::{Columns, invalid},
    decode::Rows,
};
use crate::{
    engine::{EngineQuery, quote_ident},
    proto,
};

#[cfg(test)]
mod tests;

/// Largest N.
pub const MAX_N: u32 = 10_000;

/// Groups tied with the N-th that a coded result may add to its N rows.
pub const TIED_ROWS: usize = 10_000;

/// Validates `req` and builds the scan and SQL.
pub fn plan(req: &proto::TopNRequest, schema: &Schema) -> Result<AnalyticPlan, AnalyticsError> {
    if req.n == 0 || req.n > MAX_N {
        return Err(invalid(format!("n must be in 1..={MAX_N}, got {}", req.n)));
    }
    let mut columns = Columns::new(schema);
    let groups = columns.groups(&req.group_by)?;
    let function = req.function.to_ascii_lowercase();
    let aggregate = if function == "count" && req.value_column.is_empty() {
        "count(*)".to_owned()
    } else {
        columns.numeric("value_column", &req.value_column)?;
        let value = quote_ident(&req.value_column);
        match function.as_str() {
            "count" => format!("count({value})"),
            "sum" | "avg" | "min" | "max" => format!("{function}({value})"),
            other => {
                return Err(invalid(format!(
                    "function `{other}` is not one of count, sum, avg, min, max"
                )));
            }
        }
    };
    let direction = if req.ascending { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {g_text}CAST({aggregate} AS DOUBLE) AS __v FROM t{group_by}{order} LIMIT {n}",
        g_text = groups.select_text(),
        group_by = groups.group_by(),
        // NULL aggregates (a group whose values are all NULL) rank last either way.
        order = order(&groups, direction),
        n = req.n,
    );
    let coded_sql = (!groups.codable().is_empty()).then(|| {
        let max_rows = req.n as usize + TIED_ROWS;
        CodedSql {
            sql: format!(
                "SELECT {g_text}__v FROM (\
                   SELECT {g}CAST({aggregate} AS DOUBLE) AS __v FROM t{group_by}\
                 ) QUALIFY rank() OVER (ORDER BY __v {direction} NULLS LAST) <= {n} \
                 ORDER BY __v {direction} NULLS LAST LIMIT {limit}",
                g_text = groups.select_text(),
                g = groups.list_comma(),
                group_by = groups.group_by(),
                n = req.n,
                limit = max_rows + 1,
            ),
            max_rows,
        }
    });
    let query = EngineQuery::new(sql).reading_input_once();
    Ok(AnalyticPlan::grouped(columns, &groups, query).with_coded_sql(coded_sql))
}

fn order(groups: &super::columns::Groups, direction: &str) -> String {
    let mut terms = vec![format!("__v {direction} NULLS LAST")];
    terms.extend(groups.order_terms());
    format!(" ORDER BY {}", terms.join(", "))
}

/// Builds the response from the result of [`plan`]'s query.
pub fn decode(
    batches: &[RecordBatch],
    req: &proto::TopNRequest,
) -> Result<proto::TopNResponse, AnalyticsError> {
    let mut ranked: Vec<(Option<f64>, proto::Group)> = Vec::new();
    for batch in batches {
        let rows = Rows::new(batch, req.group_by.len())?;
        let value = rows.f64("__v")?;
        for row in 0..rows.len() {
            ranked.push((value.get(row), rows.group(row)));
        }
    }
    // By value as the query orders: stable, so ties keep the order the rows came in, which
    // is the group values' (the query's own ORDER BY, or `GroupCodes::decode` putting a coded
    // result in string order, when the coded query left the ties at the N-th unbroken).
    ranked.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(a), Some(b)) if req.ascending => sql_order(*a, *b),
        (Some(a), Some(b)) => sql_order(*b, *a),
        // NULL aggregates last either way.
        (a, b) => a.is_none().cmp(&b.is_none()),
    });
    ranked.truncate(req.n as usize);
    let rows = ranked
        .into_iter()
        .zip(1..)
        .map(|((value, group), rank)| proto::TopNRow {
            group: Some(group),
            value: value.unwrap_or(f64::NAN),
            rank,
        })
        .collect();
    Ok(proto::TopNResponse {
        rows,
        query_id: String::new(),
    })
}

/// Doubles as DuckDB sorts them: NaN above every number, -0.0 equal to 0.0.
fn sql_order(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        (a_nan, b_nan) => a_nan.cmp(&b_nan),
    }
}
