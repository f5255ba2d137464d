//! Small proto ⇄ domain conversions shared by the handlers.

use crate::{backend::TableRef, proto};

/// Back to proto.
pub(crate) fn table_proto(table: &TableRef) -> proto::TableRef {
    proto::TableRef {
        bucket: table.bucket.clone(),
        schema: table.schema.clone(),
        table: table.table.clone(),
    }
}

/// A `SystemTime` as a protobuf timestamp.
pub(crate) fn timestamp(t: std::time::SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(t)
}
