//! The front half of every read: resolve the table, validate columns and filter, plan splits.

use crate::{
    api::convert,
    error::Error,
    exec::ScanPlan,
    plan::{self, ReadSpec},
    predicate::Predicate,
    proto,
};

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
}

/// Resolves, validates and plans a read; records table, cache use and splits in the query log.
pub(crate) async fn prepare(tracked: &Tracked, args: ReadArgs<'_>) -> Result<ScanPlan, Error> {
    let state = &tracked.state;
    let table = convert::table_ref(args.table)?;
    tracked.query.set_table(&table);
    let bypass = args.hints.is_some_and(|h| h.bypass_cache);
    let described = state.catalog.describe(&table, bypass).await?;
    tracked.query.set_cache_hit(described.from_cache);
    let meta = described.entry.meta.clone();
    let projection = if args.no_columns {
        Some(Vec::new())
    } else {
        convert::projection(&meta.schema, args.columns)?
    };
    let predicate = Predicate::from_proto(args.filter, &meta.schema)?;
    let plan = plan::plan(
        ReadSpec {
            table,
            meta,
            projection,
            predicate,
            limit: args.limit,
            hints: args.hints.cloned(),
        },
        &state.config.exec,
    );
    tracked.query.set_splits(plan.num_splits);
    Ok(plan)
}
