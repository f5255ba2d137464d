//! Target `sql_guard`: `analytics::sql::validate`, the lexical guard in front of DuckDB, on
//! arbitrary text, on `SELECT ` + arbitrary text, and on SQL-like text built from a token
//! alphabet of statement keywords, comments, every string and identifier quoting, `;`,
//! forbidden functions, newlines and non-ASCII.
//!
//! Invariants for accepted text: the input starts, after whitespace and comments, with SELECT or
//! WITH; the output starts with `SELECT` or `WITH ` and is accepted again; a trailing `;`
//! changes nothing; and a second statement after a newline and `;` is always refused.

use proptest::prelude::*;

use super::{config, corpus};
use crate::analytics::sql::validate;

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

/// `sql` after leading whitespace, `--` comments and (nested) `/* */` comments, as the guard's
/// lexer skips them.
fn after_trivia(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.find(['\n', '\r']).map_or("", |at| &comment[at..]);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = after_block_comment(comment);
        } else {
            return rest;
        }
    }
}

/// What follows the block comment whose body starts `body` (empty if it never ends).
fn after_block_comment(body: &str) -> &str {
    let bytes = body.as_bytes();
    let (mut depth, mut i) = (1, 0);
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return &body[i..];
                }
            }
            _ => i += 1,
        }
    }
    ""
}

fn starts_with_word(text: &str, word: &str) -> bool {
    text.get(..word.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(word))
}

fn check(sql: &str) -> Result<(), TestCaseError> {
    let Ok(out) = validate(sql) else {
        return Ok(());
    };
    let head = after_trivia(sql);
    prop_assert!(
        starts_with_word(head, "select") || starts_with_word(head, "with"),
        "accepted text does not start with SELECT or WITH: {head:?}"
    );
    prop_assert!(
        out.starts_with("SELECT") || out.starts_with("WITH "),
        "output {out:?}"
    );
    prop_assert!(validate(&out).is_ok(), "the output {out:?} is refused");
    let with_semicolon = validate(&format!("{sql}\n;")).ok();
    prop_assert_eq!(
        with_semicolon.as_deref(),
        Some(out.as_str()),
        "a trailing `;` changed it"
    );
    let second = format!("{sql}\n;SELECT 1");
    prop_assert!(
        validate(&second).is_err(),
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
