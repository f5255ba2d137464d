//! The catalog as Flight SQL sees it: catalogs are VAST buckets (none on the local backend),
//! schemas and tables what the backend lists, each filtered to what the caller may read.

use std::sync::Arc;

use arrow::{
    array::RecordBatch,
    datatypes::{DataType, Field, Schema, SchemaRef},
};
use arrow_flight::sql::{
    CommandGetDbSchemas, CommandGetTables,
    metadata::{GetCatalogsBuilder, GetTablesBuilder},
};

use crate::{auth::Caller, backend::TableRef, error::Error, state::AppState};

/// The only table type vastgate serves.
pub(super) const TABLE_TYPE: &str = "TABLE";

/// The buckets to list: the configured VAST buckets, or the local backend's one unnamed.
fn buckets(state: &AppState) -> Vec<String> {
    if state.config.vast.buckets.is_empty() {
        vec![String::new()]
    } else {
        state.config.vast.buckets.clone()
    }
}

/// Every `(bucket, schema)` the caller may read.
async fn schemas(state: &AppState, caller: &Caller) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    for bucket in buckets(state) {
        for schema in state.catalog.backend().list_schemas(&bucket).await? {
            if caller.may_read(&schema) {
                out.push((bucket.clone(), schema));
            }
        }
    }
    Ok(out)
}

pub(super) fn catalogs(state: &AppState) -> Result<RecordBatch, Error> {
    let mut builder = GetCatalogsBuilder::new();
    for bucket in buckets(state).into_iter().filter(|b| !b.is_empty()) {
        builder.append(bucket);
    }
    builder.build().map_err(arrow_error)
}

pub(super) async fn db_schemas(
    state: &AppState,
    caller: &Caller,
    command: CommandGetDbSchemas,
) -> Result<RecordBatch, Error> {
    let mut builder = command.into_builder();
    for (bucket, schema) in schemas(state, caller).await? {
        builder.append(bucket, schema);
    }
    builder.build().map_err(arrow_error)
}

pub(super) async fn tables(
    state: &AppState,
    caller: &Caller,
    command: CommandGetTables,
) -> Result<RecordBatch, Error> {
    let include_schema = command.include_schema;
    let mut builder: GetTablesBuilder = command.into_builder();
    for (bucket, schema) in schemas(state, caller).await? {
        for summary in state
            .catalog
            .backend()
            .list_tables(&bucket, &schema)
            .await?
        {
            let table: &TableRef = &summary.table;
            let columns = if include_schema {
                Arc::clone(
                    &state
                        .catalog
                        .describe(table, false)
                        .await?
                        .entry
                        .meta
                        .schema,
                )
            } else {
                Arc::new(Schema::empty())
            };
            builder
                .append(&bucket, &table.schema, &table.table, TABLE_TYPE, &columns)
                .map_err(arrow_error)?;
        }
    }
    builder.build().map_err(arrow_error)
}

/// An empty answer to `GetPrimaryKeys` (tables have no keys), with the spec's schema.
pub(super) fn primary_keys() -> RecordBatch {
    RecordBatch::new_empty(primary_keys_schema())
}

pub(super) fn primary_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// An empty answer to `GetExportedKeys` / `GetImportedKeys`, with the spec's schema.
pub(super) fn foreign_keys() -> RecordBatch {
    RecordBatch::new_empty(foreign_keys_schema())
}

pub(super) fn foreign_keys_schema() -> SchemaRef {
    let utf8 = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        utf8("pk_catalog_name", true),
        utf8("pk_db_schema_name", true),
        utf8("pk_table_name", false),
        utf8("pk_column_name", false),
        utf8("fk_catalog_name", true),
        utf8("fk_db_schema_name", true),
        utf8("fk_table_name", false),
        utf8("fk_column_name", false),
        Field::new("key_sequence", DataType::Int32, false),
        utf8("fk_key_name", true),
        utf8("pk_key_name", true),
        Field::new("update_rule", DataType::UInt8, false),
        Field::new("delete_rule", DataType::UInt8, false),
    ]))
}

fn arrow_error(err: impl std::fmt::Display) -> Error {
    Error::Internal(format!("building a Flight SQL catalog answer: {err}"))
}
