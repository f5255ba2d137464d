//! The front half of every read: resolve the table, validate columns and filter, plan splits.

use crate::{
    backend::{TableMeta, TableRef},
    error::Error,
    exec::ScanPlan,
    plan::{self, QueryKind, ReadSpec},
    predicate::Predicate,
    proto,
};
use arrow::datatypes::Schema;

use super::tracked::Tracked;

/// What a request asks to read.
#[derive(Debug, Default)]
pub(crate) struct ReadArgs<'a> {
    pub(crate) table: Option<&'a proto::TableRef>,
    /// Output columns; empty = all.
    pub(crate) columns: &'a [String],
    pub(crate) filter: Option<&'a proto::Filter>,
    pub(crate) limit: u64,
    pub(crate) hints: Option<&'a proto::QueryHints>,
    /// Output no columns at all (Count).
    pub(crate) no_columns: bool,
    /// What the rows are for, which the planner sizes the read by.
    pub(crate) kind: QueryKind,
}

/// Resolves, validates and plans a read; records table, cache use and splits in the query log.
pub(crate) async fn prepare(tracked: &Tracked, args: ReadArgs<'_>) -> Result<ScanPlan, Error> {
    let (table, meta) = describe(tracked, args.table, args.hints).await?;
    plan_read(tracked, table, meta, &args).await
}

/// Resolves the table and reads its metadata through the catalog; records table and cache
/// use in the query log.
pub(crate) async fn describe(
    tracked: &Tracked,
    table: Option<&proto::TableRef>,
    hints: Option<&proto::QueryHints>,
) -> Result<(TableRef, TableMeta), Error> {
    let table = table_ref(table)?;
    tracked.query.set_table(&table);
    tracked.caller.check_read(&table.schema)?;
    let bypass = hints.is_some_and(|h| h.bypass_cache);
    let described = tracked.state.catalog.describe(&table, bypass).await?;
    tracked.query.set_cache_hit(described.from_cache);
    Ok((table, described.entry.meta.clone()))
}

/// Validates columns and filter of `args` against `meta` and plans the splits (for a caller
/// that has described the table already, see [`describe`]).
pub(crate) async fn plan_read(
    tracked: &Tracked,
    table: TableRef,
    meta: TableMeta,
    args: &ReadArgs<'_>,
) -> Result<ScanPlan, Error> {
    let projection = if args.no_columns {
        Some(Vec::new())
    } else {
        projection(&meta.schema, args.columns)?
    };
    let predicate = Predicate::from_proto(args.filter, &meta.schema)?;
    let backend = tracked.state.executor.backend();
    let filter = backend
        .filter_report(&table, &meta, predicate.as_ref())
        .await?;
    let endpoints = backend.endpoints();
    let healthy_endpoints = (backend.kind() != "local").then(|| {
        let healthy = endpoints.iter().filter(|e| e.healthy).count();
        u32::try_from(healthy).unwrap_or(u32::MAX)
    });
    let plan = plan::plan(
        ReadSpec {
            table,
            meta,
            projection,
            predicate,
            limit: args.limit,
            hints: args.hints.cloned(),
            kind: args.kind,
            filter,
            healthy_endpoints,
            cores: plan::available_cores(),
        },
        &tracked.state.config.exec,
    );
    tracked.query.set_splits(plan.num_splits);
    Ok(plan)
}

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

/// Column names → indexes in `schema`, in request order. Empty means all columns.
fn projection(schema: &Schema, columns: &[String]) -> Result<Option<Vec<usize>>, Error> {
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
