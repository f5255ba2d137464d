//! Reading the engine's result batches: typed columns by name and group values.

use std::sync::Arc;

use arrow::{
    array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch},
    compute::cast,
    datatypes::{DataType, Float64Type, Int64Type},
};

use super::AnalyticsError;
use crate::proto;

fn internal(message: String) -> AnalyticsError {
    AnalyticsError::Internal(message)
}

/// One result batch with typed access to its columns.
#[derive(Debug)]
pub(crate) struct Rows<'a> {
    batch: &'a RecordBatch,
    groups: Vec<ArrayRef>,
}

impl<'a> Rows<'a> {
    /// Wraps `batch`, whose first group columns are `__g0..__g{group_count}` (text).
    pub(crate) fn new(batch: &'a RecordBatch, group_count: usize) -> Result<Self, AnalyticsError> {
        let groups = (0..group_count)
            .map(|i| column(batch, &format!("__g{i}"), &DataType::Utf8))
            .collect::<Result<_, _>>()?;
        Ok(Self { batch, groups })
    }

    /// Rows in this batch.
    pub(crate) fn len(&self) -> usize {
        self.batch.num_rows()
    }

    /// The group of row `row`.
    pub(crate) fn group(&self, row: usize) -> proto::Group {
        let mut group = proto::Group::default();
        for array in &self.groups {
            let strings = array.as_string::<i32>();
            if strings.is_null(row) {
                group.values.push(String::new());
                group.is_null.push(true);
            } else {
                group.values.push(strings.value(row).to_owned());
                group.is_null.push(false);
            }
        }
        group
    }

    /// Whether row `row` belongs to `group` (as [`Self::group`] would build it), without
    /// building anything.
    pub(crate) fn in_group(&self, row: usize, group: &proto::Group) -> bool {
        self.groups.len() == group.values.len()
            && self.groups.len() == group.is_null.len()
            && self.groups.iter().enumerate().all(|(i, array)| {
                let strings = array.as_string::<i32>();
                if strings.is_null(row) {
                    group.is_null[i] && group.values[i].is_empty()
                } else {
                    !group.is_null[i] && strings.value(row) == group.values[i]
                }
            })
    }

    /// A column as doubles (NULL → `None`).
    pub(crate) fn f64(&self, name: &str) -> Result<F64Column, AnalyticsError> {
        let array = column(self.batch, name, &DataType::Float64)?;
        Ok(F64Column(array.as_primitive::<Float64Type>().clone()))
    }

    /// A column as 64-bit integers (NULL → `None`).
    pub(crate) fn i64(&self, name: &str) -> Result<I64Column, AnalyticsError> {
        let array = column(self.batch, name, &DataType::Int64)?;
        Ok(I64Column(array.as_primitive::<Int64Type>().clone()))
    }

    /// A list-of-doubles column.
    pub(crate) fn f64_list(&self, name: &str) -> Result<F64ListColumn, AnalyticsError> {
        let target = DataType::List(Arc::new(arrow::datatypes::Field::new_list_field(
            DataType::Float64,
            true,
        )));
        Ok(F64ListColumn(column(self.batch, name, &target)?))
    }
}

fn column(batch: &RecordBatch, name: &str, target: &DataType) -> Result<ArrayRef, AnalyticsError> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| internal(format!("result has no column `{name}`")))?;
    if array.data_type() == target {
        return Ok(Arc::clone(array));
    }
    cast(array, target).map_err(|err| internal(format!("result column `{name}`: {err}")))
}

/// A double column (downcast once: results can have a million rows).
#[derive(Debug)]
pub(crate) struct F64Column(Float64Array);

impl F64Column {
    pub(crate) fn get(&self, row: usize) -> Option<f64> {
        self.0.is_valid(row).then(|| self.0.value(row))
    }

    /// The value, NaN for NULL.
    pub(crate) fn or_nan(&self, row: usize) -> f64 {
        self.get(row).unwrap_or(f64::NAN)
    }
}

/// An integer column (downcast once).
#[derive(Debug)]
pub(crate) struct I64Column(Int64Array);

impl I64Column {
    pub(crate) fn get(&self, row: usize) -> Option<i64> {
        self.0.is_valid(row).then(|| self.0.value(row))
    }

    /// The value as a count (NULL or negative → 0).
    pub(crate) fn count(&self, row: usize) -> u64 {
        self.get(row)
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0)
    }
}

/// A list-of-doubles column.
#[derive(Debug)]
pub(crate) struct F64ListColumn(ArrayRef);

impl F64ListColumn {
    /// The list at `row` (NULL list → `None`; NULL items → NaN).
    pub(crate) fn get(&self, row: usize) -> Option<Vec<f64>> {
        let lists = self.0.as_list::<i32>();
        if lists.is_null(row) {
            return None;
        }
        let items = lists.value(row);
        let items = items.as_primitive::<Float64Type>();
        Some(
            (0..items.len())
                .map(|i| {
                    if items.is_valid(i) {
                        items.value(i)
                    } else {
                        f64::NAN
                    }
                })
                .collect(),
        )
    }
}

/// Microseconds since the Unix epoch as a protobuf timestamp.
pub(crate) fn timestamp_from_micros(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        // In 0..1e9, so the cast cannot truncate.
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::StringArray;

    use super::*;

    #[test]
    fn a_row_is_in_exactly_the_group_built_from_it() {
        let g0 = StringArray::from(vec![Some("a"), None, Some(""), Some("a"), Some("a")]);
        let g1 = StringArray::from(vec![Some("x"), Some("x"), Some("x"), None, Some("y")]);
        let batch = RecordBatch::try_from_iter_with_nullable([
            ("__g0", Arc::new(g0) as ArrayRef, true),
            ("__g1", Arc::new(g1) as ArrayRef, true),
        ])
        .unwrap();
        let rows = Rows::new(&batch, 2).unwrap();
        for row in 0..rows.len() {
            let group = rows.group(row);
            for other in 0..rows.len() {
                // Rows 1 (NULL) and 2 ("") differ in the flag only; 3 and 4 in the second value.
                assert_eq!(rows.in_group(other, &group), other == row, "{row} {other}");
            }
        }
        let no_groups = Rows::new(&batch, 0).unwrap();
        assert!(no_groups.in_group(0, &proto::Group::default()));
        assert!(!no_groups.in_group(0, &rows.group(0)));
    }
}
