//! The metadata calls, each inside a transaction: schema and table listings (paged), a
//! table's columns and stats.

use std::{io::Cursor, sync::Arc};

use arrow::{datatypes::Schema, ipc::reader::StreamReader};
use http::Method;
use planus::ReadAsRoot;

use super::{
    PAGE_KEYS, ROW_GROUP_ROWS,
    client::{Call, header_u64, path},
};
use crate::{
    backend::{BackendError, TableMeta, TableRef, TableSummary},
    cluster::Member,
    vast_protocol::wire::tabular,
};

fn bad(ep: &Arc<Member>, what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Data {
        location: ep.url.clone(),
        message: format!("{what}: {e}"),
    }
}

/// Sends a paged listing call until the server says it is not truncated; `page` decodes
/// one body and returns how many entries it held.
async fn paged(
    ep: &Arc<Member>,
    base: Call,
    mut page: impl FnMut(&[u8]) -> Result<usize, BackendError>,
) -> Result<(), BackendError> {
    let mut next_key = 0u64;
    loop {
        let call = base
            .clone()
            .header("tabular-max-keys", PAGE_KEYS)
            .header("tabular-next-key", next_key)
            .header("tabular-name-prefix", "")
            .header("tabular-list-count-only", "False");
        let (headers, body) = ep.send_full(&call).await?;
        let n = page(&body)?;
        let truncated = headers
            .get("tabular-is-truncated")
            .and_then(|v| v.to_str().ok())
            == Some("true");
        let Some(next) = header_u64(&headers, "tabular-next-key") else {
            return Err(bad(ep, &base.what, "no numeric tabular-next-key header"));
        };
        if !truncated || n == 0 {
            return Ok(());
        }
        next_key = next;
    }
}

pub(super) async fn list_schemas(
    ep: Arc<Member>,
    txid: u64,
    bucket: String,
) -> Result<Vec<String>, BackendError> {
    let what = format!("list schemas of bucket {bucket}");
    let call = Call::tabular(Method::GET, path(&[&bucket]), "schema", txid, what.clone());
    let mut names = Vec::new();
    paged(&ep, call, |body| {
        let resp =
            tabular::ListSchemasResponseRef::read_as_root(body).map_err(|e| bad(&ep, &what, e))?;
        let mut n = 0;
        for entry in resp
            .schemas()
            .map_err(|e| bad(&ep, &what, e))?
            .into_iter()
            .flatten()
        {
            let entry = entry.map_err(|e| bad(&ep, &what, e))?;
            if let Some(name) = entry.name().map_err(|e| bad(&ep, &what, e))? {
                names.push(name.to_owned());
            }
            n += 1;
        }
        Ok(n)
    })
    .await?;
    Ok(names)
}

pub(super) async fn list_tables(
    ep: Arc<Member>,
    txid: u64,
    bucket: String,
    schema: String,
) -> Result<Vec<TableSummary>, BackendError> {
    let what = format!("list tables of {bucket}/{schema}");
    let call = Call::tabular(
        Method::GET,
        path(&[&bucket, &schema]),
        "table",
        txid,
        what.clone(),
    )
    .header("tabular-include-list-stats", "False");
    let mut tables = Vec::new();
    paged(&ep, call, |body| {
        let resp =
            tabular::ListTablesResponseRef::read_as_root(body).map_err(|e| bad(&ep, &what, e))?;
        let mut n = 0;
        for entry in resp
            .tables()
            .map_err(|e| bad(&ep, &what, e))?
            .into_iter()
            .flatten()
        {
            let entry = entry.map_err(|e| bad(&ep, &what, e))?;
            n += 1;
            let Some(name) = entry.name().map_err(|e| bad(&ep, &what, e))? else {
                continue;
            };
            tables.push(TableSummary {
                table: TableRef {
                    bucket: bucket.clone(),
                    schema: schema.clone(),
                    table: name.to_owned(),
                },
                num_rows: entry.num_rows().map_err(|e| bad(&ep, &what, e))?,
                size_bytes: entry.size_in_bytes().map_err(|e| bad(&ep, &what, e))?,
            });
        }
        Ok(n)
    })
    .await?;
    Ok(tables)
}

pub(super) async fn describe(
    ep: Arc<Member>,
    txid: u64,
    table: TableRef,
) -> Result<TableMeta, BackendError> {
    let p = path(&[&table.bucket, &table.schema, &table.table]);
    let what = format!("columns of table {table}");
    let mut fields = Vec::new();
    let call = Call::tabular(Method::GET, p.clone(), "column", txid, what.clone());
    paged(&ep, call, |body| {
        let reader =
            StreamReader::try_new(Cursor::new(body), None).map_err(|e| bad(&ep, &what, e))?;
        let schema = reader.schema();
        fields.extend(schema.fields().iter().map(|f| f.as_ref().clone()));
        Ok(schema.fields().len())
    })
    .await?;
    let what = format!("stats of table {table}");
    let call = Call::tabular(Method::GET, p, "stats", txid, what.clone());
    let (_, body) = ep.send_full(&call).await?;
    let stats =
        tabular::GetTableStatsResponseRef::read_as_root(&body).map_err(|e| bad(&ep, &what, e))?;
    let num_rows = u64::try_from(stats.num_rows().map_err(|e| bad(&ep, &what, e))?).unwrap_or(0);
    let size_bytes =
        u64::try_from(stats.size_in_bytes().map_err(|e| bad(&ep, &what, e))?).unwrap_or(0);
    Ok(TableMeta {
        schema: Arc::new(Schema::new(fields)),
        num_rows,
        size_bytes,
        num_row_groups: num_rows.div_ceil(ROW_GROUP_ROWS),
        int_ranges: Default::default(),
    })
}
