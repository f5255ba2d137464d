//! Validating request columns against the table schema, and the SQL fragments built from them.

use arrow::datatypes::{DataType, Field, Schema};

use super::AnalyticsError;
use crate::engine::quote_ident;

/// Builds an [`AnalyticsError::InvalidArgument`].
pub(crate) fn invalid(message: impl Into<String>) -> AnalyticsError {
    AnalyticsError::InvalidArgument(message.into())
}

/// The columns a plan needs, collected as it validates; emitted in table order.
#[derive(Debug)]
pub(crate) struct Columns<'a> {
    schema: &'a Schema,
    used: Vec<bool>,
    /// Asked for in a role other than group-by (value, time, ...).
    as_value: Vec<bool>,
}

impl<'a> Columns<'a> {
    pub(crate) fn new(schema: &'a Schema) -> Self {
        Self {
            schema,
            used: vec![false; schema.fields().len()],
            as_value: vec![false; schema.fields().len()],
        }
    }

    /// Looks up `name` (the request field is `role`) and marks it as needed.
    pub(crate) fn field(&mut self, role: &str, name: &str) -> Result<&'a Field, AnalyticsError> {
        let (index, field) = self.lookup(role, name)?;
        self.as_value[index] = true;
        Ok(field)
    }

    fn lookup(&mut self, role: &str, name: &str) -> Result<(usize, &'a Field), AnalyticsError> {
        if name.is_empty() {
            return Err(invalid(format!("{role} is required")));
        }
        let Some((index, field)) = self
            .schema
            .fields()
            .iter()
            .enumerate()
            .find(|(_, f)| f.name() == name)
        else {
            let known: Vec<&str> = self
                .schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            return Err(invalid(format!(
                "{role}: unknown column `{name}`; the table has columns {}",
                known.join(", ")
            )));
        };
        self.used[index] = true;
        Ok((index, field.as_ref()))
    }

    /// A numeric column (ints, uints, floats, decimals).
    pub(crate) fn numeric(&mut self, role: &str, name: &str) -> Result<&'a Field, AnalyticsError> {
        let field = self.field(role, name)?;
        if is_numeric(field.data_type()) {
            Ok(field)
        } else {
            Err(invalid(format!(
                "{role}: column `{name}` has type {}, not a numeric type",
                field.data_type()
            )))
        }
    }

    /// A time column (timestamp of any unit, with or without zone, or date); returns its
    /// microseconds-since-epoch expression.
    pub(crate) fn time(&mut self, role: &str, name: &str) -> Result<String, AnalyticsError> {
        let field = self.field(role, name)?;
        let q = quote_ident(name);
        match value_type(field.data_type()) {
            DataType::Timestamp(_, _) => Ok(format!("epoch_us({q})")),
            DataType::Date32 | DataType::Date64 => Ok(format!("epoch_us(CAST({q} AS TIMESTAMP))")),
            other => Err(invalid(format!(
                "{role}: column `{name}` has type {other}, not a timestamp or date"
            ))),
        }
    }

    /// The group-by columns, validated.
    pub(crate) fn groups(&mut self, group_by: &[String]) -> Result<Groups, AnalyticsError> {
        let mut all_text = true;
        for name in group_by {
            let (_, field) = self.lookup("group_by", name)?;
            all_text &= super::group_codes::is_codable(field.data_type());
        }
        Ok(Groups {
            quoted: group_by.iter().map(|name| quote_ident(name)).collect(),
            codable: if all_text {
                group_by.to_vec()
            } else {
                Vec::new()
            },
        })
    }

    /// For [`AnalyticPlan::narrowable_groups`](super::AnalyticPlan): integer columns asked
    /// for only as group-by columns, in table order.
    pub(crate) fn group_only(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .enumerate()
            .filter(|&(i, f)| {
                self.used[i] && !self.as_value[i] && value_type(f.data_type()).is_integer()
            })
            .map(|(_, f)| f.name().clone())
            .collect()
    }

    /// The needed columns in table order.
    pub(crate) fn into_names(self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .zip(self.used)
            .filter(|(_, used)| *used)
            .map(|(f, _)| f.name().clone())
            .collect()
    }
}

fn value_type(data_type: &DataType) -> &DataType {
    match data_type {
        DataType::Dictionary(_, values) => value_type(values),
        other => other,
    }
}

/// Ints, uints, floats and decimals (also behind a dictionary).
pub(crate) fn is_numeric(data_type: &DataType) -> bool {
    let data_type = value_type(data_type);
    data_type.is_integer() || data_type.is_floating() || data_type.is_decimal()
}

/// The group-by columns of a request, quoted.
#[derive(Debug, Clone)]
pub(crate) struct Groups {
    quoted: Vec<String>,
    /// The group columns when every one is a string column, else none.
    codable: Vec<String>,
}

impl Groups {
    /// The group columns for [`AnalyticPlan::codable_groups`](super::AnalyticPlan): all of
    /// them when they are all string columns, else none (codes come back in code order, and a
    /// result ordered by a coded and an uncoded column could not be put in string order).
    pub(crate) fn codable(&self) -> Vec<String> {
        self.codable.clone()
    }

    /// True without group-by columns.
    pub(crate) fn is_empty(&self) -> bool {
        self.quoted.is_empty()
    }

    /// `"a", "b"` — the raw columns (for inner selects, GROUP BY, PARTITION BY, ORDER BY).
    pub(crate) fn list(&self) -> String {
        self.quoted.join(", ")
    }

    /// `"a", "b", ` — the raw columns followed by a comma, or nothing.
    pub(crate) fn list_comma(&self) -> String {
        self.quoted.iter().map(|q| format!("{q}, ")).collect()
    }

    /// `CAST("a" AS VARCHAR) AS __g0, ... , ` — the group values as text, or nothing.
    pub(crate) fn select_text(&self) -> String {
        self.quoted
            .iter()
            .enumerate()
            .map(|(i, q)| format!("CAST({q} AS VARCHAR) AS __g{i}, "))
            .collect()
    }

    /// `"a" AS __r0, ... , ` — the group values as they are (their type's order), or nothing.
    pub(crate) fn select_raw(&self) -> String {
        self.quoted
            .iter()
            .enumerate()
            .map(|(i, q)| format!("{q} AS __r{i}, "))
            .collect()
    }

    /// `l."a" IS NOT DISTINCT FROM r."a" AND …` — rows of `left` and `right` in the same
    /// group (NULL matching NULL), or `true` without group columns.
    pub(crate) fn same_group(&self, left: &str, right: &str) -> String {
        if self.is_empty() {
            return "true".to_owned();
        }
        self.quoted
            .iter()
            .map(|q| format!("{left}.{q} IS NOT DISTINCT FROM {right}.{q}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// ` GROUP BY "a", "b"` or nothing.
    pub(crate) fn group_by(&self) -> String {
        if self.is_empty() {
            String::new()
        } else {
            format!(" GROUP BY {}", self.list())
        }
    }

    /// `PARTITION BY "a", "b"` or nothing.
    pub(crate) fn partition_by(&self) -> String {
        if self.is_empty() {
            String::new()
        } else {
            format!("PARTITION BY {}", self.list())
        }
    }

    /// ` ORDER BY "a" ASC NULLS FIRST, ..., {then}`, or nothing if there is nothing to order by.
    pub(crate) fn order_by(&self, then: &str) -> String {
        let mut parts = self.order_terms();
        if !then.is_empty() {
            parts.push(then.to_owned());
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", parts.join(", "))
        }
    }

    /// `"a" ASC NULLS FIRST`, ... — one ORDER BY term per group column.
    pub(crate) fn order_terms(&self) -> Vec<String> {
        self.quoted
            .iter()
            .map(|q| format!("{q} ASC NULLS FIRST"))
            .collect()
    }

    /// How many there are.
    pub(crate) fn len(&self) -> usize {
        self.quoted.len()
    }
}

/// A positive `google.protobuf.Duration` in microseconds.
pub(crate) fn duration_micros(
    role: &str,
    duration: &prost_types::Duration,
) -> Result<i64, AnalyticsError> {
    let micros = i128::from(duration.seconds) * 1_000_000 + i128::from(duration.nanos) / 1_000;
    if micros <= 0 {
        return Err(invalid(format!(
            "{role} must be positive (at least 1 microsecond), got {}s {}ns",
            duration.seconds, duration.nanos
        )));
    }
    i64::try_from(micros).map_err(|_| invalid(format!("{role} is too large")))
}

/// A finite double as an SQL literal (typed-encoded, never user text).
pub(crate) fn double_literal(value: f64) -> String {
    // `{:?}` prints a round-trippable decimal or exponent form, e.g. 0.25, 1e-7.
    format!("CAST({value:?} AS DOUBLE)")
}
