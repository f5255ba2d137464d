//! Metadata calls: paged schema and table listings, table stats, columns.

use std::sync::Arc;

use arrow::{datatypes::Schema, ipc::writer::StreamWriter};
use axum::response::Response;

use super::{
    Emulator,
    call::{Call, S3Error, backend_error, ok_body, table_ref},
};
use crate::{backend::Backend, vast_protocol::wire::tabular};

/// A page of `(index, name)` entries, the next key and whether more remain.
type ListPage<'a> = (Vec<(usize, &'a String)>, u64, bool);

/// One page of a listing of `names`, honouring the name filter and paging headers.
fn page<'a>(call: &Call, names: &'a [String]) -> Result<ListPage<'a>, S3Error> {
    let exact = call.header("tabular-name-exact-match");
    let prefix = call.header("tabular-name-prefix").unwrap_or("");
    let max_keys: usize = call.header_num("tabular-max-keys")?.unwrap_or(1000).max(1);
    let next_key: usize = call.header_num("tabular-next-key")?.unwrap_or(0);
    let matching: Vec<(usize, &String)> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| match exact {
            Some(exact) => n.as_str() == exact,
            None => n.starts_with(prefix),
        })
        .collect();
    let end = next_key.saturating_add(max_keys).min(matching.len());
    let start = next_key.min(end);
    let truncated = end < matching.len();
    Ok((matching[start..end].to_vec(), end as u64, truncated))
}

fn list_headers(next: u64, truncated: bool, count: usize) -> [(&'static str, String); 3] {
    [
        ("tabular-next-key", next.to_string()),
        ("tabular-is-truncated", truncated.to_string()),
        ("tabular-list-count", count.to_string()),
    ]
}

fn details(name: &str, handle: usize, num_rows: u64, size: u64) -> tabular::ObjectDetails {
    tabular::ObjectDetails {
        name: Some(name.to_owned()),
        properties: Some(String::new()),
        handle: Some((handle + 1).to_string()),
        num_rows,
        size_in_bytes: size,
        ..Default::default()
    }
}

/// `GET /{bucket}?schema`.
pub(super) async fn list_schemas(state: &Arc<Emulator>, call: &Call) -> Result<Response, S3Error> {
    let bucket = state.config.bucket.clone();
    let names = state
        .local
        .list_schemas(&bucket)
        .await
        .map_err(backend_error)?;
    let (entries, next, truncated) = page(call, &names)?;
    let body = tabular::ListSchemasResponse {
        bucket_name: Some(bucket),
        schemas: Some(entries.iter().map(|(i, n)| details(n, *i, 0, 0)).collect()),
    };
    let bytes = planus::Builder::new().finish(&body, None).to_vec();
    Ok(ok_body(
        bytes,
        &list_headers(next, truncated, entries.len()),
    ))
}

/// `GET /{bucket}/{schema}?table`.
pub(super) async fn list_tables(state: &Arc<Emulator>, call: &Call) -> Result<Response, S3Error> {
    let bucket = state.config.bucket.clone();
    let schema = call.segments.get(1).cloned().unwrap_or_default();
    let tables = state
        .local
        .list_tables(&bucket, &schema)
        .await
        .map_err(backend_error)?;
    let names: Vec<String> = tables.iter().map(|t| t.table.table.clone()).collect();
    let (entries, next, truncated) = page(call, &names)?;
    let body = tabular::ListTablesResponse {
        bucket_name: Some(bucket),
        schema_name: Some(schema),
        tables: Some(
            entries
                .iter()
                .map(|(i, n)| details(n, *i, tables[*i].num_rows, tables[*i].size_bytes))
                .collect(),
        ),
    };
    let bytes = planus::Builder::new().finish(&body, None).to_vec();
    Ok(ok_body(
        bytes,
        &list_headers(next, truncated, entries.len()),
    ))
}

/// `GET /{bucket}/{schema}/{table}?stats`.
pub(super) async fn stats(state: &Arc<Emulator>, call: &Call) -> Result<Response, S3Error> {
    let meta = state
        .local
        .describe(&table_ref(call))
        .await
        .map_err(backend_error)?;
    let body = tabular::GetTableStatsResponse {
        num_rows: i64::try_from(meta.num_rows).unwrap_or(i64::MAX),
        size_in_bytes: i64::try_from(meta.size_bytes).unwrap_or(i64::MAX),
        vips: Some(Vec::new()),
        ..Default::default()
    };
    let bytes = planus::Builder::new().finish(&body, None).to_vec();
    Ok(ok_body(bytes, &[]))
}

/// An IPC stream holding only `schema`.
pub(super) fn schema_stream(schema: &Schema) -> Result<Vec<u8>, S3Error> {
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, schema)
        .map_err(|e| S3Error::internal(format!("cannot encode the schema: {e}")))?;
    writer
        .finish()
        .map_err(|e| S3Error::internal(format!("cannot encode the schema: {e}")))?;
    drop(writer);
    Ok(out)
}

/// `GET /{bucket}/{schema}/{table}?column`: every column in one page.
pub(super) async fn columns(state: &Arc<Emulator>, call: &Call) -> Result<Response, S3Error> {
    let meta = state
        .local
        .describe(&table_ref(call))
        .await
        .map_err(backend_error)?;
    let schema = Schema::new(meta.schema.fields().clone());
    let body = schema_stream(&schema)?;
    Ok(ok_body(
        body,
        &list_headers(schema.fields().len() as u64, false, schema.fields().len()),
    ))
}

/// `GET /{bucket}/{schema}/{table}?sorted-columns`: no sorted columns.
pub(super) fn sorted_columns() -> Result<Response, S3Error> {
    let body = schema_stream(&Schema::empty())?;
    Ok(ok_body(body, &list_headers(0, false, 0)))
}
