//! The `query_data` response framing (`docs/vast-protocol-notes.md` §3.12).
//!
//! ```text
//! frame = u32 LE stream_id | u64 LE next_row_id | ONE encapsulated Arrow IPC message
//! ```
//! Special stream ids carry no IPC message: keep-alive, done, failed (`u64` code, `u32` len).
//! Each leaf column of a page is its own IPC stream (schema, batches, end-of-stream); when the
//! last leaf of a stream id closes, the leaves form one page of that sub-split.

use arrow::{
    datatypes::Schema,
    error::ArrowError,
    ipc::writer::{
        DictionaryTracker, EncodedData, IpcDataGenerator, IpcWriteContext, IpcWriteOptions,
        write_message,
    },
    record_batch::{RecordBatch, RecordBatchOptions},
};

/// Stream id of a keep-alive frame (nothing follows).
pub const KEEP_ALIVE: u32 = 0xFFFF_FFFF;
/// Stream id of the end-of-response marker.
pub const DONE: u32 = 0xFFFF_FFFE;
/// Stream id of a failure frame: `u64` error code, `u32` message length.
pub const FAILED: u32 = 0xFFFF_FFFD;
/// `next_row_id` of an exhausted sub-split (2^48 − 1).
pub const INVALID_ROW_ID: u64 = (1 << 48) - 1;
/// The IPC end-of-stream message.
pub const IPC_EOS: [u8; 8] = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];

/// Writes the frame header of a data frame.
fn header(out: &mut Vec<u8>, stream_id: u32, next_row_id: u64) {
    out.extend_from_slice(&stream_id.to_le_bytes());
    out.extend_from_slice(&next_row_id.to_le_bytes());
}

fn message(
    out: &mut Vec<u8>,
    encoded: EncodedData,
    opts: &IpcWriteOptions,
) -> Result<(), ArrowError> {
    write_message(&mut *out, encoded, opts).map(|_| ())
}

/// The frames of one page: for every column of `page`, a schema frame, a record batch frame
/// and an end-of-stream frame, all stamped with `stream_id` and `next_row_id`. A page with no
/// columns is one zero-field stream whose batch carries only the row count.
pub fn encode_page(
    stream_id: u32,
    next_row_id: u64,
    page: &RecordBatch,
) -> Result<Vec<Vec<u8>>, ArrowError> {
    let opts = IpcWriteOptions::default();
    let generator = IpcDataGenerator::default();
    let mut context = IpcWriteContext::default();
    let mut frames = Vec::with_capacity(page.num_columns().max(1) * 3);
    let columns: Vec<RecordBatch> = if page.num_columns() == 0 {
        vec![page.clone()]
    } else {
        let schema = page.schema();
        (0..page.num_columns())
            .map(|i| {
                let field = schema.field(i).clone();
                RecordBatch::try_new_with_options(
                    std::sync::Arc::new(Schema::new(vec![field])),
                    vec![std::sync::Arc::clone(page.column(i))],
                    &RecordBatchOptions::new().with_row_count(Some(page.num_rows())),
                )
            })
            .collect::<Result<_, _>>()?
    };
    for column in columns {
        let mut tracker = DictionaryTracker::new(false);
        let mut frame = Vec::new();
        header(&mut frame, stream_id, next_row_id);
        let schema = generator.schema_to_bytes_with_dictionary_tracker(
            &column.schema(),
            &mut tracker,
            &opts,
        );
        message(&mut frame, schema, &opts)?;
        frames.push(frame);

        let mut frame = Vec::new();
        header(&mut frame, stream_id, next_row_id);
        let (dictionaries, batch) = generator.encode(&column, &mut tracker, &opts, &mut context)?;
        if !dictionaries.is_empty() {
            return Err(ArrowError::NotYetImplemented(
                "dictionary-encoded columns over the VAST protocol".to_owned(),
            ));
        }
        message(&mut frame, batch, &opts)?;
        frames.push(frame);

        let mut frame = Vec::with_capacity(20);
        header(&mut frame, stream_id, next_row_id);
        frame.extend_from_slice(&IPC_EOS);
        frames.push(frame);
    }
    Ok(frames)
}

/// The keep-alive frame.
pub fn keep_alive() -> Vec<u8> {
    KEEP_ALIVE.to_le_bytes().to_vec()
}

/// The end-of-response frame.
pub fn done() -> Vec<u8> {
    DONE.to_le_bytes().to_vec()
}

/// A failure frame with `code` (and no message: the SDK requires length 0).
pub fn failed(code: u64) -> Vec<u8> {
    let mut out = FAILED.to_le_bytes().to_vec();
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}
