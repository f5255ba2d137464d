//! How many rows a filter keeps, estimated from the statistics the backend trusts: the rows in
//! the row groups it could not prune, times the share of each integer column's value range
//! the filter admits (values assumed uniform within the Parquet min/max).

use std::collections::BTreeMap;

use arrow::{
    array::{Array, AsArray},
    datatypes::{DataType, Int64Type},
};

use super::ReadSpec;
use crate::predicate::{CompareOp, Predicate, Value};

/// Rows a scan is expected to yield, and how that was worked out.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Expected matching rows.
    pub rows: u64,
    /// How the number was made.
    pub reason: String,
}

impl Estimate {
    pub(super) fn of(spec: &ReadSpec) -> Self {
        let to_scan = spec.filter.rows_kept;
        let Some(predicate) = &spec.predicate else {
            return Self {
                rows: to_scan,
                reason: "no filter: every row".to_owned(),
            };
        };
        let mut used = Vec::new();
        match selectivity(predicate, &spec.meta.int_ranges, &mut used) {
            Some(share) => {
                used.dedup();
                Self {
                    rows: (to_scan as f64 * share).round() as u64,
                    reason: format!(
                        "{:.3}% of the {to_scan} rows to scan, assuming values uniform within \
                         the min/max statistics of {}",
                        share * 100.0,
                        used.join(", ")
                    ),
                }
            }
            None => Self {
                rows: to_scan,
                reason: format!(
                    "at most the {to_scan} rows to scan: no statistics bound the filter's columns"
                ),
            },
        }
    }
}

/// The share of rows `p` keeps, where the statistics of its columns tell.
fn selectivity<'a>(
    p: &'a Predicate,
    ranges: &BTreeMap<String, (i64, i64)>,
    used: &mut Vec<&'a str>,
) -> Option<f64> {
    match p {
        // Conjuncts the statistics say nothing about keep everything, as far as we know.
        Predicate::And(children) => children
            .iter()
            .filter_map(|c| selectivity(c, ranges, used))
            .reduce(|a, b| a * b),
        Predicate::Or(children) => {
            let mut sum = 0.0;
            for child in children {
                sum += selectivity(child, ranges, used)?;
            }
            Some(sum.min(1.0))
        }
        Predicate::Not(child) => selectivity(child, ranges, used).map(|s| 1.0 - s),
        Predicate::Compare { column, op, value } => {
            let (range, v) = (Range::of(column, ranges)?, int(value)?);
            used.push(column);
            Some(match op {
                CompareOp::Eq => range.share(v, v),
                CompareOp::Ne => 1.0 - range.share(v, v),
                CompareOp::Lt => range.share(i64::MIN, v.saturating_sub(1)),
                CompareOp::Le => range.share(i64::MIN, v),
                CompareOp::Gt => range.share(v.saturating_add(1), i64::MAX),
                CompareOp::Ge => range.share(v, i64::MAX),
            })
        }
        Predicate::Between { column, low, high } => {
            let (range, low, high) = (Range::of(column, ranges)?, int(low)?, int(high)?);
            used.push(column);
            Some(range.share(low, high))
        }
        Predicate::In { column, values } => {
            let range = Range::of(column, ranges)?;
            let mut share = 0.0;
            for value in values {
                let v = int(value)?;
                share += range.share(v, v);
            }
            used.push(column);
            Some(share.min(1.0))
        }
        Predicate::IsNull(_)
        | Predicate::IsNotNull(_)
        | Predicate::StartsWith { .. }
        | Predicate::Contains { .. } => None,
    }
}

/// Every value of a column lies in `min..=max`.
struct Range {
    min: i64,
    max: i64,
}

impl Range {
    fn of(column: &str, ranges: &BTreeMap<String, (i64, i64)>) -> Option<Self> {
        let &(min, max) = ranges.get(column)?;
        (min <= max).then_some(Self { min, max })
    }

    /// The share of the range's integers inside `low..=high`.
    fn share(&self, low: i64, high: i64) -> f64 {
        let (low, high) = (low.max(self.min), high.min(self.max));
        if low > high {
            return 0.0;
        }
        let width = (i128::from(self.max) - i128::from(self.min) + 1) as f64;
        ((i128::from(high) - i128::from(low) + 1) as f64 / width).clamp(0.0, 1.0)
    }
}

/// An integer literal's value (literals have their column's type).
fn int(value: &Value) -> Option<i64> {
    let cast = arrow::compute::cast(&value.0, &DataType::Int64).ok()?;
    let ints = cast.as_primitive::<Int64Type>();
    (ints.len() == 1 && !ints.is_null(0)).then(|| ints.value(0))
}
