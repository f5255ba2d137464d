//! Accessors over DuckDB's JSON form of a parsed statement (`json_serialize_sql`). Expressions
//! carry a `class` (`COLUMN_REF`, `CONSTANT`, `FUNCTION`, ...); query nodes (`SELECT_NODE`,
//! `SET_OPERATION_NODE`, ...) carry `modifiers` and `cte_map`; table references carry `sample`
//! and no `class`.

use serde_json::Value;

/// The `type` of a node, or "".
pub(super) fn kind(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or("")
}

/// The `class` of an expression, or "".
pub(super) fn class(node: &Value) -> &str {
    node.get("class").and_then(Value::as_str).unwrap_or("")
}

/// A string field, or "".
pub(super) fn text<'a>(node: &'a Value, key: &str) -> &'a str {
    node.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Whether `node` is a query node (has `modifiers` and `cte_map`).
pub(super) fn is_query_node(node: &Value) -> bool {
    node.get("modifiers").is_some() && node.get("cte_map").is_some()
}

/// Whether `node` is a table reference.
pub(super) fn is_table_ref(node: &Value) -> bool {
    node.get("sample").is_some() && node.get("class").is_none() && !is_query_node(node)
}

/// The names of a `COLUMN_REF` (`["t", "x"]` for `t.x`).
pub(super) fn column_names(node: &Value) -> Vec<&str> {
    node.get("column_names")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The CTE names defined by a query node's `cte_map`, with their queries.
pub(super) fn ctes(node: &Value) -> Vec<(&str, &Value)> {
    node.get("cte_map")
        .and_then(|m| m.get("map"))
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| {
                    let name = e.get("key")?.as_str()?;
                    let query = e.get("value")?.get("query_node")?;
                    Some((name, query))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Calls `f` on every object in `value`, parents first.
pub(super) fn visit<'a>(value: &'a Value, f: &mut impl FnMut(&'a Value)) {
    match value {
        Value::Object(map) => {
            f(value);
            for child in map.values() {
                visit(child, f);
            }
        }
        Value::Array(items) => {
            for item in items {
                visit(item, f);
            }
        }
        _ => {}
    }
}

/// The conjuncts of a WHERE clause (the children of nested ANDs).
pub(super) fn conjuncts(expr: &Value) -> Vec<&Value> {
    if kind(expr) == "CONJUNCTION_AND" {
        expr.get("children")
            .and_then(Value::as_array)
            .map(|children| children.iter().flat_map(conjuncts).collect())
            .unwrap_or_default()
    } else if expr.is_null() {
        Vec::new()
    } else {
        vec![expr]
    }
}
