//! `--where` text → our filter tree. A small SQL-like grammar, parsed by hand so an error can
//! point at the token it could not use:
//!
//! ```text
//! expr     := and ("OR" and)*
//! and      := unary ("AND" unary)*
//! unary    := "NOT" unary | "(" expr ")" | column test
//! test     := op literal | ["NOT"] "IN" "(" literal ("," literal)* ")"
//!           | ["NOT"] "BETWEEN" literal "AND" literal | "IS" ["NOT"] "NULL"
//!           | ["NOT"] "LIKE" 'prefix%' | ["NOT"] "LIKE" '%part%'
//! literal  := number | 'string' | TRUE | FALSE | TIMESTAMP 'iso' | DATE 'yyyy-mm-dd'
//! ```

use chrono::{NaiveDate, NaiveDateTime};

use crate::proto::{
    self, Between, ColumnRef, CompareOp, Comparison, FilterList, InList, StringMatch, filter::Kind,
    literal::Value as Lit,
};

/// Why the text is not a filter, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhereError {
    /// Byte offset of the offending token in the text.
    pub position: usize,
    /// What was expected or what is wrong.
    pub message: String,
    text: String,
}

impl std::fmt::Display for WhereError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let column = self.text[..self.position.min(self.text.len())]
            .chars()
            .count();
        write!(
            f,
            "--where: {} (at character {})\n  {}\n  {}^",
            self.message,
            column + 1,
            self.text,
            " ".repeat(column)
        )
    }
}

impl std::error::Error for WhereError {}

/// Parses `text` into a filter.
pub fn parse(text: &str) -> Result<proto::Filter, WhereError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        text,
        tokens,
        next: 0,
    };
    let filter = parser.or()?;
    match parser.peek() {
        None => Ok(filter),
        Some(token) => Err(parser.error_at(
            token.start,
            format!("expected AND, OR or the end, found {}", token.describe()),
        )),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    QuotedIdent(String),
    Str(String),
    Number(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
}

impl Token {
    fn describe(&self) -> String {
        match &self.tok {
            Tok::Word(w) => format!("`{w}`"),
            Tok::QuotedIdent(w) => format!("`\"{w}\"`"),
            Tok::Str(s) => format!("the string '{s}'"),
            Tok::Number(n) => format!("the number {n}"),
            Tok::Op(op) => format!("`{op}`"),
            Tok::LParen => "`(`".to_owned(),
            Tok::RParen => "`)`".to_owned(),
            Tok::Comma => "`,`".to_owned(),
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, WhereError> {
    let error = |position: usize, message: &str| WhereError {
        position,
        message: message.to_owned(),
        text: text.to_owned(),
    };
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'\'' | b'"' => {
                // SQL quoting: a doubled quote stands for one.
                let mut value = String::new();
                i += 1;
                loop {
                    let Some(rest) = text.get(i..) else {
                        return Err(error(start, "unterminated quote"));
                    };
                    let Some(end) = rest.find(c as char) else {
                        return Err(error(start, "unterminated quote"));
                    };
                    value.push_str(&rest[..end]);
                    i += end + 1;
                    if bytes.get(i) == Some(&c) {
                        value.push(c as char);
                        i += 1;
                    } else {
                        break;
                    }
                }
                if c == b'\'' {
                    Tok::Str(value)
                } else {
                    Tok::QuotedIdent(value)
                }
            }
            b'0'..=b'9' | b'.' | b'-' | b'+' => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'.'
                        || ((bytes[i] == b'-' || bytes[i] == b'+')
                            && matches!(bytes[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                Tok::Number(text[start..i].to_owned())
            }
            b'=' | b'!' | b'<' | b'>' => {
                let two = text.get(i..i + 2).unwrap_or_default();
                let op = match two {
                    "==" => "=",
                    "!=" | "<>" => "!=",
                    "<=" => "<=",
                    ">=" => ">=",
                    _ => match c {
                        b'=' => "=",
                        b'<' => "<",
                        b'>' => ">",
                        _ => return Err(error(start, "`!` must be followed by `=`")),
                    },
                };
                i += if matches!(two, "==" | "!=" | "<>" | "<=" | ">=") {
                    2
                } else {
                    1
                };
                Tok::Op(op)
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                Tok::Word(text[start..i].to_owned())
            }
            _ => {
                let shown = text[start..].chars().next().unwrap_or('?');
                return Err(error(start, &format!("unexpected character `{shown}`")));
            }
        };
        tokens.push(Token { tok, start });
    }
    Ok(tokens)
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    next: usize,
}

impl Parser<'_> {
    fn error_at(&self, position: usize, message: impl Into<String>) -> WhereError {
        WhereError {
            position,
            message: message.into(),
            text: self.text.to_owned(),
        }
    }

    /// An error at the next token, or at the end of the text.
    fn expected(&self, what: &str) -> WhereError {
        match self.peek() {
            Some(token) => self.error_at(
                token.start,
                format!("expected {what}, found {}", token.describe()),
            ),
            None => self.error_at(self.text.len(), format!("expected {what} at the end")),
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek().is_some_and(|t| t.is_keyword(keyword));
        self.next += usize::from(found);
        found
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let found = self.peek().is_some_and(|t| &t.tok == tok);
        self.next += usize::from(found);
        found
    }

    fn or(&mut self) -> Result<proto::Filter, WhereError> {
        let mut parts = vec![self.and()?];
        while self.eat_keyword("OR") {
            parts.push(self.and()?);
        }
        Ok(combine(parts, Kind::Or))
    }

    fn and(&mut self) -> Result<proto::Filter, WhereError> {
        let mut parts = vec![self.unary()?];
        while self.eat_keyword("AND") {
            parts.push(self.unary()?);
        }
        Ok(combine(parts, Kind::And))
    }

    fn unary(&mut self) -> Result<proto::Filter, WhereError> {
        if self.eat_keyword("NOT") {
            return Ok(not(self.unary()?));
        }
        if self.eat(&Tok::LParen) {
            let inner = self.or()?;
            if !self.eat(&Tok::RParen) {
                return Err(self.expected("`)`"));
            }
            return Ok(inner);
        }
        let column = self.column()?;
        self.test(column)
    }

    fn column(&mut self) -> Result<String, WhereError> {
        match self.peek().map(|t| t.tok.clone()) {
            Some(Tok::Word(w)) if !is_reserved(&w) => {
                self.next += 1;
                Ok(w)
            }
            Some(Tok::QuotedIdent(w)) => {
                self.next += 1;
                Ok(w)
            }
            _ => Err(self.expected("a column name")),
        }
    }

    fn test(&mut self, column: String) -> Result<proto::Filter, WhereError> {
        if let Some(Tok::Op(op)) = self.peek().map(|t| t.tok.clone()) {
            self.next += 1;
            let op = match op {
                "=" => CompareOp::Eq,
                "!=" => CompareOp::Ne,
                "<" => CompareOp::Lt,
                "<=" => CompareOp::Le,
                ">" => CompareOp::Gt,
                _ => CompareOp::Ge,
            };
            let value = self.literal()?;
            return Ok(filter(Kind::Compare(Comparison {
                column,
                op: op as i32,
                value: Some(value),
            })));
        }
        if self.eat_keyword("IS") {
            let negated = self.eat_keyword("NOT");
            if !self.eat_keyword("NULL") {
                return Err(self.expected("NULL"));
            }
            let column = ColumnRef { column };
            return Ok(filter(if negated {
                Kind::IsNotNull(column)
            } else {
                Kind::IsNull(column)
            }));
        }
        let negated = self.eat_keyword("NOT");
        let tested = if self.eat_keyword("IN") {
            self.in_list(column)?
        } else if self.eat_keyword("BETWEEN") {
            let low = self.literal()?;
            if !self.eat_keyword("AND") {
                return Err(self.expected("AND of BETWEEN … AND …"));
            }
            let high = self.literal()?;
            filter(Kind::Between(Between {
                column,
                low: Some(low),
                high: Some(high),
            }))
        } else if self.eat_keyword("LIKE") {
            self.like(column)?
        } else if negated {
            return Err(self.expected("IN, BETWEEN or LIKE after NOT"));
        } else {
            return Err(self.expected(
                "a comparison (=, !=, <, <=, >, >=), IN, BETWEEN, LIKE or IS [NOT] NULL",
            ));
        };
        Ok(if negated { not(tested) } else { tested })
    }

    fn in_list(&mut self, column: String) -> Result<proto::Filter, WhereError> {
        if !self.eat(&Tok::LParen) {
            return Err(self.expected("`(` after IN"));
        }
        let mut values = vec![self.literal()?];
        while self.eat(&Tok::Comma) {
            values.push(self.literal()?);
        }
        if !self.eat(&Tok::RParen) {
            return Err(self.expected("`,` or `)` in the IN list"));
        }
        Ok(filter(Kind::In(InList { column, values })))
    }

    fn like(&mut self, column: String) -> Result<proto::Filter, WhereError> {
        let start = self.peek().map_or(self.text.len(), |t| t.start);
        let Some(Tok::Str(pattern)) = self.peek().map(|t| t.tok.clone()) else {
            return Err(self.expected("a quoted pattern after LIKE"));
        };
        self.next += 1;
        let wildcard_free = |s: &str| !s.contains(['%', '_']);
        if let Some(part) = pattern
            .strip_prefix('%')
            .and_then(|p| p.strip_suffix('%'))
            .filter(|p| wildcard_free(p))
        {
            return Ok(filter(Kind::Contains(StringMatch {
                column,
                pattern: part.to_owned(),
            })));
        }
        if let Some(prefix) = pattern.strip_suffix('%').filter(|p| wildcard_free(p)) {
            return Ok(filter(Kind::StartsWith(StringMatch {
                column,
                pattern: prefix.to_owned(),
            })));
        }
        Err(self.error_at(
            start,
            "only 'prefix%' and '%part%' LIKE patterns (without other % or _) can be \
             pushed down; use `vastgate client sql` for other patterns",
        ))
    }

    fn literal(&mut self) -> Result<proto::Literal, WhereError> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.expected("a value"));
        };
        let value = match &token.tok {
            Tok::Number(n) => number(n)
                .ok_or_else(|| self.error_at(token.start, format!("`{n}` is not a number")))?,
            Tok::Str(s) => Lit::StringValue(s.clone()),
            Tok::Word(w) if w.eq_ignore_ascii_case("TRUE") => Lit::BoolValue(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("FALSE") => Lit::BoolValue(false),
            Tok::Word(w)
                if w.eq_ignore_ascii_case("TIMESTAMP") || w.eq_ignore_ascii_case("DATE") =>
            {
                self.next += 1;
                let Some(Tok::Str(text)) = self.peek().map(|t| t.tok.clone()) else {
                    return Err(self.expected(&format!("a quoted value after {w}")));
                };
                let at = self.peek().map_or(token.start, |t| t.start);
                let value = if w.eq_ignore_ascii_case("DATE") {
                    date(&text).map(Lit::DateValue)
                } else {
                    timestamp(&text).map(Lit::TimestampValue)
                };
                value.ok_or_else(|| {
                    self.error_at(
                        at,
                        format!(
                            "'{text}' is not a {}",
                            if w.eq_ignore_ascii_case("DATE") {
                                "date (YYYY-MM-DD)"
                            } else {
                                "timestamp (YYYY-MM-DD[ HH:MM:SS[.fff]], UTC)"
                            }
                        ),
                    )
                })?
            }
            _ => {
                return Err(self.expected(
                    "a value (number, 'string', TRUE, FALSE, TIMESTAMP '…' or DATE '…')",
                ));
            }
        };
        self.next += 1;
        Ok(proto::Literal { value: Some(value) })
    }
}

fn is_reserved(word: &str) -> bool {
    [
        "AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN", "LIKE", "TRUE", "FALSE",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(word))
}

fn number(text: &str) -> Option<Lit> {
    let integral = !text.contains(['.', 'e', 'E']);
    if integral {
        if let Ok(v) = text.parse::<i64>() {
            return Some(Lit::IntValue(v));
        }
        if let Ok(v) = text.trim_start_matches('+').parse::<u64>() {
            return Some(Lit::UintValue(v));
        }
    }
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(Lit::FloatValue)
}

fn date(text: &str) -> Option<i32> {
    let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((day - epoch).num_days()).ok()
}

fn timestamp(text: &str) -> Option<prost_types::Timestamp> {
    let text = text.trim().trim_end_matches('Z');
    let parsed = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?
        .and_utc();
    Some(prost_types::Timestamp {
        seconds: parsed.timestamp(),
        nanos: i32::try_from(parsed.timestamp_subsec_nanos()).ok()?,
    })
}

fn filter(kind: Kind) -> proto::Filter {
    proto::Filter { kind: Some(kind) }
}

fn not(inner: proto::Filter) -> proto::Filter {
    filter(Kind::Not(Box::new(inner)))
}

fn combine(mut parts: Vec<proto::Filter>, list: fn(FilterList) -> Kind) -> proto::Filter {
    if parts.len() == 1
        && let Some(only) = parts.pop()
    {
        return only;
    }
    filter(list(FilterList { filters: parts }))
}

#[cfg(test)]
mod tests;
