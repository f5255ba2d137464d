//! A typed analytic answered from partial states per closed time bucket where its state
//! merges ([`Incremental`]) and its filter bounds a time range: the cached buckets are
//! looked up, only the rest of the range is scanned (one scan, the time bounds pushed
//! down), the closed buckets just scanned are kept, and the answer is merged from all.
//! Anything else — and any request the cache cannot help — is answered as before.

use std::{collections::BTreeSet, sync::Arc};

use arrow::{
    array::{Array, AsArray, RecordBatch, UInt32Array},
    compute::take_record_batch,
    datatypes::{Int64Type, Schema},
};

use super::{
    analytic::AnalyticRequest, read::describe, rerun::run_to_end, tracked::Tracked, typed::answer,
};
use crate::{
    analytics::{AnalyticPlan, AnalyticsError},
    error::Error,
    partials::{
        PartialKey, PartialState,
        key::KeyParts,
        range::TimeRange,
        states::{Incremental, StatePlan, bucket_numbers},
    },
    plan::QueryKind,
    proto,
};

/// Answers `request`, from cached partial states where it can.
pub(crate) async fn answer_incremental<R>(
    tracked: &Tracked,
    request: R,
    method: &str,
) -> Result<R::Response, Error>
where
    R: Incremental + AnalyticRequest + Send + Sync + 'static,
    R::Response: Send + 'static,
{
    let Usable::Yes(setup) = setup(tracked, &request).await? else {
        return answer(tracked, request, method).await;
    };
    let request = Arc::new(request);
    let states = gather(tracked, &request, *setup).await?;
    let max_rows = tracked.state.config.engine.max_response_rows;
    let finish = {
        let request = Arc::clone(&request);
        move || request.finish(&states)
    };
    let response = tokio::task::spawn_blocking(finish)
        .await
        .map_err(|err| Error::Internal(format!("merging partial states: {err}")))??;
    let rows = R::answer_rows(&response);
    if rows as u64 > max_rows {
        return Err(Error::InvalidArgument(format!(
            "{method} would return more than {max_rows} rows (engine.max_response_rows); \
             narrow the filter, or stream bulk results with Sql or Arrow Flight"
        )));
    }
    tracked.query.add_rows_returned(rows as u64);
    Ok(response)
}

/// What a cacheable request reads: its time range, state query and key.
struct Setup {
    range: TimeRange,
    state: StatePlan,
    key: PartialKey,
    /// The buckets of the range that are closed: cached, or kept once scanned.
    closed: Vec<i64>,
}

/// Whether the cache can help a request.
enum Usable {
    Yes(Box<Setup>),
    /// Why not (cache off or bypassed, no time range, a state that does not merge, too many
    /// buckets, an invalid request — which the uncached path then reports).
    No(String),
}

/// The cache's view of `request`.
async fn setup<R>(tracked: &Tracked, request: &R) -> Result<Usable, Error>
where
    R: Incremental + AnalyticRequest,
{
    let config = &tracked.state.config.cache.partials;
    let no = |why: &str| Ok(Usable::No(why.to_owned()));
    if !config.enabled {
        return no("off (cache.partials.enabled = false)");
    }
    if request.hints().is_some_and(|h| h.bypass_cache) {
        return no("bypassed (hints.bypass_cache)");
    }
    let no_range = "not used: the filter bounds no timestamp column below and above with \
                    literals joined by AND";
    if !TimeRange::possible(request.filter()) {
        return no(no_range);
    }
    let (table, meta) = describe(tracked, request.table(), request.hints()).await?;
    let schema: &Schema = &meta.schema;
    let Some(range) = TimeRange::find(request.filter(), schema, request.time_column()) else {
        return no(no_range);
    };
    let bucket = i64::try_from(config.bucket.as_micros()).unwrap_or(i64::MAX);
    let Ok(Some(state)) = request.state_plan(schema, &range.column, bucket) else {
        return no("not used: this request's state does not merge exactly");
    };
    let width = state.width();
    let whole = range.whole_buckets(width);
    if (whole.end - whole.start) as u64 > config.max_buckets {
        return Ok(Usable::No(format!(
            "not used: {} buckets, more than cache.partials.max_buckets {}",
            whole.end - whole.start,
            config.max_buckets
        )));
    }
    let version = tracked
        .state
        .executor
        .backend()
        .data_version(&table, &range.column)
        .await?;
    let closed: Vec<i64> = match &version {
        Some(_) => whole.collect(),
        None => {
            // No data version: a bucket is final once it ended `immutable_after` ago.
            let now = chrono::Utc::now().timestamp_micros();
            let horizon = now - i64::try_from(config.immutable_after.as_micros()).unwrap_or(0);
            whole
                .filter(|b| b.saturating_add(1).saturating_mul(width) <= horizon)
                .collect()
        }
    };
    let state_sql = format!("{}|unit={}", state.plan.query.sql, state.unit);
    let key = PartialKey::new(&KeyParts {
        table: &table.to_string(),
        schema,
        rest: &range.rest,
        state: &state_sql,
        width,
        version: version.as_ref(),
    });
    Ok(Usable::Yes(Box::new(Setup {
        range,
        state,
        key,
        closed,
    })))
}

/// The state rows of every bucket of the range: cached ones, and the rest scanned (the
/// closed buckets among them kept).
async fn gather<R>(
    tracked: &Tracked,
    request: &Arc<R>,
    setup: Setup,
) -> Result<Vec<RecordBatch>, Error>
where
    R: Incremental + AnalyticRequest,
{
    let cache = &tracked.state.partials;
    let cached = cache.get_many(&setup.key, &setup.closed).await;
    let cached_buckets: Vec<i64> = cached.iter().map(|(b, _)| *b).collect();
    let width = setup.state.width();
    let mut states: Vec<RecordBatch> = cached.iter().filter_map(|(_, s)| s.batch.clone()).collect();
    let Some(filter) = setup.range.uncovered_filter(width, &cached_buckets) else {
        return Ok(states);
    };
    let scan = UncoveredScan {
        request: request.as_ref(),
        filter,
    };
    let plan = setup.state.plan.clone();
    let plan_fn = |_: &Schema| Ok::<AnalyticPlan, AnalyticsError>(plan.clone());
    let (fresh, _) = run_to_end(tracked, &scan, plan_fn).await?;
    let hit: BTreeSet<i64> = cached_buckets.into_iter().collect();
    let missed: Vec<i64> = setup
        .closed
        .iter()
        .copied()
        .filter(|b| !hit.contains(b))
        .collect();
    match by_bucket(&fresh, setup.state.steps, &missed) {
        Ok(kept) => cache.put_many(&setup.key, kept),
        Err(err) => tracing::warn!(%err, "not caching the buckets just scanned"),
    }
    states.extend(fresh);
    Ok(states)
}

/// The state of each bucket of `buckets` among the rows `fresh` (a bucket without rows has
/// an empty state: it is cached too).
fn by_bucket(
    fresh: &[RecordBatch],
    steps: i64,
    buckets: &[i64],
) -> Result<Vec<(i64, PartialState)>, AnalyticsError> {
    let wanted: BTreeSet<i64> = buckets.iter().copied().collect();
    let mut rows: std::collections::BTreeMap<i64, (u64, Vec<RecordBatch>)> =
        buckets.iter().map(|&b| (b, (0, Vec::new()))).collect();
    for batch in fresh.iter().filter(|b| b.num_rows() > 0) {
        let numbers = bucket_numbers(batch)?;
        let counts = batch
            .column_by_name("__rows")
            .and_then(|c| c.as_primitive_opt::<Int64Type>().cloned())
            .ok_or_else(|| AnalyticsError::Internal("state rows without __rows".to_owned()))?;
        let mut indexes: std::collections::BTreeMap<i64, Vec<u32>> = Default::default();
        for row in 0..batch.num_rows() {
            if numbers.is_null(row) {
                continue;
            }
            let bucket = numbers.value(row).div_euclid(steps);
            if wanted.contains(&bucket) {
                indexes.entry(bucket).or_default().push(row as u32);
            }
        }
        for (bucket, index) in indexes {
            let taken = take_record_batch(batch, &UInt32Array::from(index.clone()))
                .map_err(|e| AnalyticsError::Internal(format!("splitting states: {e}")))?;
            let entry = rows.entry(bucket).or_default();
            entry.0 += index
                .iter()
                .map(|&i| counts.value(i as usize).max(0) as u64)
                .sum::<u64>();
            entry.1.push(taken);
        }
    }
    rows.into_iter()
        .map(|(bucket, (rows, batches))| {
            let batch = crate::partials::states::concat(&batches)?;
            Ok((bucket, PartialState { rows, batch }))
        })
        .collect()
}

/// What the cache would do for a request, for `Explain`: used or why not; the closed buckets
/// of its range and those this replica holds in memory; and what would be scanned.
pub(crate) struct CacheUse {
    pub(crate) description: String,
    pub(crate) buckets: u32,
    pub(crate) cached: u32,
    /// The filter of the uncovered range and the state query run over it; none when the
    /// cache is not used or covers everything.
    pub(crate) scan: Option<(proto::Filter, AnalyticPlan)>,
}

/// [`CacheUse`] of `request`, without counting hits or reading Redis.
pub(crate) async fn cache_use<R>(tracked: &Tracked, request: &R) -> Result<CacheUse, Error>
where
    R: Incremental + AnalyticRequest,
{
    let setup = match setup(tracked, request).await? {
        Usable::Yes(setup) => setup,
        Usable::No(why) => {
            return Ok(CacheUse {
                description: why,
                buckets: 0,
                cached: 0,
                scan: None,
            });
        }
    };
    let held = tracked.state.partials.held(&setup.key, &setup.closed);
    let width = setup.state.width();
    let scan = setup
        .range
        .uncovered_filter(width, &held)
        .map(|filter| (filter, setup.state.plan.clone()));
    let description = match &scan {
        Some(_) => "used: the plan is the scan of the range not cached, and the state query",
        None => "used: every bucket is cached, nothing is scanned (the plan is an uncached call's)",
    };
    Ok(CacheUse {
        description: description.to_owned(),
        buckets: u32::try_from(setup.closed.len()).unwrap_or(u32::MAX),
        cached: u32::try_from(held.len()).unwrap_or(u32::MAX),
        scan,
    })
}

/// The request with its filter narrowed to what the cache does not cover.
pub(crate) struct UncoveredScan<'a, R> {
    pub(crate) request: &'a R,
    pub(crate) filter: proto::Filter,
}

impl<R: AnalyticRequest> AnalyticRequest for UncoveredScan<'_, R> {
    fn table(&self) -> Option<&proto::TableRef> {
        self.request.table()
    }
    fn filter(&self) -> Option<&proto::Filter> {
        Some(&self.filter)
    }
    fn hints(&self) -> Option<&proto::QueryHints> {
        self.request.hints()
    }
    fn kind(&self) -> QueryKind {
        self.request.kind()
    }
}
