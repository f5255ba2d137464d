//! `scan`: one split read page by page with `query_data`, resumed from the last complete page
//! of every sub-split on the next endpoint after a retryable failure; the full filter is
//! applied exactly to every decoded page, then the requested columns are kept.

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

use super::{
    VastBackend, breaker,
    client::{Call, Endpoint, is_slow_down, path},
    request::query_body,
    response::Decoder,
    tx::{begin, end, keep_alive},
};
use crate::{
    backend::{BackendError, ScanRequest, Split, SplitStream, TableMeta, TableRef},
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
    endpoints: Vec<Endpoint>,
    first: usize,
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
    let n = backend.endpoints.len();
    Ok(Job {
        endpoints: backend.endpoints.clone(),
        first: split.index as usize % n.max(1),
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
        let n = self.endpoints.len();
        let max_failures = (2 * n).max(4);
        let mut cur = breaker::pick(&self.endpoints, self.first, None);
        let mut starts = vec![0u64; self.num_sub_splits as usize];
        let mut failures = 0usize;
        let mut txid = None;
        let mut _keepalive = None;
        while starts.iter().any(|s| *s != INVALID_ROW_ID) {
            let ep = &self.endpoints[cur];
            let attempt = match txid {
                Some(id) => self.request(ep, id, &mut starts, tx).await,
                None => match begin(ep).await {
                    Ok(id) => {
                        txid = Some(id);
                        _keepalive = KeepAlive::start(&self.endpoints, id, self.tx_keepalive);
                        self.request(ep, id, &mut starts, tx).await
                    }
                    Err(e) => Err(e),
                },
            };
            match attempt {
                Ok(true) => failures = 0,
                Ok(false) => break, // the consumer is gone
                Err(e) if e.is_retryable() && failures < max_failures => {
                    failures += 1;
                    tracing::warn!(
                        split = self.split.index,
                        attempt = failures,
                        "{}: {e}; resuming on the next endpoint",
                        self.table
                    );
                    if is_slow_down(&e) {
                        let ms = (50u64 << failures.min(6)).min(2_000);
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    // A transaction begun on one endpoint is valid on every other.
                    cur = breaker::pick(&self.endpoints, cur + 1, Some(cur));
                }
                Err(e) => {
                    if let Some(id) = txid {
                        let _ = end(ep, id, Method::DELETE).await;
                    }
                    return Err(e);
                }
            }
        }
        if let Some(id) = txid
            && let Err(e) = end(&self.endpoints[cur], id, Method::PUT).await
        {
            tracing::warn!(
                "{}: commit of read transaction {id} failed: {e}",
                self.table
            );
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

    /// One `query_data` round trip: every complete page is filtered, sent on and recorded in
    /// `starts`. `Ok(false)` when the consumer is gone.
    async fn request(
        &self,
        ep: &Endpoint,
        txid: u64,
        starts: &mut [u64],
        tx: &mpsc::Sender<Result<RecordBatch, BackendError>>,
    ) -> Result<bool, BackendError> {
        let call = self.call(txid, starts);
        let data_error = |message: String| BackendError::Data {
            location: ep.url.clone(),
            message: format!("{}: {message}", call.what),
        };
        // A consumer that goes away stops the read at once, even while the endpoint stalls.
        let response = tokio::select! {
            biased;
            () = tx.closed() => return Ok(false),
            response = ep.send(&call) => response?,
        };
        let mut body = response.into_body();
        let mut decoder = Decoder::new(self.queried);
        let mut progressed = false;
        while !decoder.is_done() {
            let chunk = tokio::select! {
                biased;
                () = tx.closed() => return Ok(false),
                chunk = ep.next_chunk(&call, &mut body) => chunk?,
            };
            let Some(chunk) = chunk else {
                break;
            };
            for page in decoder.push(chunk).map_err(data_error)? {
                let sub = page.sub_split as usize;
                let Some(start) = starts.get_mut(sub) else {
                    return Err(data_error(format!("page of unknown sub-split {sub}")));
                };
                if *start == INVALID_ROW_ID {
                    continue; // already exhausted: nothing new
                }
                let out = self.output(page.batch).map_err(data_error)?;
                *start = page.next_row_id;
                progressed = true;
                if out.num_rows() > 0 && tx.send(Ok(out)).await.is_err() {
                    return Ok(false);
                }
            }
        }
        decoder.finish().map_err(|m| BackendError::Unavailable {
            endpoint: ep.url.clone(),
            message: format!("{}: {m}", call.what),
        })?;
        if !progressed {
            return Err(data_error("the response carried no page".to_owned()));
        }
        Ok(true)
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

/// Pings a read transaction every interval while the split is read; stops when dropped.
#[derive(Debug)]
struct KeepAlive(tokio::task::JoinHandle<()>);

impl KeepAlive {
    fn start(endpoints: &[Endpoint], txid: u64, every: Duration) -> Option<Self> {
        if every.is_zero() {
            return None;
        }
        let endpoints = endpoints.to_vec();
        Some(Self(tokio::spawn(async move {
            let mut next = 0;
            loop {
                tokio::time::sleep(every).await;
                // Any endpoint will do: the transaction belongs to the cluster.
                let i = breaker::pick(&endpoints, next, None);
                next = i + 1;
                if let Err(e) = keep_alive(&endpoints[i], txid).await {
                    tracing::debug!("keep-alive of transaction {txid} failed: {e}");
                }
            }
        })))
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}
