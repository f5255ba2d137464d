//! The tables a statement reads: every `BASE_TABLE` of the tree, with the columns the
//! statement may touch of it and the WHERE conjuncts that hold for the rows it contributes.
//!
//! A conjunct holds for a table's rows when the table is the whole FROM of the SELECT whose
//! WHERE it is, or a leaf of a FROM made of inner and cross joins only (then only conjuncts
//! whose columns name the table by its alias count). Under an outer join, the WHERE is left
//! alone. Columns are over-approximated: every name any column reference uses, or all
//! columns where a `*`, `COLUMNS(…)`, a positional reference or the table as a whole is
//! selected.

use std::collections::BTreeSet;

use serde_json::Value;

use super::ast;

/// One `BASE_TABLE` of the tree.
#[derive(Debug, Clone)]
pub(super) struct BaseTable {
    /// JSON pointer of the node within the statement.
    pub(super) pointer: String,
    pub(super) catalog: String,
    pub(super) schema: String,
    pub(super) table: String,
    /// The name the query uses for it: its alias, else its table name.
    pub(super) alias: String,
    /// WHERE conjuncts that hold for its rows.
    pub(super) conjuncts: Vec<Value>,
    /// Whether those conjuncts must qualify their columns with [`alias`](Self::alias).
    pub(super) qualified_only: bool,
    /// Whether FROM renames its columns (`AS x(a, b)`).
    pub(super) renamed: bool,
    /// Whether it is read as stored: no renamed columns, sample or `AT` version.
    pub(super) as_stored: bool,
}

/// What column references the statement makes.
#[derive(Debug, Default, Clone)]
pub(super) struct ColumnRefs {
    /// Every table needs all its columns.
    pub(super) all: bool,
    /// Aliases of tables that need all their columns (`t.*`, or `t` as a value).
    pub(super) all_of: BTreeSet<String>,
    /// Every name part of every column reference, lowercased.
    pub(super) names: BTreeSet<String>,
}

/// The base tables of `statement`, in tree order.
pub(super) fn base_tables(statement: &Value) -> Vec<BaseTable> {
    let mut tables = Vec::new();
    let mut path = String::new();
    collect(statement, &mut path, &mut tables);
    let mut scoped = Vec::new();
    ast::visit(statement, &mut |node| {
        if ast::kind(node) == "SELECT_NODE" {
            scoped.push(node);
        }
    });
    for select in scoped {
        let Some(from) = select.get("from_table") else {
            continue;
        };
        let conjuncts: Vec<Value> = select
            .get("where_clause")
            .map(|w| ast::conjuncts(w).into_iter().cloned().collect())
            .unwrap_or_default();
        if conjuncts.is_empty() {
            continue;
        }
        let mut leaves = Vec::new();
        let inner_only = join_leaves(from, &mut leaves);
        let qualified_only = ast::kind(from) != "BASE_TABLE";
        if !inner_only {
            continue;
        }
        for leaf in leaves {
            // Columns renamed in FROM (`AS x(a, b)`) or a sample: WHERE's names or rows are not
            // the table's own; nothing is pushed.
            if renames_or_samples(leaf) {
                continue;
            }
            // Pointer equality: the leaf is the very node collected above.
            if let Some(table) = tables.iter_mut().find(|t| std::ptr::eq(t.node, leaf)) {
                table.conjuncts.clone_from(&conjuncts);
                table.qualified_only = qualified_only;
            }
        }
    }
    tables.into_iter().map(|t| t.table).collect()
}

/// Whether a table reference renames its columns (`AS x(a, b)`), samples its rows or reads
/// another version (`AT (…)`).
pub(super) fn renames_or_samples(table: &Value) -> bool {
    let set = |key: &str| {
        table
            .get(key)
            .is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
    };
    set("column_name_alias") || set("sample") || set("at_clause")
}

/// A base table with the node it was read from, while the tree is walked.
struct Found<'a> {
    node: &'a Value,
    table: BaseTable,
}

impl std::ops::Deref for Found<'_> {
    type Target = BaseTable;
    fn deref(&self) -> &BaseTable {
        &self.table
    }
}

impl std::ops::DerefMut for Found<'_> {
    fn deref_mut(&mut self) -> &mut BaseTable {
        &mut self.table
    }
}

fn collect<'a>(value: &'a Value, path: &mut String, out: &mut Vec<Found<'a>>) {
    match value {
        Value::Object(map) => {
            if ast::is_table_ref(value) && ast::kind(value) == "BASE_TABLE" {
                let table = ast::text(value, "table_name").to_owned();
                let alias = match ast::text(value, "alias") {
                    "" => table.clone(),
                    alias => alias.to_owned(),
                };
                out.push(Found {
                    node: value,
                    table: BaseTable {
                        pointer: path.clone(),
                        catalog: ast::text(value, "catalog_name").to_owned(),
                        schema: ast::text(value, "schema_name").to_owned(),
                        table,
                        alias,
                        conjuncts: Vec::new(),
                        qualified_only: false,
                        renamed: value
                            .get("column_name_alias")
                            .and_then(Value::as_array)
                            .is_some_and(|a| !a.is_empty()),
                        as_stored: !renames_or_samples(value),
                    },
                });
            }
            for (key, child) in map {
                let len = path.len();
                path.push('/');
                path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                collect(child, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                collect(item, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Pushes the base tables reachable from `from` through joins; false when a join on the way
/// is not an inner or cross join (its WHERE must not be pushed into either side).
fn join_leaves<'a>(from: &'a Value, leaves: &mut Vec<&'a Value>) -> bool {
    match ast::kind(from) {
        "BASE_TABLE" => {
            leaves.push(from);
            true
        }
        "JOIN" => {
            let inner = ast::text(from, "join_type") == "INNER"
                && matches!(ast::text(from, "ref_type"), "REGULAR" | "CROSS" | "NATURAL");
            let (Some(left), Some(right)) = (from.get("left"), from.get("right")) else {
                return false;
            };
            inner && join_leaves(left, leaves) && join_leaves(right, leaves)
        }
        // A subquery's own WHERE is pushed where its own SELECT is handled.
        _ => true,
    }
}

/// The column references of `statement`, for every table together.
pub(super) fn column_refs(statement: &Value) -> ColumnRefs {
    let mut refs = ColumnRefs::default();
    ast::visit(statement, &mut |node| match ast::class(node) {
        "STAR" => match ast::text(node, "relation_name") {
            "" => refs.all = true,
            relation => {
                refs.all_of.insert(relation.to_ascii_lowercase());
            }
        },
        "POSITIONAL_REFERENCE" => refs.all = true,
        "COLUMN_REF" => {
            let names = ast::column_names(node);
            if let [single] = names.as_slice() {
                // `SELECT r FROM s.t r` selects the whole row as a struct.
                refs.all_of.insert(single.to_ascii_lowercase());
            }
            refs.names
                .extend(names.iter().map(|n| n.to_ascii_lowercase()));
        }
        _ => {
            if let Some(using) = node.get("using_columns").and_then(Value::as_array) {
                refs.names.extend(
                    using
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_lowercase),
                );
            }
        }
    });
    refs
}
