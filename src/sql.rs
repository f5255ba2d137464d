//! SQL from clients (Flight SQL statements and the `Sql` RPC), parsed by DuckDB's own parser.
//!
//! Why DuckDB's parser (`json_serialize_sql`) and not the `sqlparser` crate: the statement runs
//! on DuckDB, so the only parser that accepts exactly what DuckDB runs — its dialect, its
//! string and comment rules, its `FROM`-first syntax — is DuckDB's. Its JSON form is the
//! parsed tree, which [`guard`] checks, [`tables`] reads for the tables and their filters,
//! and [`Statement::over_inputs`] rewrites; `json_deserialize_sql` prints the rewritten tree back
//! as SQL. No text surgery: a string that looks like SQL inside a literal stays a literal.
//!
//! # Layout
//! - `parser`: the DuckDB connection that parses and prints.
//! - `ast`: accessors over the JSON tree.
//! - `guard`: one query, only queries, no table functions or file/setting functions.
//! - `tables`: the service tables a statement reads, the columns it needs of each and the WHERE
//!   conjuncts that hold for each one's rows.
//! - `pushdown`: such conjuncts as our filter tree, where they map exactly.
//! - `statement`: a checked statement and its rewrite over the engine's inputs.

mod ast;
mod explain;
mod guard;
mod parser;
mod pushdown;
mod statement;
mod tables;
#[cfg(test)]
mod tests;

pub use explain::explained;
pub use parser::SqlParser;
pub use pushdown::{pushed_filter, pushes_whole_where};
pub use statement::{Statement, TableName, TableUse};

/// Longest accepted SQL text, in bytes.
pub const MAX_SQL_BYTES: usize = 1 << 20;

/// Why SQL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// DuckDB's parser refused it (its message).
    #[error("{0}")]
    Syntax(String),
    /// It parses, but is not a read-only query over the service's tables.
    #[error("{0}")]
    Refused(String),
    /// The parser itself failed.
    #[error("the SQL parser failed: {0}")]
    Internal(String),
}
