//! TopN: aggregate a value per group (count sum avg min max), keep the top N groups by it
//! (or the bottom N); ties are broken by the group values, ascending, so the order is
//! deterministic.

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

/// Largest N.
pub const MAX_N: u32 = 10_000;

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
    Ok(AnalyticPlan {
        narrowable_groups: columns.group_only(),
        columns: columns.into_names(),
        query: EngineQuery::new(sql).reading_input_once(),
        // Ties are broken by the group values inside the query: they must be the strings.
        codable_groups: Vec::new(),
    })
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
    let mut out = Vec::new();
    for batch in batches {
        let rows = Rows::new(batch, req.group_by.len())?;
        let value = rows.f64("__v")?;
        for row in 0..rows.len() {
            let rank = u32::try_from(out.len() + 1).unwrap_or(u32::MAX);
            out.push(proto::TopNRow {
                group: Some(rows.group(row)),
                value: value.or_nan(row),
                rank,
            });
        }
    }
    Ok(proto::TopNResponse {
        rows: out,
        query_id: String::new(),
    })
}
