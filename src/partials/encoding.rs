//! The versioned byte form of one bucket's partial state, as Redis holds it: a header that
//! names the key it belongs to, the rows it stands for and a digest of its payload, then the
//! state rows as an Arrow IPC stream. Anything that does not check out — another version, a
//! value cut short, a foreign key's value, a flipped byte — decodes to an error, never to a
//! state.

use std::io::Cursor;

use arrow::{
    array::RecordBatch,
    ipc::{reader::StreamReader, writer::StreamWriter},
};
use sha2::{Digest, Sha256};

use super::PartialState;

const MAGIC: &[u8; 4] = b"VGPS";
/// Bumped whenever the layout or the meaning of the states changes.
pub(crate) const VERSION: u8 = 1;
const DIGEST_LEN: usize = 16;

/// Why bytes are not a state for a key.
#[derive(Debug, thiserror::Error)]
#[error("unreadable partial state: {0}")]
pub(crate) struct DecodeError(String);

fn err(message: impl Into<String>) -> DecodeError {
    DecodeError(message.into())
}

fn digest(payload: &[u8]) -> [u8; DIGEST_LEN] {
    let full = Sha256::digest(payload);
    let mut out = [0; DIGEST_LEN];
    out.copy_from_slice(&full[..DIGEST_LEN]);
    out
}

/// `state` of `key` as bytes.
pub(crate) fn encode(key: &str, state: &PartialState) -> Result<Vec<u8>, arrow::error::ArrowError> {
    let mut payload = Vec::new();
    if let Some(batch) = &state.batch {
        let mut writer = StreamWriter::try_new(&mut payload, &batch.schema())?;
        writer.write(batch)?;
        writer.finish()?;
    }
    let mut out = Vec::with_capacity(payload.len() + key.len() + 48);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&state.rows.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&digest(&payload));
    out.extend_from_slice(&payload);
    Ok(out)
}

/// The state `bytes` hold for `key`.
pub(crate) fn decode(key: &str, bytes: &[u8]) -> Result<PartialState, DecodeError> {
    let mut reader = Reader(bytes);
    if reader.take(4)? != MAGIC {
        return Err(err("not a vastgate partial state"));
    }
    let version = reader.take(1)?[0];
    if version != VERSION {
        return Err(err(format!(
            "encoding version {version}, this build reads {VERSION}"
        )));
    }
    let key_len = reader.u32()?;
    if reader.take(key_len as usize)? != key.as_bytes() {
        return Err(err("the value belongs to another key"));
    }
    let rows = reader.u64()?;
    let payload_len = usize::try_from(reader.u64()?).map_err(|_| err("length"))?;
    let expected = reader.take(DIGEST_LEN)?;
    let payload = reader.take(payload_len)?;
    if !reader.0.is_empty() {
        return Err(err("trailing bytes"));
    }
    if digest(payload) != expected {
        return Err(err("digest mismatch"));
    }
    let batch = if payload.is_empty() {
        None
    } else {
        let reader = StreamReader::try_new(Cursor::new(payload), None)
            .map_err(|e| err(format!("Arrow IPC: {e}")))?;
        let batches: Vec<RecordBatch> = reader
            .collect::<Result<_, _>>()
            .map_err(|e| err(format!("Arrow IPC: {e}")))?;
        match <[RecordBatch; 1]>::try_from(batches) {
            Ok([batch]) => Some(batch),
            Err(_) => return Err(err("expected one record batch")),
        }
    };
    Ok(PartialState { rows, batch })
}

/// Reads the header's fields in turn.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(err("cut short"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut out = [0; 8];
        out.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(out))
    }
}

#[cfg(test)]
mod tests;
