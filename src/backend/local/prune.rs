//! Row-group and page pruning from Parquet min/max/null-count statistics (the footer's per row
//! group, the page index's per data page), and the value range of an integer column.
//!
//! Conservative by construction: a row group or page is skipped only when its statistics prove
//! that no row can match. Anything unknown (missing statistics, string columns whose statistics may be
//! truncated, floating point columns whose statistics leave out NaN, NOT, substring matches)
//! keeps the row group; the exact filter runs on every batch afterwards anyway.

use std::sync::Arc;

use arrow::{
    array::{Array, ArrayRef, AsArray, BooleanArray, Scalar, UInt64Array},
    compute::{
        and,
        kernels::cmp,
        kernels::cmp::{gt, gt_eq, lt, lt_eq},
        or,
    },
    datatypes::{DataType, Int64Type, TimeUnit},
};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, RowSelection, statistics::StatisticsConverter,
};

use crate::predicate::{CompareOp, Predicate, Value};

/// Indexes of the row groups of one file that may hold matching rows, among `candidates`.
pub(super) fn row_groups_to_read(
    predicate: Option<&Predicate>,
    metadata: &ArrowReaderMetadata,
    candidates: &[usize],
) -> Vec<usize> {
    let Some(predicate) = predicate else {
        return candidates.to_vec();
    };
    let stats = Stats {
        metadata,
        units: Units::RowGroups,
    };
    match stats.maybe(predicate) {
        Some(mask) => candidates
            .iter()
            .copied()
            .filter(|&rg| rg < mask.len() && (mask.is_null(rg) || mask.value(rg)))
            .collect(),
        None => candidates.to_vec(),
    }
}

/// The rows of `row_group` that may hold matching rows, from the page index: whole pages are
/// skipped when their statistics prove no row matches. `None` when the page index does not
/// narrow anything down (absent, or every page may match): read the whole row group.
pub(super) fn rows_to_read(
    predicate: Option<&Predicate>,
    metadata: &ArrowReaderMetadata,
    row_group: usize,
) -> Option<RowSelection> {
    metadata.metadata().page_index()?;
    let stats = Stats {
        metadata,
        units: Units::Pages(row_group),
    };
    let mask = stats.maybe(predicate?)?;
    let rows = metadata.metadata().row_groups().get(row_group)?.num_rows();
    // A page index that disagrees with the footer's row count is not trusted.
    if mask.len() as i64 != rows || mask.null_count() > 0 || mask.true_count() == mask.len() {
        return None;
    }
    Some(RowSelection::from_filters(&[mask]))
}

/// What the statistics of one file say about the values of an integer column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IntRange {
    /// Some row group has values its statistics do not bound (or they do not fit `i64`).
    Unknown,
    /// No row group has a value (all NULL, or no rows).
    NoValues,
    /// Every value lies in `min..=max`.
    Within(i64, i64),
}

/// The range of signed integer `column`'s values in one file, from its row groups'
/// statistics. Unsigned columns are left out: files from older writers carry only the
/// deprecated min/max fields, ordered as signed, which parquet falls back to.
pub(super) fn int_range(metadata: &ArrowReaderMetadata, column: &str) -> IntRange {
    known_int_range(metadata, column).unwrap_or(IntRange::Unknown)
}

fn known_int_range(metadata: &ArrowReaderMetadata, column: &str) -> Option<IntRange> {
    let field = metadata.schema().field_with_name(column).ok()?;
    if !matches!(
        field.data_type(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
    ) {
        return None;
    }
    raw_range(metadata, column)
}

/// The range of timestamp `column`'s values in one file, in microseconds (widened to whole
/// microseconds), from its row groups' statistics.
pub(super) fn time_span(metadata: &ArrowReaderMetadata, column: &str) -> IntRange {
    let Ok(field) = metadata.schema().field_with_name(column) else {
        return IntRange::Unknown;
    };
    let DataType::Timestamp(unit, _) = field.data_type() else {
        return IntRange::Unknown;
    };
    let to_micros = |value: i64, round_up: bool| match unit {
        TimeUnit::Second => value.saturating_mul(1_000_000),
        TimeUnit::Millisecond => value.saturating_mul(1_000),
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond => {
            value.div_euclid(1_000) + i64::from(round_up && value.rem_euclid(1_000) != 0)
        }
    };
    match raw_range(metadata, column) {
        Some(IntRange::Within(lo, hi)) => {
            IntRange::Within(to_micros(lo, false), to_micros(hi, true))
        }
        Some(other) => other,
        None => IntRange::Unknown,
    }
}

/// The range of `column`'s values as `i64` (a timestamp's in its own unit).
fn raw_range(metadata: &ArrowReaderMetadata, column: &str) -> Option<IntRange> {
    let stats = Stats {
        metadata,
        units: Units::RowGroups,
    };
    let (min, max) = stats.min_max(column)?;
    let nulls = stats.null_counts(column)?;
    let rows = stats.row_group_counts();
    let min = arrow::compute::cast(&min, &DataType::Int64).ok()?;
    let max = arrow::compute::cast(&max, &DataType::Int64).ok()?;
    let (min, max) = (
        min.as_primitive::<Int64Type>(),
        max.as_primitive::<Int64Type>(),
    );
    let mut range: Option<(i64, i64)> = None;
    for group in 0..rows.len() {
        if min.is_valid(group) && max.is_valid(group) {
            let (lo, hi) = (min.value(group), max.value(group));
            if lo > hi {
                return None; // statistics that contradict themselves
            }
            range = Some(range.map_or((lo, hi), |(l, h)| (l.min(lo), h.max(hi))));
        } else if !(nulls.is_valid(group) && nulls.value(group) == rows.value(group)) {
            // Values this row group's statistics do not describe.
            return None;
        }
    }
    Some(range.map_or(IntRange::NoValues, |(lo, hi)| IntRange::Within(lo, hi)))
}

/// What one mask entry stands for.
#[derive(Debug, Clone, Copy)]
enum Units {
    /// One row group of the file (the footer's statistics).
    RowGroups,
    /// One row of this row group (the page index's statistics, spread over each page's rows,
    /// since pages of different columns start at different rows).
    Pages(usize),
}

struct Stats<'a> {
    metadata: &'a ArrowReaderMetadata,
    units: Units,
}

impl Stats<'_> {
    /// Per unit: may it hold a matching row? `None` means "don't know" for every unit.
    fn maybe(&self, predicate: &Predicate) -> Option<BooleanArray> {
        match predicate {
            Predicate::And(children) => {
                let masks: Vec<_> = children.iter().filter_map(|c| self.maybe(c)).collect();
                masks.into_iter().try_fold(None::<BooleanArray>, |acc, m| {
                    Some(Some(match acc {
                        None => m,
                        Some(prev) => and(&prev, &m).ok()?,
                    }))
                })?
            }
            Predicate::Or(children) => {
                let mut acc: Option<BooleanArray> = None;
                for child in children {
                    let mask = self.maybe(child)?;
                    acc = Some(match acc {
                        None => mask,
                        Some(prev) => or(&prev, &mask).ok()?,
                    });
                }
                acc
            }
            Predicate::Compare { column, op, value } => {
                let (min, max) = self.min_max(column)?;
                self.spread(column, compare(&min, &max, *op, value)?)
            }
            Predicate::In { column, values } => {
                let (min, max) = self.min_max(column)?;
                let mut acc: Option<BooleanArray> = None;
                for value in values {
                    let hit = compare(&min, &max, CompareOp::Eq, value)?;
                    acc = Some(match acc {
                        None => hit,
                        Some(prev) => or(&prev, &hit).ok()?,
                    });
                }
                self.spread(column, acc?)
            }
            Predicate::Between { column, low, high } => {
                let (min, max) = self.min_max(column)?;
                let low_ok = compare(&min, &max, CompareOp::Ge, low)?;
                let high_ok = compare(&min, &max, CompareOp::Le, high)?;
                self.spread(column, and(&low_ok, &high_ok).ok()?)
            }
            Predicate::IsNull(column) => {
                let nulls = self.null_counts(column)?;
                let mask = unknown_as_true(nulls.iter().map(|n| n.map(|n| n > 0)));
                self.spread(column, mask)
            }
            Predicate::IsNotNull(column) => {
                let nulls = self.null_counts(column)?;
                let rows = self.counts(column)?;
                let mask =
                    unknown_as_true(nulls.iter().zip(rows.iter()).map(|(n, r)| Some(n? < r?)));
                self.spread(column, mask)
            }
            Predicate::Not(_) | Predicate::StartsWith { .. } | Predicate::Contains { .. } => None,
        }
    }

    fn groups(&self) -> impl Iterator<Item = &parquet::file::metadata::RowGroupMetaData> {
        self.metadata.metadata().row_groups().iter()
    }

    fn row_group_counts(&self) -> UInt64Array {
        self.groups().map(|g| g.num_rows().max(0) as u64).collect()
    }

    /// Rows per statistics entry of `column`: per row group, or per page of the row group.
    fn counts(&self, column: &str) -> Option<UInt64Array> {
        match self.units {
            Units::RowGroups => Some(self.row_group_counts()),
            Units::Pages(row_group) => {
                let counts = self
                    .converter(column)?
                    .data_page_row_counts(
                        self.metadata.metadata().page_index()?.as_ref(),
                        self.metadata.metadata().row_groups(),
                        [row_group].iter(),
                    )
                    .ok()??;
                (counts.null_count() == 0).then_some(counts)
            }
        }
    }

    /// A mask over `column`'s statistics entries as a mask over units: unchanged for row
    /// groups; each page's entry repeated for its rows.
    fn spread(&self, column: &str, mask: BooleanArray) -> Option<BooleanArray> {
        let Units::Pages(_) = self.units else {
            return Some(mask);
        };
        let counts = self.counts(column)?;
        if counts.len() != mask.len() {
            return None;
        }
        let rows: u64 = counts.values().iter().sum();
        let mut bits = arrow::array::BooleanBufferBuilder::new(rows as usize);
        for (count, keep) in counts.values().iter().zip(mask.iter()) {
            bits.append_n(*count as usize, keep.unwrap_or(true));
        }
        Some(BooleanArray::new(bits.finish(), None))
    }

    fn converter(&self, column: &str) -> Option<StatisticsConverter<'_>> {
        StatisticsConverter::try_new(
            column,
            self.metadata.schema(),
            self.metadata.parquet_schema(),
        )
        .ok()
    }

    fn null_counts(&self, column: &str) -> Option<UInt64Array> {
        let converter = self.converter(column)?;
        match self.units {
            Units::RowGroups => converter.row_group_null_counts(self.groups()).ok(),
            Units::Pages(row_group) => converter
                .data_page_null_counts(
                    self.metadata.metadata().page_index()?.as_ref(),
                    [row_group].iter(),
                )
                .ok(),
        }
    }

    /// Min and max arrays of a column whose statistics are trustworthy for pruning.
    fn min_max(&self, column: &str) -> Option<(ArrayRef, ArrayRef)> {
        let field = self.metadata.schema().field_with_name(column).ok()?;
        let usable = matches!(
            field.data_type(),
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
                | DataType::Date32
                | DataType::Date64
                | DataType::Timestamp(..)
                | DataType::Decimal128(..)
        );
        if !usable {
            return None;
        }
        let converter = self.converter(column)?;
        match self.units {
            Units::RowGroups => Some((
                converter.row_group_mins(self.groups()).ok()?,
                converter.row_group_maxes(self.groups()).ok()?,
            )),
            Units::Pages(row_group) => {
                let index = self.metadata.metadata().page_index()?.as_ref();
                Some((
                    converter.data_page_mins(index, [row_group].iter()).ok()?,
                    converter.data_page_maxes(index, [row_group].iter()).ok()?,
                ))
            }
        }
    }
}

fn compare(min: &ArrayRef, max: &ArrayRef, op: CompareOp, value: &Value) -> Option<BooleanArray> {
    if min.data_type() != value.0.data_type() || max.data_type() != value.0.data_type() {
        return None;
    }
    let v = Scalar::new(Arc::clone(&value.0));
    let mask = match op {
        CompareOp::Eq => and(&lt_eq(min, &v).ok()?, &gt_eq(max, &v).ok()?).ok()?,
        CompareOp::Ne => or(&cmp::neq(min, &v).ok()?, &cmp::neq(max, &v).ok()?).ok()?,
        CompareOp::Lt => lt(min, &v).ok()?,
        CompareOp::Le => lt_eq(min, &v).ok()?,
        CompareOp::Gt => gt(max, &v).ok()?,
        CompareOp::Ge => gt_eq(max, &v).ok()?,
    };
    Some(unknown_as_true(mask.iter()))
}

/// Missing statistics mean "may match".
fn unknown_as_true(values: impl Iterator<Item = Option<bool>>) -> BooleanArray {
    values.map(|v| Some(v.unwrap_or(true))).collect()
}

#[cfg(test)]
mod tests;
