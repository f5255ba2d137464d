//! `vastgate.v1.MovingAverageResponse`, written by hand (build.rs maps the message here with
//! `extern_path`) so that the server can send points it encoded while reading DuckDB's
//! result: a large answer needs no vector of structs, no second pass to encode it and no pass
//! to drop it. The bytes are those prost writes for the same points, so clients see an
//! ordinary message: decoding fills `points`.

use bytes::{Buf, BufMut, Bytes};
use prost::{
    DecodeError,
    encoding::{DecodeContext, WireType, message, skip_field, string},
};

use super::MovingAveragePoint;

const POINTS: u32 = 1;
const QUERY_ID: u32 = 2;

/// Decoding into a response that holds encoded points (never done) would put the decoded
/// points before them.
#[derive(Clone, Default, Debug)]
pub struct MovingAverageResponse {
    pub points: Vec<MovingAveragePoint>,
    pub query_id: String,
    /// More `points`, already encoded (server side only; decoding leaves it empty).
    encoded_points: Bytes,
}

/// Equal when they encode the same: points may be held encoded or decoded.
impl PartialEq for MovingAverageResponse {
    fn eq(&self, other: &Self) -> bool {
        if self.encoded_points.is_empty() && other.encoded_points.is_empty() {
            self.points == other.points && self.query_id == other.query_id
        } else {
            prost::Message::encode_to_vec(self) == prost::Message::encode_to_vec(other)
        }
    }
}

impl MovingAverageResponse {
    /// A response whose points were written with [`PointWriter`].
    pub fn from_encoded(points: PointWriter, query_id: String) -> Self {
        Self {
            points: Vec::new(),
            query_id,
            encoded_points: points.buf.freeze(),
        }
    }
}

/// Encodes points one at a time, as prost encodes the `points` field.
#[derive(Debug, Default)]
pub struct PointWriter {
    buf: bytes::BytesMut,
}

impl PointWriter {
    /// Room for about `points` points without groups (groups grow the buffer).
    pub fn with_capacity(points: usize) -> Self {
        // A point without groups takes 30-33 bytes.
        Self {
            buf: bytes::BytesMut::with_capacity(points.saturating_mul(34)),
        }
    }

    pub fn push(&mut self, point: &MovingAveragePoint) {
        message::encode(POINTS, point, &mut self.buf);
    }
}

impl prost::Message for MovingAverageResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        message::encode_repeated(POINTS, &self.points, buf);
        buf.put_slice(&self.encoded_points);
        if !self.query_id.is_empty() {
            string::encode(QUERY_ID, &self.query_id, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        let (result, field) = match tag {
            POINTS => (
                message::merge_repeated(wire_type, &mut self.points, buf, ctx),
                "points",
            ),
            QUERY_ID => (
                string::merge(wire_type, &mut self.query_id, buf, ctx),
                "query_id",
            ),
            _ => return skip_field(wire_type, tag, buf, ctx),
        };
        result.map_err(|mut err| {
            err.push("MovingAverageResponse", field);
            err
        })
    }

    fn encoded_len(&self) -> usize {
        message::encoded_len_repeated(POINTS, &self.points)
            + self.encoded_points.len()
            + if self.query_id.is_empty() {
                0
            } else {
                string::encoded_len(QUERY_ID, &self.query_id)
            }
    }

    fn clear(&mut self) {
        self.points.clear();
        self.query_id.clear();
        self.encoded_points = Bytes::new();
    }
}

#[cfg(test)]
mod tests;
