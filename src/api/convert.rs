//! Small proto ⇄ domain conversions shared by the handlers.

use arrow::datatypes::Schema;

use crate::{backend::TableRef, error::Error, proto};

/// The table of a request; schema and table must be set.
pub(crate) fn table_ref(table: Option<&proto::TableRef>) -> Result<TableRef, Error> {
    let table = table.ok_or_else(|| {
        Error::InvalidArgument("`table` is required: set table.schema and table.table".to_owned())
    })?;
    if table.schema.is_empty() {
        return Err(Error::InvalidArgument("`table.schema` is empty".to_owned()));
    }
    if table.table.is_empty() {
        return Err(Error::InvalidArgument("`table.table` is empty".to_owned()));
    }
    Ok(TableRef {
        bucket: table.bucket.clone(),
        schema: table.schema.clone(),
        table: table.table.clone(),
    })
}

/// Back to proto.
pub(crate) fn table_proto(table: &TableRef) -> proto::TableRef {
    proto::TableRef {
        bucket: table.bucket.clone(),
        schema: table.schema.clone(),
        table: table.table.clone(),
    }
}

/// Column names → indexes in `schema`, in request order. Empty means all columns.
pub(crate) fn projection(schema: &Schema, columns: &[String]) -> Result<Option<Vec<usize>>, Error> {
    if columns.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(columns.len());
    for name in columns {
        let index = schema.index_of(name).map_err(|_| {
            let known: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            Error::InvalidArgument(format!(
                "unknown column `{name}` in `columns`; the table has: {}",
                known.join(", ")
            ))
        })?;
        if out.contains(&index) {
            return Err(Error::InvalidArgument(format!(
                "column `{name}` is listed twice in `columns`"
            )));
        }
        out.push(index);
    }
    Ok(Some(out))
}

/// A `SystemTime` as a protobuf timestamp.
pub(crate) fn timestamp(t: std::time::SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(t)
}
