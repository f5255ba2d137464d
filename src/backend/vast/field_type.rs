//! Arrow column types as the compute-IR types of a `query_data` body, as the SDK writes them.

use arrow::datatypes::{DataType, Field, TimeUnit};

use crate::{backend::BackendError, vast_protocol::wire::arrow_fb as fb};

/// A flat (leaf) column's compute-IR type, or an error for types the client does not send.
pub(crate) fn fb_type(field: &Field) -> Result<fb::Type, BackendError> {
    let unit = |u: &TimeUnit| match u {
        TimeUnit::Second => fb::TimeUnit::Second,
        TimeUnit::Millisecond => fb::TimeUnit::Millisecond,
        TimeUnit::Microsecond => fb::TimeUnit::Microsecond,
        TimeUnit::Nanosecond => fb::TimeUnit::Nanosecond,
    };
    let int = |bit_width: i32, is_signed: bool| {
        fb::Type::Int(Box::new(fb::Int {
            bit_width,
            is_signed,
        }))
    };
    let float = |precision| fb::Type::FloatingPoint(Box::new(fb::FloatingPoint { precision }));
    Ok(match field.data_type() {
        DataType::Int8 => int(8, true),
        DataType::Int16 => int(16, true),
        DataType::Int32 => int(32, true),
        DataType::Int64 => int(64, true),
        DataType::UInt8 => int(8, false),
        DataType::UInt16 => int(16, false),
        DataType::UInt32 => int(32, false),
        DataType::UInt64 => int(64, false),
        DataType::Float16 => float(fb::Precision::Half),
        DataType::Float32 => float(fb::Precision::Single),
        DataType::Float64 => float(fb::Precision::Double),
        DataType::Utf8 => fb::Type::Utf8(Box::new(fb::Utf8 {})),
        DataType::Binary => fb::Type::Binary(Box::new(fb::Binary {})),
        DataType::Boolean => fb::Type::Bool(Box::new(fb::Bool {})),
        DataType::Decimal128(precision, scale) => fb::Type::Decimal(Box::new(fb::Decimal {
            precision: i32::from(*precision),
            scale: i32::from(*scale),
            bit_width: 128,
        })),
        DataType::Date32 => fb::Type::Date(Box::new(fb::Date {
            unit: fb::DateUnit::Day,
        })),
        // The SDK never writes the time zone.
        DataType::Timestamp(u, _) => fb::Type::Timestamp(Box::new(fb::Timestamp {
            unit: unit(u),
            timezone: None,
        })),
        DataType::Time32(u) => fb::Type::Time(Box::new(fb::Time {
            unit: unit(u),
            bit_width: 32,
        })),
        DataType::Time64(u) => fb::Type::Time(Box::new(fb::Time {
            unit: unit(u),
            bit_width: 64,
        })),
        other => {
            return Err(BackendError::Unsupported(format!(
                "column `{}`: type {other} cannot be read over the VAST protocol by vastgate \
                 (flat columns only)",
                field.name()
            )));
        }
    })
}
