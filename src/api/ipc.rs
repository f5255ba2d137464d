//! Record batches → `ArrowChunk`s: one Arrow IPC stream (schema first), cut so that every chunk
//! stays well under gRPC's 4 MiB message limit.

use arrow::{
    datatypes::SchemaRef, error::ArrowError, ipc::writer::StreamWriter, record_batch::RecordBatch,
};
use futures::{Stream, StreamExt, stream::BoxStream};
use tonic::Status;

use crate::{error::Error, proto::ArrowChunk, request::Tracked};

/// Target size of one chunk; batches are sliced by rows to stay near it.
pub(crate) const TARGET_CHUNK_BYTES: usize = 2 * 1024 * 1024;
/// Room past the target for the IPC framing of a piece and rows wider than estimated.
const CHUNK_SLACK_BYTES: usize = 256 * 1024;
/// Hard ceiling: a single row wider than the target is cut at byte boundaries below this.
pub(crate) const MAX_CHUNK_BYTES: usize = 3 * 1024 * 1024;

/// Encodes one IPC stream incrementally.
pub(crate) struct ChunkEncoder {
    writer: StreamWriter<Vec<u8>>,
}

impl std::fmt::Debug for ChunkEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkEncoder").finish_non_exhaustive()
    }
}

impl ChunkEncoder {
    /// Starts a stream; the first chunk (the schema) is returned by [`ChunkEncoder::take`].
    pub(crate) fn new(schema: &SchemaRef) -> Result<Self, ArrowError> {
        Ok(Self {
            writer: StreamWriter::try_new(Vec::new(), schema)?,
        })
    }

    /// Appends a batch, sliced by rows so each piece encodes near the target size.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<Vec<ArrowChunk>, ArrowError> {
        let mut chunks = Vec::new();
        let rows = batch.num_rows();
        let bytes = batch.get_array_memory_size().max(1);
        let rows_per_piece = if bytes <= TARGET_CHUNK_BYTES {
            rows.max(1)
        } else {
            (rows * TARGET_CHUNK_BYTES / bytes).max(1)
        };
        let mut offset = 0;
        while offset < rows || (rows == 0 && offset == 0) {
            let len = rows_per_piece.min(rows - offset);
            self.writer.write(&batch.slice(offset, len))?;
            chunks.extend(self.take());
            offset += len.max(1);
        }
        Ok(chunks)
    }

    /// Ends the stream.
    pub(crate) fn finish(mut self) -> Result<Vec<ArrowChunk>, ArrowError> {
        self.writer.finish()?;
        Ok(self.take())
    }

    /// The bytes written so far, as chunks no larger than the ceiling.
    pub(crate) fn take(&mut self) -> Vec<ArrowChunk> {
        // The next piece is written into room for a whole chunk: growing from empty would copy
        // every chunk's bytes once more.
        let room = Vec::with_capacity(TARGET_CHUNK_BYTES + CHUNK_SLACK_BYTES);
        let bytes = std::mem::replace(self.writer.get_mut(), room);
        if bytes.is_empty() {
            return Vec::new();
        }
        if bytes.len() <= MAX_CHUNK_BYTES {
            return vec![ArrowChunk { data: bytes.into() }];
        }
        bytes
            .chunks(MAX_CHUNK_BYTES)
            .map(|c| ArrowChunk {
                data: bytes::Bytes::copy_from_slice(c),
            })
            .collect()
    }
}

/// Streams `batches` to the client as IPC chunks (schema first, at most `limit` rows when
/// non-zero, end-of-stream marker last) through a small bounded channel, and records the
/// outcome in the query log. Dropping the returned stream (client gone) drops `batches`, which
/// stops the work behind them.
pub(crate) fn chunk_stream(
    tracked: Tracked,
    schema: SchemaRef,
    mut batches: BoxStream<'static, Result<RecordBatch, Error>>,
    limit: u64,
) -> impl Stream<Item = Result<ArrowChunk, Status>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<ArrowChunk, Status>>(2);
    tokio::spawn(async move {
        let cancel = tracked.cancel_token();
        let reason = tracked.cancelled_reporter();
        // Sends a chunk unless the query is cancelled first (the client may not be reading).
        let send = |chunk: ArrowChunk| {
            let (tx, cancel, reason) = (&tx, &cancel, &reason);
            async move {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => Err(reason.cancelled()),
                    sent = tx.send(Ok(chunk)) => {
                        sent.map_err(|_| Error::Cancelled("the client went away".to_owned()))
                    }
                }
            }
        };
        let result: Result<(), Error> = async {
            let mut encoder = ChunkEncoder::new(&schema).map_err(internal)?;
            for chunk in encoder.take() {
                send(chunk).await?;
            }
            let mut remaining = if limit == 0 { u64::MAX } else { limit };
            while remaining > 0 {
                let next = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Err(reason.cancelled()),
                    // The client may leave while the next batch is still being computed.
                    () = tx.closed() => {
                        return Err(Error::Cancelled("the client went away".to_owned()));
                    }
                    next = batches.next() => next,
                };
                let Some(batch) = next else {
                    break;
                };
                let batch = batch?;
                let rows = (batch.num_rows() as u64).min(remaining);
                let batch = batch.slice(0, usize::try_from(rows).unwrap_or(usize::MAX));
                remaining -= rows;
                tracked.query.add_rows_returned(rows);
                for chunk in encoder.write(&batch).map_err(internal)? {
                    send(chunk).await?;
                }
            }
            // Stops the work behind the batches at once when the limit was reached.
            drop(batches);
            for chunk in encoder.finish().map_err(internal)? {
                send(chunk).await?;
            }
            Ok(())
        }
        .await;
        if let Err(err) = &result {
            // Fails at once when the client is gone; then nobody needs the status.
            let _ = tx.send(Err(Status::from(err.clone()))).await;
        }
        tracked.finish(&result);
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

fn internal(err: ArrowError) -> Error {
    Error::Internal(format!("encoding Arrow IPC: {err}"))
}
