//! A checked statement: the tables it reads and its rewrite over the engine's inputs.

use std::collections::BTreeSet;

use arrow::datatypes::Schema;
use serde_json::Value;

use super::{
    SqlError, SqlParser, ast, guard,
    tables::{self, BaseTable},
};

/// A service table as a statement names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// The catalog part of `bucket.schema.table`, or "".
    pub bucket: String,
    /// The schema.
    pub schema: String,
    /// The table.
    pub table: String,
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.bucket.is_empty() {
            write!(f, "{}.", self.bucket)?;
        }
        write!(f, "{}.{}", self.schema, self.table)
    }
}

/// One reference to a service table: each is read by a scan of its own.
#[derive(Debug, Clone)]
pub struct TableUse {
    /// The table.
    pub name: TableName,
    base: BaseTable,
    all_columns: bool,
    /// Every name part of the statement's column references, lowercased.
    names: BTreeSet<String>,
}

impl TableUse {
    /// The columns of `schema` the statement may use of this table (at least one).
    pub fn columns(&self, schema: &Schema) -> Vec<String> {
        let fields = schema.fields();
        let named: Vec<String> = if self.all_columns {
            fields.iter().map(|f| f.name().clone()).collect()
        } else {
            fields
                .iter()
                .filter(|f| self.names.contains(&f.name().to_ascii_lowercase()))
                .map(|f| f.name().clone())
                .collect()
        };
        match (named.is_empty(), fields.first()) {
            // `SELECT count(*) FROM s.t` reads no column, but the engine wants one.
            (true, Some(first)) => vec![first.name().clone()],
            _ => named,
        }
    }

    /// Whether no WHERE conjunct holds for this table's rows in particular.
    pub fn conjuncts_empty(&self) -> bool {
        self.base.conjuncts.is_empty()
    }

    /// The WHERE conjuncts that hold for this table's rows.
    pub(super) fn conjuncts(&self) -> &[Value] {
        &self.base.conjuncts
    }

    /// The name the statement calls the table by.
    pub(super) fn alias(&self) -> &str {
        &self.base.alias
    }

    /// Whether conjuncts must name this table before their columns.
    pub(super) fn qualified_only(&self) -> bool {
        self.base.qualified_only
    }
}

/// A query over the service's tables, checked by the guard.
#[derive(Debug, Clone)]
pub struct Statement {
    tree: Value,
    /// The service tables read, in the order of the text.
    pub tables: Vec<TableUse>,
    parameters: usize,
    single_table_scan: bool,
    once: bool,
}

fn refused(message: impl Into<String>) -> SqlError {
    SqlError::Refused(message.into())
}

/// The names of every CTE the statement defines, lowercased.
fn cte_names(statement: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    ast::visit(statement, &mut |node| {
        if ast::is_query_node(node) {
            names.extend(
                ast::ctes(node)
                    .into_iter()
                    .map(|(n, _)| n.to_ascii_lowercase()),
            );
        }
    });
    names
}

/// The number of `?` / `$n` parameters; named ones are refused.
fn parameter_count(statement: &Value) -> Result<usize, SqlError> {
    let map = statement
        .get("named_param_map")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for entry in map {
        let key = ast::text(entry, "key");
        if key.parse::<usize>().is_err() {
            return Err(refused(format!(
                "named parameters (`${key}`) are not supported: use `?` or `$1`"
            )));
        }
    }
    Ok(map.len())
}

impl Statement {
    /// A Flight SQL statement: one query over tables named `schema.table` or
    /// `bucket.schema.table`, and the CTEs it defines.
    pub fn over_service_tables(parser: &SqlParser, sql: &str) -> Result<Self, SqlError> {
        Self::from_tree(parser.parse(sql)?)
    }

    fn from_tree(tree: Value) -> Result<Self, SqlError> {
        let statement = guard::check(&tree)?;
        let ctes = cte_names(statement);
        let refs = tables::column_refs(statement);
        let mut uses = Vec::new();
        for base in tables::base_tables(statement) {
            if base.schema.is_empty() && base.catalog.is_empty() {
                if ctes.contains(&base.table.to_ascii_lowercase()) {
                    continue;
                }
                return Err(refused(format!(
                    "unknown table `{}`: name tables as schema.table (or bucket.schema.table); \
                     GetTables lists them",
                    base.table
                )));
            }
            // Renamed columns (`AS x(a, b)`) are referenced by their new names: read them all.
            let all_columns =
                refs.all || refs.all_of.contains(&base.alias.to_ascii_lowercase()) || base.renamed;
            uses.push(TableUse {
                name: TableName {
                    bucket: base.catalog.clone(),
                    schema: base.schema.clone(),
                    table: base.table.clone(),
                },
                base,
                all_columns,
                names: refs.names.clone(),
            });
        }
        let parameters = parameter_count(statement)?;
        let single_table_scan = uses.len() == 1 && is_plain_scan(statement);
        let once = !has_ctes_or_subqueries(statement);
        Ok(Self {
            tree,
            tables: uses,
            parameters,
            single_table_scan,
            once,
        })
    }

    /// The `Sql` RPC's query: it may read only the view `view` and its own CTEs. Returns the
    /// query as DuckDB prints it (starting with `SELECT`, `WITH` or `(`).
    pub fn over_view(parser: &SqlParser, sql: &str, view: &str) -> Result<String, SqlError> {
        Self::check_over_view(parser, sql, view).map(|(sql, _)| sql)
    }

    /// [`over_view`](Self::over_view), and whether DuckDB surely reads the view once: it is
    /// named once, with no CTE or subquery expression (see
    /// [`reads_each_table_once`](Self::reads_each_table_once)).
    pub fn check_over_view(
        parser: &SqlParser,
        sql: &str,
        view: &str,
    ) -> Result<(String, bool), SqlError> {
        let tree = parser.parse(sql)?;
        let statement = guard::check(&tree)?;
        let ctes = cte_names(statement);
        let bases = tables::base_tables(statement);
        let once = bases.len() == 1 && !has_ctes_or_subqueries(statement);
        for base in bases {
            let unqualified = base.schema.is_empty() && base.catalog.is_empty();
            let known = base.table.eq_ignore_ascii_case(view)
                || ctes.contains(&base.table.to_ascii_lowercase());
            if !unqualified || !known {
                let name = [base.catalog.as_str(), &base.schema, &base.table]
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(".");
                return Err(refused(format!(
                    "sql may only read the view {view} (and its own CTEs), not `{name}`"
                )));
            }
        }
        if parameter_count(statement)? > 0 {
            return Err(refused(
                "sql has a `?` parameter, but the Sql RPC binds none: write the value into the query",
            ));
        }
        Ok((parser.print(&tree)?, once))
    }

    /// How many parameters (`?`) the statement takes.
    pub fn parameters(&self) -> usize {
        self.parameters
    }

    /// Whether the statement is a plain projection + filter of one table, whose result is
    /// the union of its results over any partition of the table's rows (one Flight endpoint
    /// per split).
    pub fn is_single_table_scan(&self) -> bool {
        self.single_table_scan
    }

    /// For a [single-table scan](Self::is_single_table_scan) whose select list is plain columns
    /// or `*`: each output column as (its column in `schema`, its output name), as DuckDB
    /// would name it. `None` for any other select list.
    pub fn plain_projection(&self, schema: &Schema) -> Option<Vec<(String, String)>> {
        if !self.single_table_scan {
            return None;
        }
        let table = self.tables.first()?;
        let node = self.tree.pointer("/statements/0/node")?;
        let mut out = Vec::new();
        for item in node.get("select_list")?.as_array()? {
            let alias = ast::text(item, "alias");
            match ast::class(item) {
                "STAR" => {
                    let relation = ast::text(item, "relation_name");
                    let plain = [
                        "exclude_list",
                        "replace_list",
                        "rename_list",
                        "qualified_exclude_list",
                    ]
                    .iter()
                    .all(|k| {
                        item.get(*k)
                            .and_then(Value::as_array)
                            .is_none_or(Vec::is_empty)
                    });
                    if !plain
                        || !alias.is_empty()
                        || !(relation.is_empty() || relation.eq_ignore_ascii_case(table.alias()))
                    {
                        return None;
                    }
                    out.extend(
                        schema
                            .fields()
                            .iter()
                            .map(|f| (f.name().clone(), f.name().clone())),
                    );
                }
                "COLUMN_REF" => {
                    let name = match ast::column_names(item).as_slice() {
                        [name] => *name,
                        [qualifier, name] if qualifier.eq_ignore_ascii_case(table.alias()) => *name,
                        _ => return None,
                    };
                    let field = schema
                        .fields()
                        .iter()
                        .find(|f| f.name().eq_ignore_ascii_case(name))?;
                    // DuckDB names an unaliased column as the table spells it.
                    let output = if alias.is_empty() {
                        field.name().as_str()
                    } else {
                        alias
                    };
                    out.push((field.name().clone(), output.to_owned()));
                }
                _ => return None,
            }
        }
        Some(out)
    }

    /// Whether DuckDB surely scans each table reference once (no CTE, which it may inline
    /// twice, and no subquery expression, which it may run again), so that its rows can
    /// stream into the query instead of being collected first.
    pub fn reads_each_table_once(&self) -> bool {
        self.once
    }

    /// The statement without the WHERE of each SELECT whose whole FROM is table `i` where
    /// `dropped[i]`: a WHERE the scan's exact filter already applied. Its columns are then not
    /// sent to the engine unless the statement uses them elsewhere.
    pub fn without_where(&self, dropped: &[bool]) -> Result<Self, SqlError> {
        let mut tree = self.tree.clone();
        for (table, _) in self.tables.iter().zip(dropped).filter(|(_, d)| **d) {
            let Some(select) = table.base.pointer.strip_suffix("/from_table") else {
                continue;
            };
            if let Some(node) = tree
                .pointer_mut(&format!("/statements/0{select}"))
                .and_then(Value::as_object_mut)
            {
                node.insert("where_clause".into(), Value::Null);
            }
        }
        let statement = Self::from_tree(tree)?;
        if statement.tables.len() != self.tables.len() {
            return Err(SqlError::Internal(
                "dropping a pushed WHERE changed the tables read".to_owned(),
            ));
        }
        Ok(statement)
    }

    /// Whether `table` is the whole FROM of its SELECT, read as stored: that SELECT's WHERE is
    /// then about its rows alone, and all of it is in [`TableUse`]'s conjuncts.
    pub fn is_whole_from(&self, table: &TableUse) -> bool {
        table.base.pointer.ends_with("/from_table") && table.base.as_stored
    }

    /// The statement with table `i` read from the engine input named `names[i]`, as SQL.
    pub fn over_inputs(&self, parser: &SqlParser, names: &[String]) -> Result<String, SqlError> {
        let mut tree = self.tree.clone();
        for (table, name) in self.tables.iter().zip(names) {
            let pointer = format!("/statements/0{}", table.base.pointer);
            let node = tree
                .pointer_mut(&pointer)
                .and_then(Value::as_object_mut)
                .ok_or_else(|| SqlError::Internal(format!("no table at {pointer}")))?;
            node.insert("catalog_name".into(), Value::from(""));
            node.insert("schema_name".into(), Value::from(""));
            node.insert("table_name".into(), Value::from(name.as_str()));
            node.insert("alias".into(), Value::from(table.base.alias.as_str()));
            node.insert(
                "qualified_name".into(),
                serde_json::json!({ "path": [name] }),
            );
        }
        parser.print(&tree)
    }
}

fn has_ctes_or_subqueries(statement: &Value) -> bool {
    let mut found = false;
    ast::visit(statement, &mut |node| {
        found |= ast::class(node) == "SUBQUERY"
            || (ast::is_query_node(node) && !ast::ctes(node).is_empty())
    });
    found
}

/// `SELECT <columns or *> FROM <one table> [WHERE …]` with nothing else: no aggregate, no
/// DISTINCT, ORDER BY, LIMIT, CTE, subquery or function in the select list.
fn is_plain_scan(statement: &Value) -> bool {
    let Some(node) = statement.get("node") else {
        return false;
    };
    let empty = |key: &str| {
        node.get(key)
            .is_none_or(|v| v.is_null() || v.as_array().is_some_and(Vec::is_empty))
    };
    let plain_list = node
        .get("select_list")
        .and_then(Value::as_array)
        .is_some_and(|items| {
            items.iter().all(|item| match ast::class(item) {
                "COLUMN_REF" => true,
                "STAR" => {
                    item.get("columns").and_then(Value::as_bool) != Some(true)
                        && item.get("expr").is_none_or(Value::is_null)
                }
                _ => false,
            })
        });
    let mut subquery = false;
    ast::visit(node, &mut |n| subquery |= ast::class(n) == "SUBQUERY");
    ast::kind(node) == "SELECT_NODE"
        && node
            .get("from_table")
            .is_some_and(|f| ast::kind(f) == "BASE_TABLE" && !tables::renames_or_samples(f))
        && ast::ctes(node).is_empty()
        && empty("modifiers")
        && empty("group_expressions")
        && empty("having")
        && empty("qualify")
        && empty("sample")
        && plain_list
        && !subquery
}
