//! A byte-for-byte port of the state machine of DuckDB 2.0's tokenizer
//! (`src/parser/peg/tokenizer/base_tokenizer.cpp`), reduced to what [`super::validate`] needs:
//! where statements end (`;`) and which text is a comment, a string or a quoted identifier.
//! It must agree with DuckDB exactly — a `;` this lexer thinks is inside a string but DuckDB
//! does not would let a second statement through.

/// A token of interest; the `usize` next to it in [`tokenize`]'s output is its end offset.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// An unquoted word (keyword or identifier), ASCII-lowercased.
    Word(String),
    /// A string literal of any kind (`'…'`, `E'…'`, `X'…'`, `$tag$…$tag$`).
    String,
    /// A `"quoted"` or `` `quoted` `` identifier, unquoted and ASCII-lowercased.
    QuotedIdent(String),
    /// `;`
    Semicolon,
    /// `(`
    OpenParen,
    /// Anything else: operators, numbers, punctuation.
    Other,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_single_byte_operator(c: u8) -> bool {
    matches!(
        c,
        b'(' | b')' | b'{' | b'}' | b'[' | b']' | b',' | b':' | b'?' | b'$' | b'#'
    )
}

/// `StringUtil::CharacterIsOperator`: ASCII punctuation except `_`.
fn is_string_util_operator(c: u8) -> bool {
    c != b'_'
        && (matches!(c, b'!'..=b'/')
            || matches!(c, b':'..=b'@')
            || matches!(c, b'['..=b'`')
            || matches!(c, b'{'..=b'~'))
}

/// `Tokenizer::CharacterIsOperator`: characters that continue an operator.
fn is_operator(c: u8) -> bool {
    matches!(
        c,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'^'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'&'
            | b'|'
    )
}

fn is_initial_number(c: u8) -> bool {
    c.is_ascii_digit() || c == b'.'
}

fn is_keyword_char(c: u8) -> bool {
    !is_single_byte_operator(c)
        && !is_string_util_operator(c)
        && !is_space(c)
        && !matches!(c, b'\'' | b';' | b'"' | b'.')
}

fn is_dollar_tag_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

fn is_special_string_prefix(c: u8) -> bool {
    matches!(c, b'N' | b'n' | b'X' | b'x' | b'E' | b'e' | b'B' | b'b')
}

fn is_scientific(c: u8) -> bool {
    c == b'e' || c == b'E'
}

/// Splits `sql` into tokens (with their end byte offsets), skipping comments and whitespace.
/// Unterminated strings, identifiers and comments are errors.
pub(crate) fn tokenize(sql: &str) -> Result<Vec<(usize, Token)>, String> {
    let s = sql.as_bytes();
    let n = s.len();
    let at = |i: usize| s.get(i).copied();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < n {
        let c = s[i];
        if c == b'\'' {
            i = string_end(s, i + 1, false)?;
            tokens.push((i, Token::String));
        } else if c == b'"' || c == b'`' {
            let start = i;
            i = quoted_end(s, i + 1, c)?;
            let inner = &sql[start + 1..i - 1];
            let delimiter = char::from(c).to_string();
            let name = inner
                .replace(&delimiter.repeat(2), &delimiter)
                .to_ascii_lowercase();
            tokens.push((i, Token::QuotedIdent(name)));
        } else if c == b';' {
            i += 1;
            tokens.push((i, Token::Semicolon));
        } else if c == b'$' {
            if i + 1 >= n {
                // A lone trailing `$` (a syntax error for DuckDB) is kept as written, so the
                // text handed on does not depend on what follows it.
                i += 1;
                tokens.push((i, Token::Other));
            } else if s[i + 1].is_ascii_digit() {
                i += 1;
                tokens.push((i, Token::Other)); // `$1` parameter
            } else {
                let mut j = i + 1;
                let mut next_dollar = None;
                while j < n {
                    if s[j] == b'$' {
                        next_dollar = Some(j);
                        break;
                    }
                    if !is_dollar_tag_char(s[j]) {
                        break;
                    }
                    j += 1;
                }
                match next_dollar {
                    None => {
                        i += 1;
                        tokens.push((i, Token::Other)); // `$name` parameter
                    }
                    Some(close) => {
                        let marker = &sql[i..=close];
                        let body = close + 1;
                        let Some(found) = sql[body..].find(marker) else {
                            return Err(format!("sql has an unterminated {marker} string"));
                        };
                        i = body + found + marker.len();
                        tokens.push((i, Token::String));
                    }
                }
            }
        } else if c == b'-' && at(i + 1) == Some(b'-') {
            while i < n && s[i] != b'\n' && s[i] != b'\r' {
                i += 1;
            }
        } else if c == b'/' && at(i + 1) == Some(b'*') {
            i = block_comment_end(s, i + 2)?;
        } else if is_space(c) {
            i += 1;
        } else if is_single_byte_operator(c) {
            i += 1;
            tokens.push((
                i,
                if c == b'(' {
                    Token::OpenParen
                } else {
                    Token::Other
                },
            ));
        } else if is_initial_number(c) {
            i = number_end(s, i);
            tokens.push((i, Token::Other));
        } else if is_special_string_prefix(c) && at(i + 1) == Some(b'\'') {
            i = string_end(s, i + 2, c == b'e' || c == b'E')?;
            tokens.push((i, Token::String));
        } else if is_string_util_operator(c) {
            // An operator runs while operator characters follow, but `--` and `/*` start
            // comments even inside it.
            i += 1;
            while i < n && is_operator(s[i]) {
                if (s[i] == b'-' && at(i + 1) == Some(b'-'))
                    || (s[i] == b'/' && at(i + 1) == Some(b'*'))
                {
                    break;
                }
                i += 1;
            }
            tokens.push((i, Token::Other));
        } else {
            let start = i;
            i += 1;
            while i < n && (s[i] == b'$' || is_keyword_char(s[i])) {
                i += 1;
            }
            // Word boundaries are ASCII bytes (or the end), so this slice is on char bounds.
            let word = String::from_utf8_lossy(&s[start..i]).to_ascii_lowercase();
            tokens.push((i, Token::Word(word)));
        }
    }
    Ok(tokens)
}

/// The offset after a string whose body starts at `i`.
fn string_end(s: &[u8], mut i: usize, escapes: bool) -> Result<usize, String> {
    while i < s.len() {
        match s[i] {
            b'\\' if escapes && i + 1 < s.len() => i += 2,
            b'\'' if s.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err("sql has an unterminated string".to_owned())
}

/// The offset after a quoted identifier whose body starts at `i`.
fn quoted_end(s: &[u8], mut i: usize, delimiter: u8) -> Result<usize, String> {
    while i < s.len() {
        if s[i] == delimiter {
            if s.get(i + 1) == Some(&delimiter) {
                i += 2;
                continue;
            }
            return Ok(i + 1);
        }
        i += 1;
    }
    Err("sql has an unterminated quoted identifier".to_owned())
}

/// The offset after a (nested) block comment whose body starts at `i`.
fn block_comment_end(s: &[u8], mut i: usize) -> Result<usize, String> {
    let mut depth = 1;
    while i < s.len() {
        if s[i] == b'/' && s.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if s[i] == b'*' && s.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Ok(i);
            }
        } else {
            i += 1;
        }
    }
    Err("sql has an unterminated /* comment".to_owned())
}

/// The offset after a number starting at `start` (DuckDB backs off to its last digit or `.`).
fn number_end(s: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < s.len() {
        let c = s[i];
        let keep = is_initial_number(c)
            || (c == b'_'
                && s[i - 1].is_ascii_digit()
                && s.get(i + 1).is_some_and(u8::is_ascii_digit))
            || (is_scientific(c)
                && !is_scientific(s[i - 1])
                && (s[start].is_ascii_digit() || s[i - 1].is_ascii_digit()))
            || ((c == b'+' || c == b'-') && is_scientific(s[i - 1]));
        if !keep {
            break;
        }
        i += 1;
    }
    while !is_initial_number(s[i - 1]) {
        i -= 1;
    }
    i
}
