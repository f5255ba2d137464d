//! The DuckDB connection that parses SQL into its JSON tree and prints a tree back as SQL.
//! It never runs a client's SQL: both directions are scalar functions over a bound string.

use std::sync::{Mutex, PoisonError};

use duckdb::{Config, Connection};
use serde_json::Value;

use super::{MAX_SQL_BYTES, SqlError};

/// Parses and prints SQL; one small in-memory DuckDB database of its own, no file access.
pub struct SqlParser {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqlParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlParser").finish_non_exhaustive()
    }
}

fn internal(err: impl std::fmt::Display) -> SqlError {
    SqlError::Internal(err.to_string())
}

impl SqlParser {
    /// Opens the parser's database.
    pub fn new() -> Result<Self, SqlError> {
        let config = Config::default()
            .enable_external_access(false)
            .and_then(|c| c.threads(1))
            .and_then(|c| c.enable_autoload_extension(false))
            .map_err(internal)?;
        let conn = Connection::open_in_memory_with_flags(config).map_err(internal)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// DuckDB's parse tree of `sql` (`{"error": false, "statements": [...]}`), or its syntax
    /// error. Only SELECT statements serialize: anything else is refused here already.
    pub(super) fn parse(&self, sql: &str) -> Result<Value, SqlError> {
        if sql.len() > MAX_SQL_BYTES {
            return Err(SqlError::Refused(format!(
                "the SQL text is longer than {MAX_SQL_BYTES} bytes"
            )));
        }
        let json = self.scalar("SELECT json_serialize_sql(?)", sql)?;
        let tree: Value = serde_json::from_str(&json).map_err(internal)?;
        if tree.get("error").and_then(Value::as_bool) == Some(true) {
            let message = tree
                .get("error_message")
                .and_then(Value::as_str)
                .unwrap_or("the SQL does not parse");
            return Err(if message.contains("Only SELECT statements") {
                SqlError::Refused(
                    "only queries are allowed: one SELECT (or WITH … SELECT, VALUES, FROM …); \
                     statements such as COPY, ATTACH, SET, INSERT or CREATE are refused"
                        .to_owned(),
                )
            } else {
                SqlError::Syntax(format!("Parser Error: {message}"))
            });
        }
        Ok(tree)
    }

    /// The SQL text of a parse tree (as [`parse`](Self::parse) returns it, possibly rewritten).
    pub(super) fn print(&self, tree: &Value) -> Result<String, SqlError> {
        self.scalar("SELECT json_deserialize_sql(?::JSON)", &tree.to_string())
    }

    fn scalar(&self, query: &str, arg: &str) -> Result<String, SqlError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let mut stmt = conn.prepare_cached(query).map_err(internal)?;
        stmt.query_row([arg], |row| row.get::<_, String>(0))
            .map_err(internal)
    }
}
