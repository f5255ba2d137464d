//! Sql: one read-only SELECT (or WITH … SELECT) over the input `t`, streamed.
//!
//! Why a lexical check and not a wrapper: `SELECT * FROM (<user sql>) LIMIT n` does not make a
//! second statement impossible (`1); DROP …; SELECT (1` closes the parenthesis), and
//! duckdb-rs's `prepare` runs every statement but the last. So the text is tokenized by a port
//! of DuckDB's own tokenizer ([`lexer`]: `--` and nested `/* */` comments, `'…'`/`E'…'`
//! strings, `$tag$…$tag$` strings, `"…"` and `` `…` `` identifiers) and refused unless it is
//! exactly one statement that starts with SELECT or WITH and names no statement keyword or
//! file/network/catalog table function outside strings and quoted identifiers. The row limit
//! is not pasted into the SQL either: the engine stops reading after `max_rows` rows
//! ([`EngineQuery::max_rows`]), which holds for any query shape. The sandbox (no external
//! access, locked configuration) is the second line of defense.
//!
//! `t` is the engine's input CTE (`engine/arrow_stream.rs`), joined to the query's own WITH
//! list; [`validate`] spells the start of the query canonically for that. A query that
//! defines its own CTE `t` gets DuckDB's "Duplicate CTE name" error.

use arrow::datatypes::Schema;

use super::{
    AnalyticPlan, AnalyticsError,
    columns::{Columns, invalid},
};
use crate::{
    engine::{EngineQuery, INTERNAL_PREFIX, InputReads},
    proto,
};

mod lexer;
#[cfg(test)]
mod tests;

use lexer::{Token, tokenize};

/// Longest accepted SQL text, in bytes.
pub const MAX_SQL_BYTES: usize = 1 << 20;

/// Words that start or belong to statements other than a read-only query.
const FORBIDDEN_WORDS: [&str; 19] = [
    "copy", "attach", "detach", "install", "load", "pragma", "set", "reset", "call", "export",
    "import", "create", "insert", "update", "delete", "drop", "alter", "truncate", "vacuum",
];

/// Table functions that read files, the network or internal state.
const FORBIDDEN_FUNCTIONS: [&str; 14] = [
    "glob",
    "query",
    "query_table",
    "arrow",
    "sniff_csv",
    "getenv",
    "iceberg_scan",
    "iceberg_metadata",
    "iceberg_snapshots",
    "delta_scan",
    "st_read",
    "checkpoint",
    "force_checkpoint",
    "which_secret",
];

/// Function name prefixes/suffixes refused for the same reason (`read_parquet`,
/// `parquet_metadata`, `pragma_table_info`, `postgres_scan`, `duckdb_settings`, ...).
const FORBIDDEN_PREFIXES: [&str; 8] = [
    "read_",
    "parquet_",
    "pragma_",
    "duckdb_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "json_",
];

fn is_forbidden_function(name: &str) -> bool {
    FORBIDDEN_FUNCTIONS.contains(&name)
        || FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p))
        || name.ends_with("_scan")
}

/// Checks that `sql` is one read-only query and returns it without trailing `;`.
pub fn validate(sql: &str) -> Result<String, AnalyticsError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(invalid(format!("sql is longer than {MAX_SQL_BYTES} bytes")));
    }
    let tokens = tokenize(sql).map_err(invalid)?;
    // Trailing semicolons (and comments after them) are fine; any other one is not.
    let mut end = tokens.len();
    while end > 0 && matches!(tokens[end - 1].1, Token::Semicolon) {
        end -= 1;
    }
    let tokens = &tokens[..end];
    let Some((_, first)) = tokens.first() else {
        return Err(invalid("sql is empty: give one SELECT over the view t"));
    };
    if tokens.iter().any(|(_, t)| matches!(t, Token::Semicolon)) {
        return Err(invalid(
            "sql must be a single statement: remove the `;` between statements",
        ));
    }
    if !matches!(first, Token::Word(w) if w == "select" || w == "with") {
        return Err(invalid(
            "sql must be a read-only query starting with SELECT or WITH",
        ));
    }
    for (i, (_, token)) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1).map(|(_, t)| t);
        let (name, quoted) = match token {
            Token::Word(word) => (word.as_str(), false),
            Token::QuotedIdent(name) => (name.as_str(), true),
            _ => continue,
        };
        if name.to_ascii_lowercase().starts_with(INTERNAL_PREFIX) {
            return Err(invalid(format!(
                "sql may only read the view t; names starting with `{INTERNAL_PREFIX}` are reserved for the engine"
            )));
        }
        if !quoted && FORBIDDEN_WORDS.contains(&name) {
            return Err(invalid(format!(
                "sql must be a read-only query; `{name}` is not allowed (quote it as \"{name}\" if it is a column)"
            )));
        }
        if matches!(next, Some(Token::OpenParen)) && is_forbidden_function(name) {
            return Err(invalid(format!(
                "sql may only read the view t; the function `{name}` is not allowed"
            )));
        }
        if !quoted && (name == "from" || name == "join") {
            let names_a_file = match next {
                Some(Token::String) => true,
                Some(Token::QuotedIdent(table)) => table.contains(['/', '.', '\\', ':']),
                _ => false,
            };
            if names_a_file {
                return Err(invalid("sql may only read the view t, not files"));
            }
        }
    }
    let (last_end, _) = tokens[tokens.len() - 1];
    // Keep everything up to the end of the last token (drops trailing `;` and comments), and
    // spell the start as `SELECT`, `WITH ` or `WITH RECURSIVE `, without comments in between:
    // the engine joins its input CTE `t` to a leading WITH list.
    let recursive = matches!(tokens.get(1), Some((_, Token::Word(w))) if w == "recursive");
    Ok(match first {
        Token::Word(w) if w == "with" && recursive => {
            format!("WITH RECURSIVE {}", &sql[tokens[1].0..last_end])
        }
        Token::Word(w) if w == "with" => format!("WITH {}", &sql[tokens[0].0..last_end]),
        _ => format!("SELECT{}", &sql[tokens[0].0..last_end]),
    })
}

/// Validates `req` and builds the scan and the query; the result streams as-is.
///
/// `max_result_rows` is the server's limit (`engine.max_result_rows`); `req.limit` may only
/// lower it.
pub fn plan(
    req: &proto::SqlRequest,
    schema: &Schema,
    max_result_rows: u64,
) -> Result<AnalyticPlan, AnalyticsError> {
    let sql = validate(&req.sql)?;
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
            input_reads: InputReads::Any,
        },
        codable_groups: Vec::new(),
        coded_sql: None,
        eight_bit_groups: false,
    })
}
