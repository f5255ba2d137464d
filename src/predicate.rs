//! The filter tree: built from the proto `Filter`, validated against a table schema, evaluated
//! exactly on Arrow batches with SQL NULL semantics (Kleene logic; NULL rows do not match).
//!
//! Literals are converted to one-element Arrow arrays of the column's own type at validation
//! time, so evaluation compares like with like and a literal that does not fit the column (an
//! out-of-range integer, a string for a number) is refused up front.

mod display;
mod eval;
mod literal;

use std::fmt;

use arrow::{array::ArrayRef, datatypes::Schema};

use crate::proto;

pub use eval::evaluate;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The SQL spelling.
    pub fn sql(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "<>",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// A literal already converted to its column's Arrow type: a one-element array.
#[derive(Clone)]
pub struct Value(pub ArrayRef);

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = arrow::util::display::array_value_to_string(&self.0, 0)
            .unwrap_or_else(|_| "?".to_owned());
        write!(f, "{text}")
    }
}

/// A validated filter. Column names are exact names of the table schema.
#[derive(Debug, Clone)]
pub enum Predicate {
    /// All children true.
    And(Vec<Predicate>),
    /// Any child true.
    Or(Vec<Predicate>),
    /// Child false (NULL stays NULL).
    Not(Box<Predicate>),
    /// `column op value`.
    Compare {
        /// Column name.
        column: String,
        /// Operator.
        op: CompareOp,
        /// Literal.
        value: Value,
    },
    /// `column IN (values)`.
    In {
        /// Column name.
        column: String,
        /// Literals (at least one).
        values: Vec<Value>,
    },
    /// `column BETWEEN low AND high` (inclusive).
    Between {
        /// Column name.
        column: String,
        /// Lower bound.
        low: Value,
        /// Upper bound.
        high: Value,
    },
    /// `column IS NULL`.
    IsNull(String),
    /// `column IS NOT NULL`.
    IsNotNull(String),
    /// `column LIKE 'pattern%'` (the pattern is literal text, no wildcards).
    StartsWith {
        /// Column name.
        column: String,
        /// Prefix.
        pattern: String,
    },
    /// `column LIKE '%pattern%'` (literal text).
    Contains {
        /// Column name.
        column: String,
        /// Substring.
        pattern: String,
    },
}

/// A filter that does not fit the table. The message names the column or node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter at {path}: {message}")]
pub struct PredicateError {
    /// Where in the tree, e.g. `filter.and[1].compare`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Predicate {
    /// Converts and validates a proto filter against `schema`. `None` (no filter) stays `None`.
    pub fn from_proto(
        filter: Option<&proto::Filter>,
        schema: &Schema,
    ) -> Result<Option<Predicate>, PredicateError> {
        filter
            .map(|f| Builder { schema }.build(f, "filter"))
            .transpose()
    }

    /// The top-level conjuncts: the children of nested ANDs, or the filter itself.
    pub fn conjuncts(&self) -> Vec<&Predicate> {
        let mut out = Vec::new();
        fn walk<'a>(p: &'a Predicate, out: &mut Vec<&'a Predicate>) {
            match p {
                Predicate::And(children) => children.iter().for_each(|c| walk(c, out)),
                other => out.push(other),
            }
        }
        walk(self, &mut out);
        out
    }

    /// Every column the filter reads, without duplicates, in first-use order.
    pub fn columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.visit_columns(&mut |c| {
            if !out.contains(&c) {
                out.push(c);
            }
        });
        out
    }

    fn visit_columns<'a>(&'a self, f: &mut impl FnMut(&'a str)) {
        match self {
            Predicate::And(children) | Predicate::Or(children) => {
                children.iter().for_each(|c| c.visit_columns(f))
            }
            Predicate::Not(child) => child.visit_columns(f),
            Predicate::Compare { column, .. }
            | Predicate::In { column, .. }
            | Predicate::Between { column, .. }
            | Predicate::IsNull(column)
            | Predicate::IsNotNull(column)
            | Predicate::StartsWith { column, .. }
            | Predicate::Contains { column, .. } => f(column),
        }
    }
}

struct Builder<'a> {
    schema: &'a Schema,
}

impl Builder<'_> {
    fn build(&self, filter: &proto::Filter, path: &str) -> Result<Predicate, PredicateError> {
        use proto::filter::Kind;
        let err = |path: String, message: String| PredicateError { path, message };
        let Some(kind) = &filter.kind else {
            return Err(err(
                path.to_owned(),
                "empty filter node: set one of compare, in, between, is_null, is_not_null, \
                 starts_with, contains, and, or, not"
                    .to_owned(),
            ));
        };
        Ok(match kind {
            Kind::And(list) | Kind::Or(list) => {
                let is_and = matches!(kind, Kind::And(_));
                let name = if is_and { "and" } else { "or" };
                if list.filters.is_empty() {
                    return Err(err(
                        format!("{path}.{name}"),
                        format!("`{name}` needs at least one child filter"),
                    ));
                }
                let children = list
                    .filters
                    .iter()
                    .enumerate()
                    .map(|(i, f)| self.build(f, &format!("{path}.{name}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                if is_and {
                    Predicate::And(children)
                } else {
                    Predicate::Or(children)
                }
            }
            Kind::Not(child) => {
                Predicate::Not(Box::new(self.build(child, &format!("{path}.not"))?))
            }
            Kind::Compare(cmp) => {
                let path = format!("{path}.compare");
                let column = self.column(&cmp.column, &path)?;
                let op = match proto::CompareOp::try_from(cmp.op) {
                    Ok(proto::CompareOp::Eq) => CompareOp::Eq,
                    Ok(proto::CompareOp::Ne) => CompareOp::Ne,
                    Ok(proto::CompareOp::Lt) => CompareOp::Lt,
                    Ok(proto::CompareOp::Le) => CompareOp::Le,
                    Ok(proto::CompareOp::Gt) => CompareOp::Gt,
                    Ok(proto::CompareOp::Ge) => CompareOp::Ge,
                    Ok(proto::CompareOp::Unspecified) | Err(_) => {
                        return Err(err(
                            path,
                            format!(
                                "comparison on column `{column}` needs an op (EQ NE LT LE GT GE)"
                            ),
                        ));
                    }
                };
                let value = self.literal(&column, cmp.value.as_ref(), &path)?;
                Predicate::Compare { column, op, value }
            }
            Kind::In(list) => {
                let path = format!("{path}.in");
                let column = self.column(&list.column, &path)?;
                if list.values.is_empty() {
                    return Err(err(
                        path,
                        format!("`in` on column `{column}` needs at least one value"),
                    ));
                }
                let values = list
                    .values
                    .iter()
                    .map(|v| self.literal(&column, Some(v), &path))
                    .collect::<Result<_, _>>()?;
                Predicate::In { column, values }
            }
            Kind::Between(between) => {
                let path = format!("{path}.between");
                let column = self.column(&between.column, &path)?;
                let low = self.literal(&column, between.low.as_ref(), &path)?;
                let high = self.literal(&column, between.high.as_ref(), &path)?;
                Predicate::Between { column, low, high }
            }
            Kind::IsNull(c) => {
                Predicate::IsNull(self.column(&c.column, &format!("{path}.is_null"))?)
            }
            Kind::IsNotNull(c) => {
                Predicate::IsNotNull(self.column(&c.column, &format!("{path}.is_not_null"))?)
            }
            Kind::StartsWith(m) => {
                let column = self.string_column(&m.column, &format!("{path}.starts_with"))?;
                Predicate::StartsWith {
                    column,
                    pattern: m.pattern.clone(),
                }
            }
            Kind::Contains(m) => {
                let column = self.string_column(&m.column, &format!("{path}.contains"))?;
                Predicate::Contains {
                    column,
                    pattern: m.pattern.clone(),
                }
            }
        })
    }

    fn column(&self, name: &str, path: &str) -> Result<String, PredicateError> {
        if name.is_empty() {
            return Err(PredicateError {
                path: path.to_owned(),
                message: "column name is empty".to_owned(),
            });
        }
        match self.schema.field_with_name(name) {
            Ok(field) => Ok(field.name().clone()),
            Err(_) => Err(PredicateError {
                path: path.to_owned(),
                message: format!(
                    "unknown column `{name}`; the table has: {}",
                    column_list(self.schema)
                ),
            }),
        }
    }

    fn string_column(&self, name: &str, path: &str) -> Result<String, PredicateError> {
        let column = self.column(name, path)?;
        let data_type = self.schema.field_with_name(&column).map(|f| f.data_type());
        if !matches!(data_type, Ok(dt) if literal::is_string(dt)) {
            return Err(PredicateError {
                path: path.to_owned(),
                message: format!(
                    "column `{column}` is {}, string matching needs a string column",
                    data_type.map(|t| t.to_string()).unwrap_or_default()
                ),
            });
        }
        Ok(column)
    }

    fn literal(
        &self,
        column: &str,
        literal: Option<&proto::Literal>,
        path: &str,
    ) -> Result<Value, PredicateError> {
        let field = self
            .schema
            .field_with_name(column)
            .map_err(|e| PredicateError {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        literal::convert(literal, field).map_err(|message| PredicateError {
            path: path.to_owned(),
            message,
        })
    }
}

fn column_list(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
