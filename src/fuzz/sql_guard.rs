//! Target `sql_guard`: the SQL guard (`sql::Statement::over_view`, DuckDB's parser) on
//! arbitrary text, on `SELECT ` + arbitrary text, and on SQL-like text built from a token
//! alphabet of statement keywords, comments, every string and identifier quoting, `;`,
//! forbidden functions, newlines and non-ASCII.
//!
//! Invariants for accepted text: the output starts with `SELECT`, `WITH ` or `(` and is
//! accepted again unchanged (or is a syntax error, never a refusal); and a second statement
//! after a newline and `;` is always refused. (A trailing `;` may change the parse: DuckDB reads
//! `…%0E` at the end of the text as one number, and `…%0E\n;` as `0` aliased `E`.)

use proptest::prelude::*;

use super::{config, corpus};
use std::sync::OnceLock;

use crate::sql::{SqlError, SqlParser, Statement};

const TARGET: &str = "sql_guard";
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz/regressions/sql_guard.txt"
);

const TOKENS: &[&str] = &[
    "SELECT",
    "select",
    "WITH",
    "with",
    "RECURSIVE",
    "FROM",
    "JOIN",
    "AS",
    "t",
    "x",
    "*",
    ",",
    "1",
    "1.5e3",
    "$1",
    ";",
    "--",
    "/*",
    "*/",
    "'",
    "''",
    "\"",
    "`",
    "$$",
    "$tag$",
    "$",
    "E'",
    "e'\\'",
    "X'",
    "\\",
    "(",
    ")",
    "DROP",
    "COPY",
    "ATTACH",
    "INSTALL",
    "PRAGMA",
    "SET",
    "read_csv",
    "read_parquet",
    "glob",
    "__vastgate_input",
    "'/etc/passwd'",
    "\"a/b\"",
    "é",
    "日本",
    "\0",
    "\u{feff}",
];
const SEPARATORS: &[&str] = &[" ", "", "", "\n", "\r", "\t"];

/// SQL-like text from [`TOKENS`], each followed by one of [`SEPARATORS`].
fn token_soup() -> impl Strategy<Value = String> {
    let pair = (
        prop::sample::select(TOKENS.to_vec()),
        prop::sample::select(SEPARATORS.to_vec()),
    );
    prop::collection::vec(pair, 0..24).prop_map(|pairs| {
        pairs
            .into_iter()
            .flat_map(|(token, sep)| [token, sep])
            .collect::<String>()
    })
}

/// One parser for the whole run.
fn parser() -> &'static SqlParser {
    static PARSER: OnceLock<SqlParser> = OnceLock::new();
    PARSER.get_or_init(|| SqlParser::new().expect("the SQL parser opens"))
}

fn guard(sql: &str) -> Result<String, SqlError> {
    Statement::over_view(parser(), sql, "t")
}

fn check(sql: &str) -> Result<(), TestCaseError> {
    let Ok(out) = guard(sql) else {
        return Ok(());
    };
    prop_assert!(
        out.starts_with("SELECT") || out.starts_with("WITH ") || out.starts_with('('),
        "output {out:?}"
    );
    // What runs is the printed text: it must never be something the guard refuses. DuckDB's
    // printer can emit text its parser rejects (`SELECT \0` prints as `SELECT ""`); the engine
    // then refuses it with the same syntax error.
    match guard(&out) {
        Ok(again) => prop_assert_eq!(again, out.clone(), "printing is not stable"),
        Err(SqlError::Syntax(_)) => {}
        Err(other) => prop_assert!(false, "the printed {out:?} is refused: {other}"),
    }
    let second = format!("{sql}\n;SELECT 1");
    prop_assert!(
        guard(&second).is_err(),
        "a second statement got through: {second:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(REGRESSIONS))]

    #[test]
    fn arbitrary_text(sql in any::<String>()) {
        check(&sql)?;
        check(&format!("SELECT {sql}"))?;
    }

    #[test]
    fn token_soups(sql in token_soup()) {
        check(&sql)?;
        check(&format!("SELECT {sql}"))?;
        check(&format!("WITH x AS (SELECT 1) {sql}"))?;
    }
}

#[test]
fn replay_corpus() {
    for (path, bytes) in corpus(TARGET) {
        if let Err(e) = check(&String::from_utf8_lossy(&bytes)) {
            panic!("{}: {e}", path.display());
        }
    }
}
