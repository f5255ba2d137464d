//! `scan`: one split read page by page with `query_data`, hedged on another endpoint when it
//! straggles and resumed from the last complete page of every sub-split on another endpoint
//! after a retryable failure; the full filter is applied exactly to every decoded page, then
//! the requested columns are kept.

use std::{sync::Arc, time::Duration};

use arrow::{
    compute::filter_record_batch,
    datatypes::{Schema, SchemaRef},
    record_batch::{RecordBatch, RecordBatchOptions},
};
use bytes::Bytes;
use futures::StreamExt;
use http::Method;
use tokio::sync::mpsc;

use tokio::time::Instant;

use super::{
    VastBackend,
    attempt::{Attempt, Target},
    client::{Call, is_slow_down, path},
    read_tx::{KeepAlive, begin_hedged, end_in_background},
    request::query_body,
};
use crate::{
    backend::{BackendError, EndpointLog, ScanRequest, Split, SplitStream, TableMeta, TableRef},
    cluster::Cluster,
    predicate::{Predicate, evaluate},
    vast_protocol::frames::INVALID_ROW_ID,
};

/// Row groups a sub-split reads before skipping (the SDK's default).
const ROW_GROUPS_PER_SUB_SPLIT: u32 = 8;
/// Pages buffered between the reader task and the consumer.
const CHANNEL_BATCHES: usize = 2;

/// Everything one split read needs, owned by its task.
#[derive(Debug)]
pub(super) struct Job {
    cluster: Arc<Cluster>,
    /// The query's list of endpoints that served it.
    endpoints: EndpointLog,
    path: String,
    table: String,
    body: Bytes,
    split: Split,
    num_sub_splits: u32,
    limit_rows: u64,
    priority: u32,
    /// Columns per page as queried (requested, then filter-only).
    queried: usize,
    predicate: Option<Predicate>,
    /// The output: the first `out_schema.fields().len()` queried columns.
    out_schema: SchemaRef,
    /// Interval of transaction keep-alives (zero: none).
    tx_keepalive: Duration,
}

/// The stream of batches of one split.
pub(super) fn scan(
    backend: &VastBackend,
    table: &TableRef,
    meta: &TableMeta,
    req: &ScanRequest,
    split: Split,
) -> SplitStream {
    match prepare(backend, table, meta, req, split) {
        Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        Ok(job) => {
            let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
            tokio::spawn(async move {
                if let Err(e) = job.run(&tx).await {
                    let _ = tx.send(Err(e)).await;
                }
            });
            tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
        }
    }
}

pub(super) fn prepare(
    backend: &VastBackend,
    table: &TableRef,
    meta: &TableMeta,
    req: &ScanRequest,
    split: Split,
) -> Result<Job, BackendError> {
    let schema = &meta.schema;
    let mut columns: Vec<usize> = match &req.projection {
        Some(p) => p.clone(),
        None => (0..schema.fields().len()).collect(),
    };
    if let Some(bad) = columns.iter().find(|i| **i >= schema.fields().len()) {
        return Err(BackendError::Invalid(format!(
            "column index {bad} is outside table {table}"
        )));
    }
    let out_schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|i| schema.field(*i).clone())
            .collect::<Vec<_>>(),
    ));
    if let Some(p) = &req.predicate {
        for name in p.columns() {
            let i = schema.index_of(name).map_err(|_| {
                BackendError::Invalid(format!("filter column `{name}` is not in table {table}"))
            })?;
            if !columns.contains(&i) {
                columns.push(i);
            }
        }
    }
    let fields: Vec<_> = columns.iter().map(|i| schema.field(*i)).collect();
    let (body, pushed) = query_body(&fields, req.predicate.as_ref())?;
    tracing::debug!(%table, pushed, "query_data filter conjuncts pushed down");
    let bucket = backend.bucket(&table.bucket)?.to_owned();
    Ok(Job {
        cluster: Arc::clone(&backend.cluster),
        endpoints: req.endpoints.clone(),
        path: path(&[&bucket, &table.schema, &table.table]),
        table: format!("{bucket}/{}.{}", table.schema, table.table),
        body: Bytes::from(body),
        split,
        num_sub_splits: req.num_sub_splits.max(1),
        limit_rows: req.limit_rows_per_sub_split,
        priority: req.priority,
        queried: columns.len(),
        predicate: req.predicate.clone(),
        out_schema,
        tx_keepalive: backend.tx_keepalive,
    })
}

impl Job {
    /// Reads the split to its end; `Ok` also when the consumer went away.
    async fn run(
        &self,
        tx: &mpsc::Sender<Result<RecordBatch, BackendError>>,
    ) -> Result<(), BackendError> {
        let cluster = &self.cluster;
        let max_failures = (2 * cluster.members().len()).max(4);
        let mut starts = vec![0u64; self.num_sub_splits as usize];
        let mut failures = 0usize;
        let mut failed_on = None;
        let mut txid = None;
        let mut _keepalive = None;
        while starts.iter().any(|s| *s != INVALID_ROW_ID) {
            let attempt = match txid {
                Some(id) => self.read(id, &mut starts, tx, failed_on).await,
                None => match begin_hedged(cluster, failed_on).await {
                    Ok(id) => {
                        txid = Some(id);
                        _keepalive = KeepAlive::start(cluster, id, self.tx_keepalive);
                        self.read(id, &mut starts, tx, failed_on).await
                    }
                    Err(e) => Err(e),
                },
            };
            match attempt {
                Ok(Flow::Progress) => {
                    failures = 0;
                    failed_on = None;
                }
                Ok(Flow::ConsumerGone) => break,
                Err((e, member)) if e.is_retryable() && failures < max_failures => {
                    failures += 1;
                    failed_on = member;
                    cluster.resumed();
                    tracing::warn!(
                        split = self.split.index,
                        attempt = failures,
                        "{}: {e}; resuming on another endpoint",
                        self.table
                    );
                    if is_slow_down(&e) {
                        let ms = (50u64 << failures.min(6)).min(2_000);
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                }
                Err((e, _)) => {
                    if let Some(id) = txid {
                        end_in_background(cluster, id, Method::DELETE);
                    }
                    return Err(e);
                }
            }
        }
        // The rows are delivered: the split need not wait for its commit.
        if let Some(id) = txid {
            end_in_background(cluster, id, Method::PUT);
        }
        Ok(())
    }

    pub(super) fn call(&self, txid: u64, starts: &[u64]) -> Call {
        let what = format!(
            "query_data of {} split {}/{}",
            self.table, self.split.index, self.split.count
        );
        let mut call = Call::tabular(Method::GET, self.path.clone(), "data", txid, what)
            .header(
                "tabular-split",
                format!(
                    "{},{},{ROW_GROUPS_PER_SUB_SPLIT}",
                    self.split.index, self.split.count
                ),
            )
            .header("tabular-num-of-subsplits", self.num_sub_splits)
            .header("tabular-request-format", "string")
            .header("tabular-response-format", "string")
            .header("tabular-enable-sorted-projections", "True");
        if self.limit_rows > 0 {
            call = call.header("tabular-limit-rows", self.limit_rows);
        }
        if self.priority > 0 {
            call = call.header("tabular-schedule-id", self.priority);
        }
        for (i, start) in starts.iter().enumerate() {
            call = call.header(&format!("tabular-start-row-id-{i}"), format!("{i},{start}"));
        }
        call.body = self.body.clone();
        call
    }

    /// One `query_data` round: a request from `starts` (through the balancer, or to the best
    /// member but `failed_on` after a failure), hedged on another member when it straggles.
    /// Every complete page of the winning request is filtered, sent on and recorded in
    /// `starts`; the loser is dropped before it delivers anything, so no row is lost or
    /// repeated. An error names the member that failed, when known.
    async fn read(
        &self,
        txid: u64,
        starts: &mut [u64],
        tx: &mpsc::Sender<Result<RecordBatch, BackendError>>,
        failed_on: Option<usize>,
    ) -> Result<Flow, (BackendError, Option<usize>)> {
        let cluster = &self.cluster;
        let target = match failed_on {
            None => Target::Balanced,
            Some(bad) => Target::Member(cluster.best(Some(bad))),
        };
        let mut primary = self.attempt(target, txid, starts);
        let mut hedge: Option<Attempt> = None;
        let mut may_hedge = true;
        let mut last_page = Instant::now();
        let mut progressed = false;
        loop {
            let hedge_at = if hedge.is_none() && may_hedge {
                let delay = match primary.member().and_then(|i| cluster.member(i)) {
                    Some(member) => cluster.hedging().delay(member),
                    None => cluster.hedging().delay_any(cluster.members()),
                };
                delay.map(|d| last_page + d)
            } else {
                None
            };
            let hedge_pages = async {
                match hedge.as_mut() {
                    Some(h) => h.pages.next().await,
                    None => std::future::pending().await,
                }
            };
            let winner_pages = tokio::select! {
                biased;
                () = tx.closed() => return Ok(Flow::ConsumerGone),
                item = primary.pages.next() => match item {
                    Some(Ok(pages)) => pages,
                    None if progressed => return Ok(Flow::Progress),
                    None => {
                        let error = BackendError::Data {
                            location: self.table.clone(),
                            message: "a query_data response carried no page".to_owned(),
                        };
                        return Err((error, primary.member()));
                    }
                    Some(Err(e)) => match hedge.take() {
                        // The straggler failed: its hedge carries on alone.
                        Some(h) => {
                            primary = h;
                            may_hedge = false;
                            continue;
                        }
                        None => return Err((e, primary.member())),
                    },
                },
                item = hedge_pages => match item {
                    Some(Ok(pages)) if !pages.is_empty() => {
                        // The hedge delivered first: the straggler is dropped (cancelled).
                        if let Some(h) = hedge.take() {
                            primary = h;
                        }
                        pages
                    }
                    Some(Ok(_)) => continue,
                    // A hedge that failed or ended without a page leaves the primary alone.
                    Some(Err(_)) | None => {
                        hedge = None;
                        may_hedge = false;
                        continue;
                    }
                },
                () = sleep_until_or_never(hedge_at) => {
                    let avoid = primary.member();
                    let other = cluster.best(avoid);
                    if avoid.is_some() && Some(other.index) != avoid && cluster.hedging().try_hedge() {
                        tracing::debug!(split = self.split.index, endpoint = %other.url, "{}: hedging a straggling split read", self.table);
                        cluster.hedged(&other);
                        self.endpoints.hedged(self.split.index);
                        hedge = Some(self.attempt(Target::Member(other), txid, starts));
                    } else {
                        may_hedge = false;
                    }
                    continue;
                }
            };
            if winner_pages.is_empty() {
                continue;
            }
            if hedge.take().is_some() {
                tracing::debug!(
                    split = self.split.index,
                    "{}: the straggler answered first; hedge dropped",
                    self.table
                );
            }
            if let Some(member) = primary.member().and_then(|i| cluster.member(i)) {
                member.stats.page_gap(last_page.elapsed());
                self.endpoints.add(self.split.index, &member.url);
            }
            let serving = primary.member();
            let location = || {
                serving
                    .and_then(|i| cluster.member(i))
                    .map_or_else(|| self.table.clone(), |m| m.url.clone())
            };
            for page in winner_pages {
                let sub = page.sub_split as usize;
                let Some(start) = starts.get_mut(sub) else {
                    let error = BackendError::Data {
                        location: location(),
                        message: format!("page of unknown sub-split {sub}"),
                    };
                    return Err((error, serving));
                };
                if *start == INVALID_ROW_ID {
                    continue; // already exhausted: nothing new
                }
                let out = self.output(page.batch).map_err(|message| {
                    let error = BackendError::Data {
                        location: location(),
                        message,
                    };
                    (error, serving)
                })?;
                *start = page.next_row_id;
                progressed = true;
                if out.num_rows() > 0 && tx.send(Ok(out)).await.is_err() {
                    return Ok(Flow::ConsumerGone);
                }
            }
            // Time spent waiting for the consumer is not the endpoint's.
            last_page = Instant::now();
        }
    }

    fn attempt(&self, target: Target, txid: u64, starts: &[u64]) -> Attempt {
        Attempt::start(
            Arc::clone(&self.cluster),
            target,
            self.call(txid, starts),
            self.queried,
        )
    }

    /// A decoded page → the filtered, projected output batch.
    fn output(&self, page: RecordBatch) -> Result<RecordBatch, String> {
        if page.num_columns() != self.queried {
            return Err(format!(
                "page has {} columns, expected {}",
                page.num_columns(),
                self.queried
            ));
        }
        let page = match &self.predicate {
            None => page,
            Some(p) => {
                // Filter columns are looked up by name: name the page's columns as queried.
                let mask = evaluate(p, &page).map_err(|e| format!("filter: {e}"))?;
                filter_record_batch(&page, &mask).map_err(|e| format!("filter: {e}"))?
            }
        };
        let keep = self.out_schema.fields().len();
        RecordBatch::try_new_with_options(
            Arc::clone(&self.out_schema),
            page.columns()[..keep].to_vec(),
            &RecordBatchOptions::new().with_row_count(Some(page.num_rows())),
        )
        .map_err(|e| format!("page does not match the table schema: {e}"))
    }
}

/// How a round of a split read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Pages arrived; the split may go on.
    Progress,
    /// The consumer went away.
    ConsumerGone,
}

/// Sleeps until `at`; never wakes without one.
async fn sleep_until_or_never(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
