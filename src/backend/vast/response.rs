//! Incremental decoding of a `query_data` response body (notes §3.12) into complete pages:
//! frames `u32 stream_id | u64 next_row_id | IPC message`, one IPC stream per leaf column,
//! a page per stream id once its last column closes.

use std::{collections::HashMap, sync::Arc};

use arrow::{
    buffer::Buffer,
    compute::concat_batches,
    datatypes::{Field, Schema},
    ipc::{reader::StreamDecoder, root_as_message},
    record_batch::{RecordBatch, RecordBatchOptions},
};
use bytes::{Buf, Bytes, BytesMut};

use crate::vast_protocol::frames::{DONE, FAILED, KEEP_ALIVE};

/// One complete page of one sub-split.
#[derive(Debug)]
pub(crate) struct Page {
    /// The sub-split (stream id).
    pub(crate) sub_split: u32,
    /// The first row id not yet returned (2^48 − 1 when exhausted).
    pub(crate) next_row_id: u64,
    /// The queried columns, in order.
    pub(crate) batch: RecordBatch,
}

/// Column streams under way for one stream id.
#[derive(Debug, Default)]
struct Open {
    /// The column stream being received.
    column: Option<ColumnStream>,
    /// Columns completed for the current page.
    columns: Vec<RecordBatch>,
}

/// One leaf column's IPC stream, decoded message by message straight from the received
/// bytes (arrow copies a buffer only to realign it).
#[derive(Debug, Default)]
struct ColumnStream {
    decoder: StreamDecoder,
    batches: Vec<RecordBatch>,
}

impl ColumnStream {
    fn feed(&mut self, message: Bytes) -> Result<(), String> {
        let mut buffer = Buffer::from(message);
        while !buffer.is_empty() {
            let decoded = without_panics(|| self.decoder.decode(&mut buffer))?;
            if let Some(batch) = decoded.map_err(|e| format!("bad column: {e}"))? {
                self.batches.push(batch);
            }
        }
        Ok(())
    }

    /// The whole column as one batch, after its end-of-stream message.
    fn finish(mut self) -> Result<RecordBatch, String> {
        self.decoder
            .finish()
            .map_err(|e| format!("bad column: {e}"))?;
        let schema = self
            .decoder
            .schema()
            .ok_or_else(|| "column stream without a schema".to_owned())?;
        if schema.fields().is_empty() {
            let rows = self.batches.iter().map(RecordBatch::num_rows).sum();
            return RecordBatch::try_new_with_options(
                schema,
                Vec::new(),
                &RecordBatchOptions::new().with_row_count(Some(rows)),
            )
            .map_err(|e| e.to_string());
        }
        if self.batches.len() == 1 {
            return Ok(self.batches.swap_remove(0));
        }
        without_panics(|| concat_batches(&schema, &self.batches))?
            .map_err(|e| format!("bad column: {e}"))
    }
}

/// Runs arrow's IPC decoding, turning a panic into an error. arrow-ipc 60 panics on some
/// malformed messages (the fuzz target `vast_frames` found buffers of the wrong length or
/// alignment reaching an `assert!` in validation); a broken or hostile endpoint must cost one
/// request, not a thread of the service. The decoder is dropped with the request afterwards,
/// so the state a panic leaves behind is never used.
fn without_panics<T>(decode: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode))
        .map_err(|_| "bad column: the Arrow IPC message is malformed".to_owned())
}

/// Decodes frames as body chunks arrive.
///
/// Only each frame's head (prefix and IPC metadata, a few hundred bytes) is gathered here; the
/// IPC message bodies go straight from the received chunks to their column's decoder, which
/// slices a body that sits inside one chunk and copies one spread over several exactly once,
/// into an aligned buffer of its declared size.
#[derive(Debug)]
pub(crate) struct Decoder {
    /// The head of the frame being received (complete heads are consumed at once).
    head: BytesMut,
    /// Body bytes of the current frame still to pass on, once its head is complete.
    body: Option<Body>,
    /// Leaf columns per page (0 = the empty projection: one zero-field stream).
    columns: usize,
    open: HashMap<u32, Open>,
    done: bool,
}

/// The IPC body under way: whose it is and how much of it is still to come.
#[derive(Debug, Clone, Copy)]
struct Body {
    stream_id: u32,
    remaining: usize,
}

/// What the bytes gathered so far say about the frame head.
enum Head {
    /// At least this many bytes in all are needed to go on.
    Needs(usize),
    /// A keep-alive or done marker (4 bytes).
    Marker(u32),
    /// A data frame whose head is complete: head length, IPC body length, end of its stream.
    Data {
        len: usize,
        body: usize,
        end_of_stream: bool,
    },
}

/// Longest IPC metadata accepted; real messages carry a few hundred bytes.
const MAX_METADATA: usize = 16 << 20;
/// Longest failure text read from a failure frame.
const MAX_FAILURE_TEXT: usize = 4096;

impl Decoder {
    /// A decoder for pages of `columns` leaf columns.
    pub(crate) fn new(columns: usize) -> Self {
        Self {
            head: BytesMut::new(),
            body: None,
            columns,
            open: HashMap::new(),
            done: false,
        }
    }

    /// Whether the done marker was seen.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Feeds a body chunk; returns the pages it completed.
    pub(crate) fn push(&mut self, mut chunk: Bytes) -> Result<Vec<Page>, String> {
        let mut pages = Vec::new();
        // Whatever follows the done marker is ignored.
        while !self.done {
            if let Some(body) = self.body.as_mut() {
                if chunk.is_empty() {
                    break;
                }
                let part = chunk.split_to(body.remaining.min(chunk.len()));
                body.remaining -= part.len();
                let stream_id = body.stream_id;
                if body.remaining == 0 {
                    self.body = None;
                }
                self.column(stream_id)
                    .feed(part)
                    .map_err(|e| format!("stream {stream_id}: {e}"))?;
                continue;
            }
            match self.parse_head()? {
                Head::Needs(_) if chunk.is_empty() => break,
                Head::Needs(total) => {
                    let take = (total - self.head.len()).min(chunk.len());
                    self.head.extend_from_slice(&chunk.split_to(take));
                }
                Head::Marker(marker) => {
                    self.head.clear();
                    self.done = marker == DONE;
                }
                Head::Data {
                    len,
                    body,
                    end_of_stream,
                } => {
                    let mut head = self.head.split_to(len).freeze();
                    let stream_id = head.get_u32_le();
                    let next_row_id = head.get_u64_le();
                    // `head` is now the IPC message's continuation, length and metadata.
                    self.column(stream_id)
                        .feed(head)
                        .map_err(|e| format!("stream {stream_id}: {e}"))?;
                    if end_of_stream {
                        self.end_column(stream_id, next_row_id, &mut pages)?;
                    } else if body > 0 {
                        self.body = Some(Body {
                            stream_id,
                            remaining: body,
                        });
                    }
                }
            }
        }
        Ok(pages)
    }

    /// Checks the body ended cleanly: done marker seen, no page half-built.
    pub(crate) fn finish(&self) -> Result<(), String> {
        if !self.done {
            return Err("the response ended without the done marker (truncated)".to_owned());
        }
        match self
            .open
            .iter()
            .find(|(_, o)| o.column.is_some() || !o.columns.is_empty())
        {
            Some((id, _)) => Err(format!(
                "the response ended with a half-built page of stream {id}"
            )),
            None => Ok(()),
        }
    }

    /// Reads the frame head gathered in `head` as far as it goes.
    fn parse_head(&self) -> Result<Head, String> {
        let data = &self.head[..];
        let Some(stream_id) = read_u32(data, 0) else {
            return Ok(Head::Needs(4));
        };
        match stream_id {
            KEEP_ALIVE | DONE => return Ok(Head::Marker(stream_id)),
            FAILED => {
                let (Some(code), Some(len)) = (read_u64(data, 4), read_u32(data, 12)) else {
                    return Ok(Head::Needs(16));
                };
                let len = (len as usize).min(MAX_FAILURE_TEXT);
                let Some(text) = data.get(16..16 + len) else {
                    return Ok(Head::Needs(16 + len));
                };
                let text = String::from_utf8_lossy(text);
                return Err(format!("the server failed the query (code {code}) {text}"));
            }
            _ => {}
        }
        let (Some(marker), Some(meta_len)) = (read_u32(data, 12), read_u32(data, 16)) else {
            return Ok(Head::Needs(20));
        };
        if marker != 0xFFFF_FFFF {
            return Err(format!(
                "stream {stream_id}: IPC message without the continuation marker"
            ));
        }
        let meta_len = meta_len as usize;
        if meta_len == 0 {
            return Ok(Head::Data {
                len: 20,
                body: 0,
                end_of_stream: true,
            });
        }
        if meta_len > MAX_METADATA {
            return Err(format!(
                "stream {stream_id}: implausible IPC metadata of {meta_len} bytes"
            ));
        }
        let Some(meta) = data.get(20..20 + meta_len) else {
            return Ok(Head::Needs(20 + meta_len));
        };
        let message = root_as_message(meta)
            .map_err(|e| format!("stream {stream_id}: bad IPC message: {e}"))?;
        let body = usize::try_from(message.bodyLength())
            .map_err(|_| format!("stream {stream_id}: negative IPC body length"))?;
        buffers_within_body(&message, body).map_err(|e| format!("stream {stream_id}: {e}"))?;
        Ok(Head::Data {
            len: 20 + meta_len,
            body,
            end_of_stream: false,
        })
    }

    /// The column stream being received for `stream_id`.
    fn column(&mut self, stream_id: u32) -> &mut ColumnStream {
        self.open
            .entry(stream_id)
            .or_default()
            .column
            .get_or_insert_with(ColumnStream::default)
    }

    /// Closes `stream_id`'s column stream; a page is complete once its last column is.
    fn end_column(
        &mut self,
        stream_id: u32,
        next_row_id: u64,
        pages: &mut Vec<Page>,
    ) -> Result<(), String> {
        let open = self.open.entry(stream_id).or_default();
        let Some(column) = open.column.take() else {
            return Ok(());
        };
        let column = column
            .finish()
            .map_err(|e| format!("stream {stream_id}: {e}"))?;
        open.columns.push(column);
        if open.columns.len() >= self.columns.max(1) {
            let columns = std::mem::take(&mut open.columns);
            let batch =
                join(columns, self.columns).map_err(|e| format!("stream {stream_id}: {e}"))?;
            pages.push(Page {
                sub_split: stream_id,
                next_row_id,
                batch,
            });
        }
        Ok(())
    }
}

/// Refuses a batch whose buffers reach outside its body: arrow's reader slices them
/// unchecked and would panic on such a message from a broken or hostile endpoint.
fn buffers_within_body(message: &arrow::ipc::Message<'_>, body: usize) -> Result<(), String> {
    use arrow::ipc::MessageHeader;
    let batch = match message.header_type() {
        MessageHeader::RecordBatch => message.header_as_record_batch(),
        MessageHeader::DictionaryBatch => message
            .header_as_dictionary_batch()
            .and_then(|dictionary| dictionary.data()),
        _ => return Ok(()),
    };
    let Some(batch) = batch else {
        return Err("IPC batch message without its header".to_owned());
    };
    for buffer in batch.buffers().iter().flatten() {
        let inside = usize::try_from(buffer.offset())
            .ok()
            .zip(usize::try_from(buffer.length()).ok())
            .and_then(|(offset, length)| offset.checked_add(length))
            .is_some_and(|end| end <= body);
        if !inside {
            return Err(format!(
                "IPC buffer at {} of {} bytes lies outside the {body}-byte body",
                buffer.offset(),
                buffer.length()
            ));
        }
    }
    Ok(())
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

fn read_u64(data: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; 8] = data.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// The columns of one page side by side.
fn join(columns: Vec<RecordBatch>, expected: usize) -> Result<RecordBatch, String> {
    if expected == 0 {
        return columns
            .into_iter()
            .next()
            .ok_or_else(|| "empty page".to_owned());
    }
    let rows = columns.first().map_or(0, RecordBatch::num_rows);
    let mut fields: Vec<Field> = Vec::with_capacity(columns.len());
    let mut arrays = Vec::with_capacity(columns.len());
    for column in &columns {
        if column.num_columns() != 1 || column.num_rows() != rows {
            return Err(format!(
                "page columns disagree: {} columns of {} rows, expected 1 of {rows}",
                column.num_columns(),
                column.num_rows()
            ));
        }
        fields.push(column.schema().field(0).clone());
        arrays.push(Arc::clone(column.column(0)));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
