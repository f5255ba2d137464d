//! The one SQL guard of the service (Flight SQL and the `Sql` RPC): one statement, only query
//! nodes, only plain table references in FROM, no function that reads files, the network,
//! settings or the catalog, no engine-internal names. The engine's sandbox (no external
//! access, locked configuration) stays the last line behind it.

use serde_json::Value;

use super::{SqlError, ast};
use crate::engine::INTERNAL_PREFIX;

/// Query nodes a read-only query is made of (`DELETE … RETURNING` in a CTE is not one).
const QUERY_NODES: [&str; 4] = [
    "SELECT_NODE",
    "SET_OPERATION_NODE",
    "RECURSIVE_CTE_NODE",
    "CTE_NODE",
];

/// Table references allowed in FROM: named tables, joins, subqueries, VALUES, none.
const TABLE_REFS: [&str; 5] = ["BASE_TABLE", "JOIN", "SUBQUERY", "EXPRESSION_LIST", "EMPTY"];

/// Functions that read the environment, files or internal state.
const FORBIDDEN_FUNCTIONS: [&str; 8] = [
    "getenv",
    "query",
    "query_table",
    "sniff_csv",
    "checkpoint",
    "force_checkpoint",
    "which_secret",
    "glob",
];

/// Name prefixes refused for the same reason (`read_parquet`, `pragma_table_info`, ...).
const FORBIDDEN_PREFIXES: [&str; 7] = [
    "read_",
    "parquet_",
    "pragma_",
    "duckdb_",
    "sqlite_",
    "postgres_",
    "mysql_",
];

fn is_forbidden_function(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    FORBIDDEN_FUNCTIONS.contains(&name.as_str())
        || FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p))
        || name.ends_with("_scan")
}

fn refused(message: impl Into<String>) -> SqlError {
    SqlError::Refused(message.into())
}

fn is_internal(name: &str) -> bool {
    name.to_ascii_lowercase().starts_with(INTERNAL_PREFIX)
}

/// The one statement of `tree` (as `SqlParser::parse` returns it), checked.
pub(super) fn check(tree: &Value) -> Result<&Value, SqlError> {
    let statements = tree
        .get("statements")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let statement = match statements {
        [] => return Err(refused("the SQL is empty: give one SELECT")),
        [one] => one,
        _ => {
            return Err(refused(
                "one statement at a time: remove the `;` between statements",
            ));
        }
    };
    let mut problem = None;
    ast::visit(statement, &mut |node| {
        if problem.is_none() {
            problem = check_node(node).err();
        }
    });
    match problem {
        Some(err) => Err(err),
        None => Ok(statement),
    }
}

fn check_node(node: &Value) -> Result<(), SqlError> {
    let kind = ast::kind(node);
    if ast::is_query_node(node) {
        if !QUERY_NODES.contains(&kind) {
            let what = kind.trim_end_matches("_NODE").trim_end_matches("_QUERY");
            return Err(refused(format!(
                "only queries are allowed; a {what} statement is refused"
            )));
        }
        for (name, _) in ast::ctes(node) {
            if is_internal(name) {
                return Err(reserved(name));
            }
        }
    } else if ast::is_table_ref(node) {
        if !TABLE_REFS.contains(&kind) {
            return Err(match kind {
                "TABLE_FUNCTION" => {
                    let name = node
                        .get("function")
                        .map(|f| ast::text(f, "function_name"))
                        .unwrap_or("");
                    refused(format!(
                        "table functions are not allowed (`{name}(…)` in FROM): read the \
                         service's tables by name"
                    ))
                }
                "SHOW_REF" => refused(
                    "DESCRIBE, SHOW and SUMMARIZE are not allowed: list tables and columns \
                     with Flight SQL's GetTables",
                ),
                other => refused(format!("`{other}` is not allowed in FROM")),
            });
        }
        if kind == "BASE_TABLE" {
            let name = ast::text(node, "table_name");
            if is_internal(name) || is_internal(ast::text(node, "schema_name")) {
                return Err(reserved(name));
            }
        }
    } else if ast::class(node) == "FUNCTION" {
        let name = ast::text(node, "function_name");
        if is_forbidden_function(name) {
            return Err(refused(format!("the function `{name}` is not allowed")));
        }
    }
    Ok(())
}

fn reserved(name: &str) -> SqlError {
    refused(format!(
        "`{name}`: names starting with `{INTERNAL_PREFIX}` are reserved for the engine"
    ))
}
