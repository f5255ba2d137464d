//! Small integer group columns handed to the engine as 8-bit integers.
//!
//! DuckDB knows nothing of the values of an Arrow stream, so it groups an `INTEGER` column with
//! a general hash table; a column whose type has 256 values it groups by array index instead
//! (its perfect-hash aggregate). On Parquet it gets there from the file's statistics. Group
//! columns that the table's statistics put within 8 bits
//! ([`TableMeta::int_ranges`](crate::backend::TableMeta)) are therefore cast to `UInt8` or
//! `Int8` as the batches arrive, before the engine sees them, which spares DuckDB a checked
//! cast in the query and three quarters of the bytes to copy.
//!
//! Only columns the query uses to group, partition, join, order and show as text qualify
//! ([`AnalyticPlan::narrowable_groups`](super::AnalyticPlan)), so the narrower type gives the
//! same answer. A value that does not fit (the files changed under cached statistics) fails
//! the batch with [`OutsideStatistics`], never a wrong group; the typed RPC then runs again
//! without narrowing.

use std::{collections::BTreeMap, sync::Arc};

use arrow::{
    array::{Array, ArrayRef, ArrowPrimitiveType, AsArray, PrimitiveArray, RecordBatch},
    compute::{max, min},
    datatypes::{
        DataType, Field, Int8Type, Int16Type, Int32Type, Int64Type, Schema, SchemaRef, UInt8Type,
    },
    error::ArrowError,
};

/// The 8-bit integer types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmallInt {
    /// -128..=127
    TinyInt,
    /// 0..=255
    UTinyInt,
}

impl SmallInt {
    /// The type that holds every value of `lo..=hi`, if one does (unsigned first).
    pub fn holding(lo: i64, hi: i64) -> Option<Self> {
        if lo > hi {
            None
        } else if lo >= 0 && hi <= i64::from(u8::MAX) {
            Some(Self::UTinyInt)
        } else if lo >= i64::from(i8::MIN) && hi <= i64::from(i8::MAX) {
            Some(Self::TinyInt)
        } else {
            None
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Self::TinyInt => DataType::Int8,
            Self::UTinyInt => DataType::UInt8,
        }
    }
}

/// A narrowed column held a value outside its 8-bit type: the table changed since the
/// statistics that chose the type were read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "column `{column}` holds {value}, outside the range of the table's statistics: the table \
     changed since they were read"
)]
pub struct OutsideStatistics {
    /// The column.
    pub column: String,
    /// A value that does not fit.
    pub value: i64,
}

/// Why a batch could not be narrowed.
#[derive(Debug, thiserror::Error)]
pub enum NarrowingError {
    /// A value does not fit.
    #[error(transparent)]
    OutsideStatistics(#[from] OutsideStatistics),
    /// The batch does not have the shape the narrowing was planned for (a bug).
    #[error("narrowing group columns: {0}")]
    Arrow(#[from] ArrowError),
}

/// The group columns of a scan's batches that reach the engine as 8-bit integers.
#[derive(Debug, Clone)]
pub struct NarrowedGroups {
    /// The batches' schema with the narrowed columns' new types.
    schema: SchemaRef,
    /// Column index, name and type of each narrowed column.
    columns: Vec<(usize, String, SmallInt)>,
}

impl NarrowedGroups {
    /// The `narrowable` columns of `schema` that are signed integers and whose values
    /// `int_ranges` puts within 8 bits; `None` when there are none.
    pub fn new(
        schema: &Schema,
        narrowable: &[String],
        int_ranges: &BTreeMap<String, (i64, i64)>,
    ) -> Option<Self> {
        let columns: Vec<(usize, String, SmallInt)> = narrowable
            .iter()
            .filter_map(|name| {
                let index = schema.index_of(name).ok()?;
                let signed = matches!(
                    schema.field(index).data_type(),
                    DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
                );
                let &(lo, hi) = int_ranges.get(name)?;
                let to = SmallInt::holding(lo, hi)?;
                signed.then(|| (index, name.clone(), to))
            })
            .collect();
        if columns.is_empty() {
            return None;
        }
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        for (index, _, to) in &columns {
            fields[*index] = fields[*index].clone().with_data_type(to.data_type());
        }
        Some(Self {
            schema: Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
            columns,
        })
    }

    /// The schema of narrowed batches.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The narrowed columns' names.
    pub fn columns(&self) -> Vec<&str> {
        self.columns
            .iter()
            .map(|(_, name, _)| name.as_str())
            .collect()
    }

    /// `batch` with the narrowed columns cast to their 8-bit types.
    pub fn narrow(&self, batch: RecordBatch) -> Result<RecordBatch, NarrowingError> {
        let mut columns = batch.columns().to_vec();
        for (index, name, to) in &self.columns {
            let column = columns.get(*index).ok_or_else(|| {
                ArrowError::SchemaError(format!("no column {index} (`{name}`) in the batch"))
            })?;
            columns[*index] = narrow_column(column, name, *to)?;
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

/// Column `name` as `to`.
fn narrow_column(column: &ArrayRef, name: &str, to: SmallInt) -> Result<ArrayRef, NarrowingError> {
    let narrowed = match column.data_type() {
        DataType::Int8 => narrow_values(column.as_primitive::<Int8Type>(), to),
        DataType::Int16 => narrow_values(column.as_primitive::<Int16Type>(), to),
        DataType::Int32 => narrow_values(column.as_primitive::<Int32Type>(), to),
        DataType::Int64 => narrow_values(column.as_primitive::<Int64Type>(), to),
        other => {
            return Err(NarrowingError::Arrow(ArrowError::SchemaError(format!(
                "narrowed column `{name}` is {other}, not a signed integer"
            ))));
        }
    };
    narrowed.map_err(|value| {
        NarrowingError::OutsideStatistics(OutsideStatistics {
            column: name.to_owned(),
            value,
        })
    })
}

/// `values` as `to`, or the value that does not fit. NULL slots hold arbitrary values, so only
/// an array without NULLs has its range taken over the raw slice.
fn narrow_values<T>(values: &PrimitiveArray<T>, to: SmallInt) -> Result<ArrayRef, i64>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64> + Ord,
{
    let (lo, hi) = match to {
        SmallInt::TinyInt => (i64::from(i8::MIN), i64::from(i8::MAX)),
        SmallInt::UTinyInt => (0, i64::from(u8::MAX)),
    };
    let outside = |extreme: T::Native| {
        let extreme: i64 = extreme.into();
        (extreme < lo || extreme > hi).then_some(extreme)
    };
    let range = if values.null_count() == 0 {
        range_of(values.values())
    } else {
        min(values).zip(max(values))
    };
    match range.and_then(|(least, most)| outside(least).or_else(|| outside(most))) {
        Some(value) => Err(value),
        None => Ok(truncated(values, to)),
    }
}

/// Every slot of `values` cast to `to` with `as`, which truncates: exact for values that fit.
fn truncated<T>(values: &PrimitiveArray<T>, to: SmallInt) -> ArrayRef
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    match to {
        SmallInt::TinyInt => Arc::new(values.unary::<_, Int8Type>(|v| Into::<i64>::into(v) as i8)),
        SmallInt::UTinyInt => {
            Arc::new(values.unary::<_, UInt8Type>(|v| Into::<i64>::into(v) as u8))
        }
    }
}

/// The least and greatest of `values` in one plain pass over the slice (it vectorizes, unlike
/// arrow's `min` and `max`).
fn range_of<N: Copy + Ord>(values: &[N]) -> Option<(N, N)> {
    let first = *values.first()?;
    Some(values.iter().fold((first, first), |(least, most), &v| {
        (least.min(v), most.max(v))
    }))
}

#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod tests;
