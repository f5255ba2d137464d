//! TopN: per (group, bucket) the count, sum, min and max of the value; merged by adding
//! counts and sums and keeping the least and greatest, then ranked as the one-pass query
//! ranks (value, then group values).

use std::sync::Arc;

use arrow::{
    array::{Float64Array, RecordBatch},
    datatypes::Schema,
};

use super::{Incremental, StatePlan, bucket_of, merge};
use crate::{
    analytics::{
        self, AnalyticsError,
        columns::{Columns, invalid},
        decode::Rows,
        top_n::MAX_N,
    },
    engine::quote_ident,
    proto,
};

/// Count, sum, least and greatest of a group's values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Summary {
    pub(crate) count: u64,
    pub(crate) sum: Option<f64>,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
}

impl Summary {
    /// Both as one.
    pub(crate) fn merge(self, other: Self) -> Self {
        let pick = |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        Self {
            count: self.count + other.count,
            sum: pick(self.sum, other.sum, |a, b| a + b),
            min: pick(self.min, other.min, sql_min),
            max: pick(self.max, other.max, sql_max),
        }
    }

    /// The value of `function` (NULL over no values, as SQL's aggregates).
    pub(crate) fn value(&self, function: &str) -> Option<f64> {
        match function {
            "count" => Some(self.count as f64),
            "sum" => self.sum,
            "avg" => self
                .sum
                .filter(|_| self.count > 0)
                .map(|s| s / self.count as f64),
            "min" => self.min,
            "max" => self.max,
            _ => None,
        }
    }
}

/// SQL's min of doubles: NaN above every number.
fn sql_min(a: f64, b: f64) -> f64 {
    if a.is_nan() {
        b
    } else if b.is_nan() {
        a
    } else {
        a.min(b)
    }
}

/// SQL's max of doubles: NaN above every number.
fn sql_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

impl Incremental for proto::TopNRequest {
    fn time_column(&self) -> Option<&str> {
        None
    }

    fn state_plan(
        &self,
        schema: &Schema,
        time_column: &str,
        bucket: i64,
    ) -> Result<Option<StatePlan>, AnalyticsError> {
        if self.n == 0 || self.n > MAX_N {
            return Err(invalid(format!("n must be in 1..={MAX_N}, got {}", self.n)));
        }
        let function = self.function.to_ascii_lowercase();
        if !["count", "sum", "avg", "min", "max"].contains(&function.as_str()) {
            return Err(invalid(format!(
                "function `{function}` is not one of count, sum, avg, min, max"
            )));
        }
        let mut columns = Columns::new(schema);
        let groups = columns.groups(&self.group_by)?;
        let time = columns.time("filter", time_column)?;
        let summary = if function == "count" && self.value_column.is_empty() {
            "count(*) AS __c, NULL::DOUBLE AS __s, NULL::DOUBLE AS __min, NULL::DOUBLE AS __max"
                .to_owned()
        } else {
            columns.numeric("value_column", &self.value_column)?;
            let v = quote_ident(&self.value_column);
            format!(
                "count({v}) AS __c, CAST(sum({v}) AS DOUBLE) AS __s, \
                 CAST(min({v}) AS DOUBLE) AS __min, CAST(max({v}) AS DOUBLE) AS __max"
            )
        };
        let sql = format!(
            "SELECT {g_raw}{g_text}{bucket_of} AS __k, count(*) AS __rows, {summary} \
             FROM (SELECT *, {time} AS __tu FROM t) GROUP BY {g}__k",
            g_raw = groups.select_raw(),
            g_text = groups.select_text(),
            g = groups.list_comma(),
            bucket_of = bucket_of(bucket),
        );
        Ok(Some(StatePlan::new(bucket, 1, columns, sql)))
    }

    fn finish(&self, states: &[RecordBatch]) -> Result<Self::Response, AnalyticsError> {
        let groups = self.group_by.len();
        let columns = |rows: &Rows<'_>| {
            Ok((
                rows.i64("__c")?,
                rows.f64("__s")?,
                rows.f64("__min")?,
                rows.f64("__max")?,
            ))
        };
        let merged = merge::by_group(
            states,
            groups,
            columns,
            |acc: &mut Summary, (count, sum, min, max), row| {
                let summary = Summary {
                    count: count.count(row),
                    sum: sum.get(row),
                    min: min.get(row),
                    max: max.get(row),
                };
                *acc = acc.merge(summary);
                Ok(())
            },
        )?;
        let function = self.function.to_ascii_lowercase();
        let texts: Vec<&[Option<String>]> = merged.iter().map(|m| m.text.as_slice()).collect();
        let values: Float64Array = merged.iter().map(|m| m.state.value(&function)).collect();
        let batch = merge::text_batch(groups, &texts, vec![("__v", Arc::new(values))])?;
        analytics::top_n::decode(&[batch], self)
    }

    fn answer_rows(response: &Self::Response) -> usize {
        response.rows.len()
    }
}
