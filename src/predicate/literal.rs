//! Proto literals → one-element Arrow arrays of the column's type.

use std::sync::Arc;

use arrow::{
    array::{
        Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Float64Array, Int64Array,
        StringArray, UInt64Array,
    },
    compute::{CastOptions, cast_with_options},
    datatypes::{DataType, Field, TimeUnit},
};

use super::Value;
use crate::proto::{self, literal::Value as Lit};

pub(super) fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) || matches!(data_type, DataType::Dictionary(_, v) if is_string(v))
}

fn is_binary(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
    )
}

/// The value type a dictionary column compares as.
fn value_type(data_type: &DataType) -> &DataType {
    match data_type {
        DataType::Dictionary(_, value) => value,
        other => other,
    }
}

/// Converts `literal` to the type of `field`, or says why it does not fit.
pub(super) fn convert(literal: Option<&proto::Literal>, field: &Field) -> Result<Value, String> {
    let column = field.name();
    let target = value_type(field.data_type());
    let Some(lit) = literal.and_then(|l| l.value.as_ref()) else {
        return Err(format!(
            "missing literal for column `{column}`; use is_null / is_not_null to test for NULL"
        ));
    };
    let mismatch = |given: &str, hint: &str| {
        format!("column `{column}` is {target}, but the literal is {given}; {hint}")
    };
    let source: ArrayRef = match lit {
        Lit::BoolValue(v) if *target == DataType::Boolean => Arc::new(BooleanArray::from(vec![*v])),
        Lit::IntValue(v) if target.is_integer() || target.is_floating() || is_decimal(target) => {
            Arc::new(Int64Array::from(vec![*v]))
        }
        Lit::UintValue(v) if target.is_integer() || target.is_floating() || is_decimal(target) => {
            Arc::new(UInt64Array::from(vec![*v]))
        }
        Lit::FloatValue(v) if target.is_floating() || is_decimal(target) => {
            Arc::new(Float64Array::from(vec![*v]))
        }
        Lit::StringValue(v) if is_string(target) => Arc::new(StringArray::from(vec![v.as_str()])),
        Lit::BinaryValue(v) if is_binary(target) => Arc::new(BinaryArray::from(vec![v.as_slice()])),
        Lit::DecimalValue(v) if is_decimal(target) || target.is_floating() => {
            Arc::new(StringArray::from(vec![v.as_str()]))
        }
        Lit::DateValue(v) if matches!(target, DataType::Date32 | DataType::Date64) => {
            Arc::new(Date32Array::from(vec![*v]))
        }
        Lit::TimestampValue(ts) => match target {
            DataType::Timestamp(unit, tz) => {
                return timestamp(ts, *unit, tz.clone(), column).map(Value);
            }
            _ => return Err(mismatch("a timestamp", &hint_for(target))),
        },
        Lit::BoolValue(_) => return Err(mismatch("a bool", &hint_for(target))),
        Lit::IntValue(_) | Lit::UintValue(_) => {
            return Err(mismatch("an integer", &hint_for(target)));
        }
        Lit::FloatValue(_) => return Err(mismatch("a float", &hint_for(target))),
        Lit::StringValue(_) => return Err(mismatch("a string", &hint_for(target))),
        Lit::BinaryValue(_) => return Err(mismatch("binary", &hint_for(target))),
        Lit::DecimalValue(_) => return Err(mismatch("a decimal", &hint_for(target))),
        Lit::DateValue(_) => return Err(mismatch("a date", &hint_for(target))),
    };
    // `safe: false` turns overflow and unparsable text into an error instead of a NULL.
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let converted = cast_with_options(&source, target, &options).map_err(|e| {
        format!(
            "literal {} does not fit column `{column}` ({target}): {e}",
            arrow::util::display::array_value_to_string(&source, 0).unwrap_or_default()
        )
    })?;
    if converted.null_count() > 0 {
        return Err(format!("literal does not fit column `{column}` ({target})"));
    }
    Ok(Value(positive_zero(converted)))
}

/// A float literal of -0.0 (given, or a tiny value rounded to a narrower type) as 0.0.
/// Flatbuffers leaves out a field equal to its default, and 0.0 == -0.0, so VAST would receive
/// 0.0 while the exact filter, in arrow's total order, held -0.0 apart: pushdown would drop
/// rows the filter keeps. Found by the `filter` fuzz target.
fn positive_zero(array: ArrayRef) -> ArrayRef {
    use arrow::array::{AsArray, Float32Array};
    use arrow::datatypes::{Float32Type, Float64Type};
    match array.data_type() {
        DataType::Float64 if array.as_primitive::<Float64Type>().value(0) == 0.0 => {
            Arc::new(Float64Array::from(vec![0.0]))
        }
        DataType::Float32 if array.as_primitive::<Float32Type>().value(0) == 0.0 => {
            Arc::new(Float32Array::from(vec![0.0f32]))
        }
        _ => array,
    }
}

fn is_decimal(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
    )
}

fn hint_for(target: &DataType) -> String {
    let field = match target {
        t if *t == DataType::Boolean => "bool_value",
        t if t.is_integer() => "int_value or uint_value",
        t if t.is_floating() => "float_value (or int_value)",
        t if is_decimal(t) => "decimal_value (text), int_value or float_value",
        t if is_string(t) => "string_value",
        t if is_binary(t) => "binary_value",
        DataType::Timestamp(..) => "timestamp_value",
        DataType::Date32 | DataType::Date64 => "date_value (days since 1970-01-01)",
        _ => return format!("filters on {target} columns are not supported"),
    };
    format!("use {field}")
}

/// A timestamp literal in the column's unit and zone. Precision finer than the column's unit is
/// refused: truncating it would silently change `<` and `>` results.
fn timestamp(
    ts: &prost_types::Timestamp,
    unit: TimeUnit,
    tz: Option<Arc<str>>,
    column: &str,
) -> Result<ArrayRef, String> {
    let nanos = i64::from(ts.nanos);
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(format!(
            "timestamp literal for `{column}` has nanos {nanos} outside 0..1e9"
        ));
    }
    let (per_second, nanos_per_tick) = match unit {
        TimeUnit::Second => (1, 1_000_000_000),
        TimeUnit::Millisecond => (1_000, 1_000_000),
        TimeUnit::Microsecond => (1_000_000, 1_000),
        TimeUnit::Nanosecond => (1_000_000_000, 1),
    };
    if nanos % nanos_per_tick != 0 {
        return Err(format!(
            "timestamp literal for `{column}` is finer than the column's unit ({unit:?})"
        ));
    }
    let value = ts
        .seconds
        .checked_mul(per_second)
        .and_then(|v| v.checked_add(nanos / nanos_per_tick))
        .ok_or_else(|| format!("timestamp literal for `{column}` is out of range"))?;
    let array: ArrayRef = match unit {
        TimeUnit::Second => {
            Arc::new(arrow::array::TimestampSecondArray::from(vec![value]).with_timezone_opt(tz))
        }
        TimeUnit::Millisecond => Arc::new(
            arrow::array::TimestampMillisecondArray::from(vec![value]).with_timezone_opt(tz),
        ),
        TimeUnit::Microsecond => Arc::new(
            arrow::array::TimestampMicrosecondArray::from(vec![value]).with_timezone_opt(tz),
        ),
        TimeUnit::Nanosecond => Arc::new(
            arrow::array::TimestampNanosecondArray::from(vec![value]).with_timezone_opt(tz),
        ),
    };
    Ok(array)
}
