//! Preparing Arrow record batches for DuckDB.
//!
//! Arrow types DuckDB's loader does not take directly are cast first (dictionaries to their
//! values, `Float16` to `Float32`, `Decimal256` to `Float64`, zoned timestamps to microseconds).

use std::sync::Arc;

use super::EngineError;
use arrow::{
    array::{ArrayRef, RecordBatch},
    compute::{CastOptions, cast_with_options},
    datatypes::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit},
};

/// The schema batches are cast to before loading, and the table DDL for it.
#[derive(Debug, Clone)]
pub(crate) struct TablePlan {
    /// Normalized schema.
    pub(crate) schema: SchemaRef,
    /// Whether any column needs a cast.
    pub(crate) needs_cast: bool,
}

impl TablePlan {
    /// Normalizes `input`, refusing columns the engine cannot load.
    pub(crate) fn new(input: &Schema) -> Result<Self, EngineError> {
        let mut fields: Vec<FieldRef> = Vec::with_capacity(input.fields().len());
        for field in input.fields() {
            let data_type = normalize_type(field.data_type()).ok_or_else(|| unsupported(field))?;
            fields.push(Arc::new(Field::new(field.name(), data_type, true)));
        }
        let schema = Arc::new(Schema::new(fields));
        let needs_cast = input
            .fields()
            .iter()
            .zip(schema.fields())
            .any(|(a, b)| a.data_type() != b.data_type());
        Ok(Self { schema, needs_cast })
    }

    /// Casts `batch` to the normalized schema.
    pub(crate) fn normalize(&self, batch: RecordBatch) -> Result<RecordBatch, EngineError> {
        if batch.num_columns() != self.schema.fields().len() {
            return Err(EngineError::Input(
                format!(
                    "a batch has {} columns but the schema announced {}",
                    batch.num_columns(),
                    self.schema.fields().len()
                )
                .into(),
            ));
        }
        if !self.needs_cast && batch.schema().fields() == self.schema.fields() {
            return Ok(batch);
        }
        let options = CastOptions {
            safe: true,
            ..CastOptions::default()
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (column, field) in batch.columns().iter().zip(self.schema.fields()) {
            if column.data_type() == field.data_type() {
                columns.push(Arc::clone(column));
            } else {
                let cast =
                    cast_with_options(column, field.data_type(), &options).map_err(|err| {
                        EngineError::Input(format!("column `{}`: {err}", field.name()).into())
                    })?;
                columns.push(cast);
            }
        }
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map_err(|err| EngineError::Input(Box::new(err)))
    }
}

/// Quotes an SQL identifier: `"name"` with `"` doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn unsupported(field: &Field) -> EngineError {
    EngineError::UnsupportedType {
        column: field.name().clone(),
        data_type: field.data_type().to_string(),
    }
}

/// The type a column is loaded as, or `None` if it cannot be loaded.
fn normalize_type(data_type: &DataType) -> Option<DataType> {
    Some(match data_type {
        DataType::Null => DataType::Int32,
        // String dictionaries (a Parquet column's own) reach DuckDB as dictionary vectors, which
        // it groups and joins several times faster than plain strings.
        DataType::Dictionary(key, values)
            if key.is_integer() && normalize_type(values)? == DataType::Utf8 =>
        {
            data_type.clone()
        }
        DataType::Dictionary(_, values) => normalize_type(values)?,
        DataType::Float16 => DataType::Float32,
        DataType::Decimal256(_, _) => DataType::Float64,
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) if *p > 38 => {
            DataType::Decimal128(38, *s)
        }
        DataType::Decimal128(p, s) if *p > 38 => DataType::Decimal128(38, *s),
        DataType::Timestamp(_, Some(tz)) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::clone(tz)))
        }
        DataType::Date64 => DataType::Date32,
        DataType::List(child) => DataType::List(normalize_field(child)?),
        DataType::LargeList(child) => DataType::List(normalize_field(child)?),
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(normalize_field)
                .collect::<Option<Vec<_>>>()?
                .into(),
        ),
        other if sql_type(other).is_some() => other.clone(),
        _ => return None,
    })
}

fn normalize_field(field: &FieldRef) -> Option<FieldRef> {
    Some(Arc::new(Field::new(
        field.name(),
        normalize_type(field.data_type())?,
        true,
    )))
}

/// The DuckDB type of a normalized Arrow type.
fn sql_type(data_type: &DataType) -> Option<String> {
    Some(
        match data_type {
            DataType::Boolean => "BOOLEAN",
            DataType::Int8 => "TINYINT",
            DataType::Int16 => "SMALLINT",
            DataType::Int32 => "INTEGER",
            DataType::Int64 => "BIGINT",
            DataType::UInt8 => "UTINYINT",
            DataType::UInt16 => "USMALLINT",
            DataType::UInt32 => "UINTEGER",
            DataType::UInt64 => "UBIGINT",
            DataType::Float32 => "FLOAT",
            DataType::Float64 => "DOUBLE",
            DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s)
                if *p <= 38 && *s >= 0 && (*s as u8) <= *p =>
            {
                return Some(format!("DECIMAL({p}, {s})"));
            }
            DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ",
            DataType::Timestamp(TimeUnit::Second, None) => "TIMESTAMP_S",
            DataType::Timestamp(TimeUnit::Millisecond, None) => "TIMESTAMP_MS",
            DataType::Timestamp(TimeUnit::Microsecond, None) => "TIMESTAMP",
            DataType::Timestamp(TimeUnit::Nanosecond, None) => "TIMESTAMP_NS",
            DataType::Date32 => "DATE",
            DataType::Time32(_) | DataType::Time64(_) => "TIME",
            DataType::Duration(_) | DataType::Interval(_) => "INTERVAL",
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR",
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_) => "BLOB",
            DataType::Dictionary(_, values) => return sql_type(values),
            DataType::List(child) => return Some(format!("{}[]", sql_type(child.data_type())?)),
            DataType::Struct(fields) => {
                let parts = fields
                    .iter()
                    .map(|f| {
                        Some(format!(
                            "{} {}",
                            quote_ident(f.name()),
                            sql_type(f.data_type())?
                        ))
                    })
                    .collect::<Option<Vec<_>>>()?;
                return Some(format!("STRUCT({})", parts.join(", ")));
            }
            _ => return None,
        }
        .to_owned(),
    )
}
