//! `GET /{bucket}/{schema}/{table}?data`: decode the relation, then stream one page per active
//! sub-split, the sub-splits' frames interleaved, then the done marker.

use std::sync::Arc;

use arrow::datatypes::{Field, Schema};
use axum::{
    body::{Body, Bytes},
    response::Response,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{
    Emulator,
    call::{Call, S3Error, backend_error, table_ref},
    faults::StreamFault,
    filter,
    pages::{Layout, Page, Reader},
};
use crate::vast_protocol::{frames, relation};

/// Frames buffered between the page reader and the socket.
const CHANNEL_FRAMES: usize = 64;

/// The error that makes hyper drop the connection (an injected fault).
#[derive(Debug, thiserror::Error)]
#[error("injected fault: connection dropped")]
struct Dropped;

fn parse_split(call: &Call) -> Result<Layout, S3Error> {
    let text = call.header("tabular-split").unwrap_or("0,1,8");
    let parts: Vec<u64> = text
        .split(',')
        .map(|p| p.trim().parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            S3Error::bad_request(format!("tabular-split: `{text}` is not id,count,rgps"))
        })?;
    let [split, num_splits, rgps] = parts[..] else {
        return Err(S3Error::bad_request(format!(
            "tabular-split: `{text}` is not id,count,rgps"
        )));
    };
    let num_sub_splits: u64 = call.header_num("tabular-num-of-subsplits")?.unwrap_or(1);
    if num_splits == 0 || split >= num_splits || num_sub_splits == 0 || num_sub_splits > 1024 {
        return Err(S3Error::bad_request(format!(
            "bad split {split} of {num_splits} with {num_sub_splits} sub-splits"
        )));
    }
    Ok(Layout {
        split,
        num_splits,
        rgps: rgps.max(1),
        num_sub_splits,
    })
}

fn start_row_id(call: &Call, sub: u64) -> Result<u64, S3Error> {
    let name = format!("tabular-start-row-id-{sub}");
    match call.header(&name) {
        None => Ok(0),
        Some(text) => text
            .split_once(',')
            .and_then(|(_, row)| row.trim().parse().ok())
            .ok_or_else(|| S3Error::bad_request(format!("{name}: `{text}` is not sub,row_id"))),
    }
}

async fn reader(state: &Arc<Emulator>, call: &Call) -> Result<Reader, S3Error> {
    let relation = relation::decode(&call.body).map_err(|e| S3Error::bad_request(e.to_string()))?;
    let files = state
        .local
        .table_files(&table_ref(call))
        .await
        .map_err(backend_error)?;
    let table = Arc::clone(files.schema());
    let predicate = filter::predicate(&relation, &table)?;
    let positions = relation.positions();
    let mut projected = Vec::with_capacity(relation.projection.len());
    for p in &relation.projection {
        match positions.get(*p as usize) {
            Some((top, true)) => {
                let name = &relation.schema[*top].name;
                let index = table
                    .index_of(name)
                    .map_err(|_| S3Error::bad_request(format!("no column `{name}`")))?;
                projected.push(index);
            }
            Some((_, false)) => {
                return Err(S3Error::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "TabularUnsupportedColumnType",
                    "the emulator serves top-level columns only (no nested leaves)",
                ));
            }
            None => {
                return Err(S3Error::bad_request(format!(
                    "projection position {p} is outside the schema"
                )));
            }
        }
    }
    let mut read_columns = projected.clone();
    if let Some(p) = &predicate {
        for c in p.columns() {
            if let Ok(i) = table.index_of(c) {
                read_columns.push(i);
            }
        }
    }
    read_columns.sort_unstable();
    read_columns.dedup();
    let output = projected
        .iter()
        .map(|i| read_columns.binary_search(i).unwrap_or(0))
        .collect();
    let fields: Vec<Field> = projected.iter().map(|i| table.field(*i).clone()).collect();
    Ok(Reader {
        slices: files.row_group_slices(),
        read_columns,
        output,
        output_schema: Arc::new(Schema::new(fields)),
        predicate,
    })
}

/// Encoded frames of one page, shared between the cache and responses.
pub(super) type Frames = Arc<Vec<Bytes>>;

/// What identifies one page: table path, relation body, split layout, sub-split, start, limit.
pub(super) type PageKey = (String, Bytes, [u64; 7]);

/// Serves one `query_data` request.
pub(super) async fn query_data(state: &Arc<Emulator>, call: Call) -> Result<Response, S3Error> {
    let layout = parse_split(&call)?;
    let limit: u64 = call.header_num("tabular-limit-rows")?.unwrap_or(0);
    let mut starts = Vec::new();
    for sub in 0..layout.num_sub_splits {
        let start = start_row_id(&call, sub)?;
        if start != frames::INVALID_ROW_ID {
            starts.push((sub, start));
        }
    }
    let reader = Arc::new(reader(state, &call).await?);
    state
        .query_data_calls
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let fault = state.faults.for_query()?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, Dropped>>(CHANNEL_FRAMES);
    let pages = Pages {
        cache: state.page_cache.clone(),
        path: call.segments.join("/"),
        body: call.body.clone(),
        reader,
        layout,
        limit,
    };
    tokio::spawn(produce(pages, starts, fault, tx));
    Ok(Response::new(Body::from_stream(ReceiverStream::new(rx))))
}

/// Where a response's pages come from: the cache of encoded pages, else the reader.
struct Pages {
    cache: Option<moka::future::Cache<PageKey, Frames>>,
    path: String,
    body: Bytes,
    reader: Arc<Reader>,
    layout: Layout,
    limit: u64,
}

impl Pages {
    /// The encoded frames of sub-split `sub`'s page from `start`.
    async fn frames(&self, sub: u64, start: u64) -> Result<Frames, String> {
        let l = &self.layout;
        let key: PageKey = (
            self.path.clone(),
            self.body.clone(),
            [
                l.split,
                l.num_splits,
                l.rgps,
                l.num_sub_splits,
                sub,
                start,
                self.limit,
            ],
        );
        if let Some(cache) = &self.cache
            && let Some(frames) = cache.get(&key).await
        {
            return Ok(frames);
        }
        let (reader, layout, limit) = (Arc::clone(&self.reader), self.layout, self.limit);
        let frames = tokio::task::spawn_blocking(move || {
            let Page { batch, next_row_id } = reader.page(&layout, sub, start, limit)?;
            frames::encode_page(sub as u32, next_row_id, &batch).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("page task failed: {e}"))??;
        let frames: Frames = Arc::new(frames.into_iter().map(Bytes::from).collect());
        if let Some(cache) = &self.cache {
            cache.insert(key, Arc::clone(&frames)).await;
        }
        Ok(frames)
    }
}

async fn produce(
    pages: Pages,
    starts: Vec<(u64, u64)>,
    fault: StreamFault,
    tx: mpsc::Sender<Result<Bytes, Dropped>>,
) {
    // Read and encode every active sub-split's page in parallel, then interleave their frames
    // round-robin.
    let pages = futures::future::join_all(
        starts
            .into_iter()
            .map(|(sub, start)| pages.frames(sub, start)),
    )
    .await;
    let mut streams = Vec::with_capacity(pages.len());
    for page in pages {
        match page {
            Ok(frames) => streams.push((frames, 0usize)),
            Err(message) => {
                tracing::warn!("query_data failed: {message}");
                let _ = tx.send(Ok(Bytes::from(frames::failed(1)))).await;
                return;
            }
        }
    }
    let mut sent = 0u64;
    loop {
        let mut any = false;
        for (frames, next) in &mut streams {
            let Some(frame) = frames.get(*next).cloned() else {
                continue;
            };
            *next += 1;
            any = true;
            if fault.drop_after.is_some_and(|n| sent >= n) {
                let _ = tx.send(Err(Dropped)).await;
                return;
            }
            if let Some((n, pause)) = fault.stall_after
                && sent == n
            {
                tokio::time::sleep(pause).await;
            }
            if tx.send(Ok(frame)).await.is_err() {
                return; // client gone
            }
            sent += 1;
        }
        if !any {
            break;
        }
    }
    let _ = tx.send(Ok(Bytes::from(frames::done()))).await;
}
