//! A filter written back as SQL, for `Explain` and logs: `sensor_id < 5 AND region IN ('eu')`.

use std::fmt;

use arrow::{array::Array, datatypes::DataType, util::display::array_value_to_string};

use super::{Predicate, Value};

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::And(children) => list(f, children, " AND "),
            Predicate::Or(children) => list(f, children, " OR "),
            Predicate::Not(child) => write!(f, "NOT ({child})"),
            Predicate::Compare { column, op, value } => {
                write!(f, "{} {} {}", Ident(column), op.sql(), Literal(value))
            }
            Predicate::In { column, values } => {
                write!(f, "{} IN (", Ident(column))?;
                for (i, value) in values.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{}", Literal(value))?;
                }
                f.write_str(")")
            }
            Predicate::Between { column, low, high } => write!(
                f,
                "{} BETWEEN {} AND {}",
                Ident(column),
                Literal(low),
                Literal(high)
            ),
            Predicate::IsNull(column) => write!(f, "{} IS NULL", Ident(column)),
            Predicate::IsNotNull(column) => write!(f, "{} IS NOT NULL", Ident(column)),
            Predicate::StartsWith { column, pattern } => {
                write!(
                    f,
                    "{} LIKE {}",
                    Ident(column),
                    quoted(&format!("{pattern}%"))
                )
            }
            Predicate::Contains { column, pattern } => {
                write!(
                    f,
                    "{} LIKE {}",
                    Ident(column),
                    quoted(&format!("%{pattern}%"))
                )
            }
        }
    }
}

/// Children joined by `sep`; an OR inside an AND keeps its parentheses.
fn list(f: &mut fmt::Formatter<'_>, children: &[Predicate], sep: &str) -> fmt::Result {
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        match child {
            Predicate::And(_) | Predicate::Or(_) => write!(f, "({child})")?,
            _ => write!(f, "{child}")?,
        }
    }
    Ok(())
}

/// A column name, double-quoted unless it is a plain lower-case identifier.
struct Ident<'a>(&'a str);

impl fmt::Display for Ident<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self
            .0
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && self
                .0
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if plain {
            f.write_str(self.0)
        } else {
            write!(f, "\"{}\"", self.0.replace('"', "\"\""))
        }
    }
}

/// A literal as SQL of its column's type.
struct Literal<'a>(&'a Value);

impl fmt::Display for Literal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let array = &self.0.0;
        if array.is_empty() || array.is_null(0) {
            return f.write_str("NULL");
        }
        let text = array_value_to_string(array, 0).map_err(|_| fmt::Error)?;
        match array.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                f.write_str(&quoted(&text))
            }
            DataType::Timestamp(..) => write!(f, "TIMESTAMP {}", quoted(&text)),
            DataType::Date32 | DataType::Date64 => write!(f, "DATE {}", quoted(&text)),
            _ => f.write_str(&text),
        }
    }
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
