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

use super::frames::{DONE, FAILED, KEEP_ALIVE};

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
            if let Some(batch) = self
                .decoder
                .decode(&mut buffer)
                .map_err(|e| format!("bad column: {e}"))?
            {
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
        concat_batches(&schema, &self.batches).map_err(|e| format!("bad column: {e}"))
    }
}

/// Decodes frames as body chunks arrive.
#[derive(Debug)]
pub(crate) struct Decoder {
    /// Received bytes not yet part of a complete frame.
    buf: BytesMut,
    /// Leaf columns per page (0 = the empty projection: one zero-field stream).
    columns: usize,
    open: HashMap<u32, Open>,
    done: bool,
}

impl Decoder {
    /// A decoder for pages of `columns` leaf columns.
    pub(crate) fn new(columns: usize) -> Self {
        Self {
            buf: BytesMut::new(),
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
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<Vec<Page>, String> {
        let mut pages = Vec::new();
        if self.done {
            return Ok(pages); // whatever follows the done marker is ignored
        }
        self.buf.extend_from_slice(chunk);
        while !self.done {
            let Some(len) = self.frame_len()? else {
                break;
            };
            // Splitting off a complete frame does not copy it.
            let frame = self.buf.split_to(len).freeze();
            self.frame(frame, &mut pages)?;
        }
        if self.done {
            self.buf.clear();
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

    /// The length of the frame at the start of the buffer, `None` if it is incomplete.
    fn frame_len(&self) -> Result<Option<usize>, String> {
        let data = &self.buf[..];
        let Some(stream_id) = read_u32(data, 0) else {
            return Ok(None);
        };
        match stream_id {
            KEEP_ALIVE | DONE => return Ok(Some(4)),
            FAILED => {
                let (Some(code), Some(len)) = (read_u64(data, 4), read_u32(data, 12)) else {
                    return Ok(None);
                };
                let text = data
                    .get(16..16 + len as usize)
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                return Err(format!("the server failed the query (code {code}) {text}"));
            }
            _ => {}
        }
        let (Some(marker), Some(meta_len)) = (read_u32(data, 12), read_u32(data, 16)) else {
            return Ok(None);
        };
        if marker != 0xFFFF_FFFF {
            return Err(format!(
                "stream {stream_id}: IPC message without the continuation marker"
            ));
        }
        let meta_len = meta_len as usize;
        let total = if meta_len == 0 {
            20
        } else {
            let Some(meta) = data.get(20..20 + meta_len) else {
                return Ok(None);
            };
            let message = root_as_message(meta)
                .map_err(|e| format!("stream {stream_id}: bad IPC message: {e}"))?;
            let body = usize::try_from(message.bodyLength())
                .map_err(|_| format!("stream {stream_id}: negative IPC body length"))?;
            20 + meta_len + body
        };
        Ok((data.len() >= total).then_some(total))
    }

    /// Handles one complete frame.
    fn frame(&mut self, mut frame: Bytes, pages: &mut Vec<Page>) -> Result<(), String> {
        let stream_id = frame.get_u32_le();
        match stream_id {
            KEEP_ALIVE => return Ok(()),
            DONE => {
                self.done = true;
                return Ok(());
            }
            _ => {}
        }
        let next_row_id = frame.get_u64_le();
        // The rest is one IPC message; a bare 8-byte one ends the column's stream.
        let end_of_stream = frame.len() == 8;
        let open = self.open.entry(stream_id).or_default();
        open.column
            .get_or_insert_with(ColumnStream::default)
            .feed(frame)
            .map_err(|e| format!("stream {stream_id}: {e}"))?;
        if end_of_stream && let Some(column) = open.column.take() {
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
        }
        Ok(())
    }
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
mod tests {
    use arrow::array::{Int32Array, StringArray};

    use super::*;
    use crate::backend::vast::frames;

    #[test]
    fn interleaved_pages_decode_byte_by_byte() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", arrow::datatypes::DataType::Int32, false),
            Field::new("b", arrow::datatypes::DataType::Utf8, true),
        ]));
        let page = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("x"), None, Some("z")])),
            ],
        )
        .unwrap();
        let p0 = frames::encode_page(0, 7, &page).unwrap();
        let p1 = frames::encode_page(1, frames::INVALID_ROW_ID, &page.slice(0, 1)).unwrap();
        let mut body = frames::keep_alive();
        for (x, y) in p0.iter().zip(p1.iter()) {
            body.extend_from_slice(x);
            body.extend_from_slice(y);
        }
        body.extend_from_slice(&frames::done());
        let mut decoder = Decoder::new(2);
        let mut pages = Vec::new();
        for b in &body {
            pages.extend(decoder.push(std::slice::from_ref(b)).unwrap());
        }
        decoder.finish().unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].sub_split, 0);
        assert_eq!(pages[0].next_row_id, 7);
        assert_eq!(pages[0].batch, page);
        assert_eq!(pages[1].next_row_id, frames::INVALID_ROW_ID);
        assert_eq!(pages[1].batch.num_rows(), 1);
    }
}
