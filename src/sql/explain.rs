//! `EXPLAIN <query>`: the one statement besides a query the service accepts. DuckDB's
//! serializer takes only SELECT statements, so the keyword is recognized here (after any
//! leading whitespace and comments) and the query after it goes through the guard as usual.

use super::SqlError;

/// The query an `EXPLAIN` statement explains, or `None` when `sql` is not one.
/// `EXPLAIN ANALYZE` would run the query: refused.
pub fn explained(sql: &str) -> Result<Option<&str>, SqlError> {
    let rest = skip_space_and_comments(sql);
    let Some(after) = keyword(rest, "explain") else {
        return Ok(None);
    };
    let query = skip_space_and_comments(after);
    if keyword(query, "analyze").is_some() || keyword(query, "analyse").is_some() {
        return Err(SqlError::Refused(
            "EXPLAIN ANALYZE runs the query; use EXPLAIN for the plan, then run the query"
                .to_owned(),
        ));
    }
    Ok(Some(query))
}

/// `text` after `word` (any case) when it starts with it as a whole word.
fn keyword<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    let whole = rest
        .chars()
        .next()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
    (head.eq_ignore_ascii_case(word) && whole).then_some(rest)
}

fn skip_space_and_comments(mut text: &str) -> &str {
    loop {
        text = text.trim_start();
        if let Some(line) = text.strip_prefix("--") {
            text = line.split_once('\n').map_or("", |(_, rest)| rest);
        } else if let Some(block) = text.strip_prefix("/*") {
            text = block.split_once("*/").map_or("", |(_, rest)| rest);
        } else {
            return text;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_query_after_the_keyword_only() {
        assert_eq!(explained("SELECT 1").unwrap(), None);
        assert_eq!(explained("explained_view").unwrap(), None);
        assert_eq!(
            explained("  -- why\n /* plan */ EXPLAIN\n SELECT * FROM t").unwrap(),
            Some("SELECT * FROM t")
        );
        assert_eq!(explained("explain select 1").unwrap(), Some("select 1"));
        assert!(explained("EXPLAIN ANALYZE SELECT 1").is_err());
    }
}
