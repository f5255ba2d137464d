//! The WHERE conjuncts that hold for a table's rows, as our filter tree, where they map
//! exactly: a column of the table compared with a literal or a bound parameter of a type
//! whose comparison means the same in DuckDB and in [`Predicate`]. A conjunct that does not
//! map is simply not pushed: DuckDB evaluates the whole WHERE again over the rows, so the
//! result never depends on what was pushed.

use arrow::datatypes::{DataType, Schema, TimeUnit};
use serde_json::Value;

use super::{TableUse, ast};
use crate::{
    predicate::Predicate,
    proto::{self, filter::Kind, literal::Value as Lit},
};

/// The filter to push into `table`'s scan, given the statement's bound `params` (a NULL is
/// an unset literal), or `None`.
pub fn pushed_filter(
    table: &TableUse,
    schema: &Schema,
    params: &[proto::Literal],
) -> Option<proto::Filter> {
    let mapper = Mapper {
        table,
        schema,
        params,
    };
    let mut pushed: Vec<proto::Filter> = table
        .conjuncts()
        .iter()
        .filter_map(|c| mapper.filter(c))
        // Each one alone must be valid against the table: one that is not is left out.
        .filter(|f| Predicate::from_proto(Some(f), schema).is_ok())
        .collect();
    match pushed.len() {
        0 => None,
        1 => pushed.pop(),
        _ => Some(kind(Kind::And(proto::FilterList { filters: pushed }))),
    }
}

/// Whether every WHERE conjunct of `table` maps exactly (given the bound `params`), so that
/// the pushed filter alone — which the backend evaluates exactly — is the whole WHERE.
pub fn pushes_whole_where(table: &TableUse, schema: &Schema, params: &[proto::Literal]) -> bool {
    let mapper = Mapper {
        table,
        schema,
        params,
    };
    table.conjuncts().iter().all(|c| {
        mapper
            .filter(c)
            .is_some_and(|f| Predicate::from_proto(Some(&f), schema).is_ok())
    })
}

fn kind(kind: Kind) -> proto::Filter {
    proto::Filter { kind: Some(kind) }
}

struct Mapper<'a> {
    table: &'a TableUse,
    schema: &'a Schema,
    params: &'a [proto::Literal],
}

impl Mapper<'_> {
    fn filter(&self, expr: &Value) -> Option<proto::Filter> {
        let children = || {
            expr.get("children")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
        };
        match ast::kind(expr) {
            "CONJUNCTION_AND" | "CONJUNCTION_OR" => {
                let filters = children()
                    .iter()
                    .map(|c| self.filter(c))
                    .collect::<Option<Vec<_>>>()?;
                let list = proto::FilterList { filters };
                Some(kind(if ast::kind(expr) == "CONJUNCTION_AND" {
                    Kind::And(list)
                } else {
                    Kind::Or(list)
                }))
            }
            "OPERATOR_NOT" => match children() {
                [child] => Some(kind(Kind::Not(Box::new(self.filter(child)?)))),
                _ => None,
            },
            "OPERATOR_IS_NULL" | "OPERATOR_IS_NOT_NULL" => {
                let [child] = children() else { return None };
                let column = proto::ColumnRef {
                    column: self.column(child)?.0,
                };
                Some(kind(if ast::kind(expr) == "OPERATOR_IS_NULL" {
                    Kind::IsNull(column)
                } else {
                    Kind::IsNotNull(column)
                }))
            }
            "COMPARE_IN" => {
                let (first, rest) = children().split_first()?;
                let (column, data_type) = self.column(first)?;
                let values = rest
                    .iter()
                    .map(|v| self.literal(v, &data_type))
                    .collect::<Option<Vec<_>>>()?;
                Some(kind(Kind::In(proto::InList { column, values })))
            }
            "COMPARE_BETWEEN" => {
                let (column, data_type) = self.column(expr.get("input")?)?;
                let low = self.literal(expr.get("lower")?, &data_type)?;
                let high = self.literal(expr.get("upper")?, &data_type)?;
                Some(kind(Kind::Between(proto::Between {
                    column,
                    low: Some(low),
                    high: Some(high),
                })))
            }
            "FUNCTION" if ast::text(expr, "function_name") == "~~" => self.like(expr),
            op if ast::class(expr) == "COMPARISON" => {
                let (left, right) = (expr.get("left")?, expr.get("right")?);
                let (column, value, flipped) = match self.column(left) {
                    Some(column) => (column, right, false),
                    None => (self.column(right)?, left, true),
                };
                let op = compare_op(op, flipped)?;
                let value = self.literal(value, &column.1)?;
                Some(kind(Kind::Compare(proto::Comparison {
                    column: column.0,
                    op: op.into(),
                    value: Some(value),
                })))
            }
            _ => None,
        }
    }

    /// `column LIKE 'prefix%'` as starts_with, `LIKE '%part%'` as contains.
    fn like(&self, expr: &Value) -> Option<proto::Filter> {
        let args: Vec<&Value> = expr
            .get("arguments")?
            .as_array()?
            .iter()
            .filter_map(|a| a.get("expression"))
            .collect();
        let [column, pattern] = args.as_slice() else {
            return None;
        };
        let (column, data_type) = self.column(column)?;
        if !is_string(&data_type) {
            return None;
        }
        let Some(Lit::StringValue(pattern)) = self.literal(pattern, &data_type)?.value else {
            return None;
        };
        // A backslash may be an escape: such patterns are left to DuckDB.
        let wild = |s: &str| s.contains(['%', '_', '\\']);
        if let Some(part) = pattern
            .strip_prefix('%')
            .and_then(|p| p.strip_suffix('%'))
            .filter(|p| !wild(p))
        {
            let m = proto::StringMatch {
                column,
                pattern: part.to_owned(),
            };
            return Some(kind(Kind::Contains(m)));
        }
        let prefix = pattern.strip_suffix('%').filter(|p| !wild(p))?;
        Some(kind(Kind::StartsWith(proto::StringMatch {
            column,
            pattern: prefix.to_owned(),
        })))
    }

    /// A reference to a column of this table: its exact name and type.
    fn column(&self, expr: &Value) -> Option<(String, DataType)> {
        if ast::class(expr) != "COLUMN_REF" {
            return None;
        }
        let name = match ast::column_names(expr).as_slice() {
            [name] if !self.table.qualified_only() => *name,
            [qualifier, name] if qualifier.eq_ignore_ascii_case(self.table.alias()) => *name,
            _ => return None,
        };
        let field = self
            .schema
            .fields()
            .iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))?;
        Some((field.name().clone(), field.data_type().clone()))
    }

    /// A constant or bound parameter compared with a column of type `column`, where the
    /// comparison means the same in DuckDB and in our filter.
    fn literal(&self, expr: &Value, column: &DataType) -> Option<proto::Literal> {
        let value = match ast::class(expr) {
            "PARAMETER" => {
                let index = ast::text(expr, "identifier").parse::<usize>().ok()?;
                self.params.get(index.checked_sub(1)?)?.value.clone()?
            }
            "CONSTANT" => constant(expr.get("literal")?)?,
            "CAST" => {
                let type_name = expr.get("type_expr").map(|t| ast::text(t, "type_name"))?;
                let child = expr.get("child")?;
                let literal = child
                    .get("literal")
                    .filter(|_| ast::class(child) == "CONSTANT")?;
                if ast::text(literal, "kind") != "STRING" {
                    return None;
                }
                typed_string(&type_name.to_ascii_uppercase(), ast::text(literal, "text"))?
            }
            _ => return None,
        };
        fits(&value, column).then_some(proto::Literal { value: Some(value) })
    }
}

fn compare_op(op: &str, flipped: bool) -> Option<proto::CompareOp> {
    use proto::CompareOp::*;
    let op = match op {
        "COMPARE_EQUAL" => Eq,
        "COMPARE_NOTEQUAL" => Ne,
        "COMPARE_LESSTHAN" => Lt,
        "COMPARE_GREATERTHAN" => Gt,
        "COMPARE_LESSTHANOREQUALTO" => Le,
        "COMPARE_GREATERTHANOREQUALTO" => Ge,
        _ => return None,
    };
    Some(match (op, flipped) {
        (Lt, true) => Gt,
        (Gt, true) => Lt,
        (Le, true) => Ge,
        (Ge, true) => Le,
        (op, _) => op,
    })
}

/// A constant of the parse tree (`{"kind": "INTEGER", "text": "5"}`).
fn constant(literal: &Value) -> Option<Lit> {
    let text = ast::text(literal, "text");
    Some(match ast::text(literal, "kind") {
        "INTEGER" => match text.parse::<i64>() {
            Ok(v) => Lit::IntValue(v),
            Err(_) => Lit::UintValue(text.parse().ok()?),
        },
        "NUMERIC" => Lit::FloatValue(text.parse().ok()?),
        "STRING" => Lit::StringValue(text.to_owned()),
        "BOOLEAN" => Lit::BoolValue(text.eq_ignore_ascii_case("true")),
        _ => return None,
    })
}

/// `DATE '…'` and `TIMESTAMP '…'` literals.
fn typed_string(type_name: &str, text: &str) -> Option<Lit> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    match type_name {
        "DATE" => {
            let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
            Some(Lit::DateValue(
                i32::try_from((date - epoch).num_days()).ok()?,
            ))
        }
        "TIMESTAMP" => {
            let text = text.trim();
            let ts = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
                .ok()?
                .and_utc();
            Some(Lit::TimestampValue(prost_types::Timestamp {
                seconds: ts.timestamp(),
                nanos: i32::try_from(ts.timestamp_subsec_nanos()).ok()?,
            }))
        }
        _ => None,
    }
}

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) || matches!(data_type, DataType::Dictionary(_, v) if is_string(v))
}

/// Whether comparing a column of `column` type with `value` means the same in DuckDB as in
/// our filter. Kept narrow on purpose: integers with integer or double columns, floats with
/// double columns (DuckDB compares a FLOAT column with a double literal in FLOAT), strings
/// with strings, booleans, dates, time-zone-less timestamps.
fn fits(value: &Lit, column: &DataType) -> bool {
    match value {
        Lit::IntValue(_) | Lit::UintValue(_) => column.is_integer() || *column == DataType::Float64,
        Lit::FloatValue(_) => *column == DataType::Float64,
        Lit::StringValue(_) => is_string(column),
        Lit::BoolValue(_) => *column == DataType::Boolean,
        Lit::DateValue(_) => *column == DataType::Date32,
        // Microseconds at least: a literal's fraction is never truncated on the way.
        Lit::TimestampValue(_) => matches!(
            column,
            DataType::Timestamp(TimeUnit::Microsecond | TimeUnit::Nanosecond, None)
        ),
        Lit::BinaryValue(_) | Lit::DecimalValue(_) => false,
    }
}
