//! Sql: one read-only SELECT (or WITH … SELECT) over the input `t`, streamed.
//!
//! The query is checked by the service's one SQL guard before it gets here
//! ([`crate::sql::Statement::over_view`]: DuckDB's parser, one query reading only `t` and its
//! own CTEs, no table functions or file access) and arrives as DuckDB prints it. The row limit
//! is not pasted into the SQL: the engine stops reading after `max_rows` rows
//! ([`EngineQuery::max_rows`]), which holds for any query shape. The sandbox (no external
//! access, locked configuration) is the second line of defense.
//!
//! `t` is the engine's input CTE (`engine/arrow_stream.rs`), joined to the query's own WITH
//! list. A query that defines its own CTE `t` gets DuckDB's "Duplicate CTE name" error.

use arrow::datatypes::Schema;

use super::{AnalyticPlan, AnalyticsError, columns::Columns};
use crate::{
    engine::{EngineQuery, InputReads},
    proto,
};

#[cfg(test)]
mod tests;

/// Builds the scan and the query for `req`, whose SQL the guard checked and printed as
/// `checked_sql`; the result streams as-is. `reads_once`: the guard found that the query
/// surely reads `t` once, so the input streams into it instead of being collected first.
///
/// `max_result_rows` is the server's limit (`engine.max_result_rows`); `req.limit` may only
/// lower it.
pub fn plan(
    req: &proto::SqlRequest,
    checked_sql: String,
    reads_once: bool,
    schema: &Schema,
    max_result_rows: u64,
) -> Result<AnalyticPlan, AnalyticsError> {
    let sql = checked_sql;
    let mut columns = Columns::new(schema);
    if req.columns.is_empty() {
        for field in schema.fields() {
            columns.field("columns", field.name())?;
        }
    } else {
        for name in &req.columns {
            columns.field("columns", name)?;
        }
    }
    let limit = match req.limit {
        0 => max_result_rows,
        limit => limit.min(max_result_rows),
    };
    Ok(AnalyticPlan {
        narrowable_groups: Vec::new(),
        columns: columns.into_names(),
        query: EngineQuery {
            sql,
            params: Vec::new(),
            max_rows: Some(limit),
            input_reads: if reads_once {
                InputReads::Once
            } else {
                InputReads::Any
            },
        },
        codable_groups: Vec::new(),
        coded_sql: None,
        eight_bit_groups: false,
    })
}
