//! Parameter values bound through `DoPut`: one row of an Arrow batch as our literals.

use arrow::{
    array::{Array, AsArray, RecordBatch},
    datatypes::{
        DataType, Date32Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type,
        Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
        TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type,
        UInt64Type,
    },
};

use crate::{
    error::Error,
    proto::{self, literal::Value as Lit},
};

/// The values of `batch`'s one row, in column order; NULL is an unset literal.
pub(super) fn bound_row(batch: &RecordBatch) -> Result<Vec<proto::Literal>, Error> {
    if batch.num_rows() != 1 {
        return Err(Error::InvalidArgument(format!(
            "bind exactly one row of parameters (got {}); run the statement once per row",
            batch.num_rows()
        )));
    }
    batch
        .columns()
        .iter()
        .zip(batch.schema().fields())
        .map(|(column, field)| {
            value_at(column.as_ref(), 0)
                .map(|value| proto::Literal { value })
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "parameter `{}` has the type {}, which cannot be bound; use an integer, \
                         float, string, boolean, binary, date or timestamp",
                        field.name(),
                        field.data_type()
                    ))
                })
        })
        .collect()
}

/// The value at `row`: `Some(None)` for NULL, `None` for a type we cannot bind.
fn value_at(array: &dyn Array, row: usize) -> Option<Option<Lit>> {
    if array.is_null(row) {
        return Some(None);
    }
    let int = |v: i64| Some(Some(Lit::IntValue(v)));
    let uint = |v: u64| Some(Some(Lit::UintValue(v)));
    let float = |v: f64| Some(Some(Lit::FloatValue(v)));
    let micros = |v: i64, per_second: i64| {
        Some(Some(Lit::TimestampValue(prost_types::Timestamp {
            seconds: v.div_euclid(per_second),
            nanos: i32::try_from(v.rem_euclid(per_second) * (1_000_000_000 / per_second)).ok()?,
        })))
    };
    match array.data_type() {
        DataType::Null => Some(None),
        DataType::Boolean => Some(Some(Lit::BoolValue(array.as_boolean().value(row)))),
        DataType::Int8 => int(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => int(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => int(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => int(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => uint(array.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => uint(array.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => uint(array.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => uint(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float16 => float(array.as_primitive::<Float16Type>().value(row).to_f64()),
        DataType::Float32 => float(array.as_primitive::<Float32Type>().value(row).into()),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Some(Some(Lit::StringValue(
            array.as_string::<i32>().value(row).to_owned(),
        ))),
        DataType::LargeUtf8 => Some(Some(Lit::StringValue(
            array.as_string::<i64>().value(row).to_owned(),
        ))),
        DataType::Utf8View => Some(Some(Lit::StringValue(
            array.as_string_view().value(row).to_owned(),
        ))),
        DataType::Binary => Some(Some(Lit::BinaryValue(
            array.as_binary::<i32>().value(row).to_vec(),
        ))),
        DataType::LargeBinary => Some(Some(Lit::BinaryValue(
            array.as_binary::<i64>().value(row).to_vec(),
        ))),
        DataType::Date32 => Some(Some(Lit::DateValue(
            array.as_primitive::<Date32Type>().value(row),
        ))),
        DataType::Timestamp(unit, None) => match unit {
            TimeUnit::Second => micros(array.as_primitive::<TimestampSecondType>().value(row), 1),
            TimeUnit::Millisecond => micros(
                array.as_primitive::<TimestampMillisecondType>().value(row),
                1_000,
            ),
            TimeUnit::Microsecond => micros(
                array.as_primitive::<TimestampMicrosecondType>().value(row),
                1_000_000,
            ),
            TimeUnit::Nanosecond => micros(
                array.as_primitive::<TimestampNanosecondType>().value(row),
                1_000_000_000,
            ),
        },
        _ => None,
    }
}
