//! What a worker does for one request, on a blocking thread: run the query over `t` while the
//! batches arrive (the query reads them itself, see [`arrow_stream`]), send coalesced result
//! batches, then drop the per-request input view.

use std::sync::{Mutex, PoisonError};

use arrow::{array::RecordBatch, datatypes::SchemaRef};
use duckdb::Connection;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{
    EngineError, EngineQuery,
    arrow_stream::{self, StreamInput},
    ffi::RawConnection,
    output::Coalescer,
};

/// Everything a worker needs for one request.
#[derive(Debug)]
pub(crate) struct Job {
    /// The query's inputs, each a stream fed by an async pump.
    pub(crate) inputs: Vec<StreamInput>,
    /// The query over the inputs.
    pub(crate) query: EngineQuery,
    /// Told the result schema once the query runs (or the error that stopped it before).
    pub(crate) ready: oneshot::Sender<Result<SchemaRef, EngineError>>,
    /// Result batches, then maybe one error.
    pub(crate) output: mpsc::Sender<Result<RecordBatch, EngineError>>,
    /// Cancelled by the caller, a dropped output, or a dropped `run` future.
    pub(crate) cancel: CancellationToken,
}

/// Runs `job` on `conn` to the end and marks the request inactive, so no interrupt can hit
/// the next request. The input views are dropped on every path ([`arrow_stream::query_over`]).
pub(crate) fn run_job(
    conn: &Connection,
    loader: &mut RawConnection,
    job: Job,
    active: &Mutex<bool>,
) {
    let Job {
        inputs,
        query,
        ready,
        output,
        cancel,
    } = job;
    let mut ready = Some(ready);
    // `inputs` are consumed: dropping them when the query ends lets the pumps stop.
    let result = arrow_stream::query_over(loader, inputs, &cancel, &query.sql, |sql| {
        run_query(conn, sql, &query, &cancel, &mut ready, &output)
    });
    let result = match result {
        Err(_) if cancel.is_cancelled() => Err(EngineError::Cancelled),
        other => other,
    };
    *active.lock().unwrap_or_else(PoisonError::into_inner) = false;
    if let Err(err) = result {
        match ready.take() {
            Some(ready) => {
                let _ = ready.send(Err(err));
            }
            None => {
                // Delivered at once when there is room, even after a cancel; else as a batch.
                if let Err(mpsc::error::TrySendError::Full(item)) = output.try_send(Err(err)) {
                    let _ = send_or_cancel(&output, item, &cancel);
                }
            }
        }
    }
}

/// Sends `item`, waiting while the output is full (the client reads slower) but not past a
/// cancel: a stalled client must not hold the worker after CancelQuery or the deadline.
fn send_or_cancel(
    output: &mpsc::Sender<Result<RecordBatch, EngineError>>,
    item: Result<RecordBatch, EngineError>,
    cancel: &CancellationToken,
) -> Result<(), EngineError> {
    // Workers run on `spawn_blocking` threads, where blocking is expected; tokio's channel
    // and token need no runtime to be awaited.
    #[expect(
        clippy::disallowed_methods,
        reason = "an engine worker's blocking thread, never an async task"
    )]
    futures::executor::block_on(async {
        tokio::select! {
            biased;
            () = cancel.cancelled() => Err(EngineError::Cancelled),
            sent = output.send(item) => sent.map_err(|_| EngineError::Cancelled),
        }
    })
}

fn check(cancel: &CancellationToken) -> Result<(), EngineError> {
    if cancel.is_cancelled() {
        Err(EngineError::Cancelled)
    } else {
        Ok(())
    }
}

/// Runs `sql` (the query's text, maybe with the input CTE in front) with `query`'s parameters
/// and row limit.
fn run_query(
    conn: &Connection,
    sql: &str,
    query: &EngineQuery,
    cancel: &CancellationToken,
    ready: &mut Option<oneshot::Sender<Result<SchemaRef, EngineError>>>,
    output: &mpsc::Sender<Result<RecordBatch, EngineError>>,
) -> Result<(), EngineError> {
    check(cancel)?;
    let mut stmt = conn
        .prepare(sql)
        .map_err(|err| EngineError::from_query(&err))?;
    let stream = stmt
        .stream_arrow(duckdb::params_from_iter(query.params.iter()))
        .map_err(|err| EngineError::from_query(&err))?;
    let schema = stream.get_schema();
    match ready.take() {
        Some(ready) => {
            if ready.send(Ok(std::sync::Arc::clone(&schema))).is_err() {
                return Err(EngineError::Cancelled);
            }
        }
        None => return Err(EngineError::Internal("result schema sent twice".to_owned())),
    }
    let mut coalescer = Coalescer::new(schema, query.max_rows);
    let send = |batch: RecordBatch| send_or_cancel(output, Ok(batch), cancel);
    for chunk in stream {
        check(cancel)?;
        let chunk = chunk.map_err(|err| EngineError::from_query(&err))?;
        if let Some(batch) = coalescer.push(chunk)? {
            send(batch)?;
        }
        if coalescer.is_full() {
            break;
        }
    }
    check(cancel)?;
    if let Some(batch) = coalescer.flush()? {
        send(batch)?;
    }
    Ok(())
}
