//! `vastgate.v1.MovingAverageResponse`, written by hand (build.rs maps the message here with
//! `extern_path`) so that the server can send points it encoded while reading DuckDB's
//! result. A 500k-point answer then needs no 48 MB vector of structs, no second pass to encode
//! it, and no pass to drop it (0.22 → 0.205 s end to end). The bytes are those prost writes
//! for the same points, so clients see an ordinary message: decoding fills `points`.

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
mod tests {
    use prost::Message;

    use super::*;
    use crate::proto::Group;

    fn points() -> Vec<MovingAveragePoint> {
        vec![
            MovingAveragePoint {
                group: Some(Group::default()),
                time: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 250_000_000,
                }),
                value: 21.5,
                average: 20.25,
                value_is_null: false,
            },
            MovingAveragePoint {
                group: Some(Group {
                    values: vec![String::new(), "eu-west".to_owned()],
                    is_null: vec![true, false],
                }),
                time: Some(prost_types::Timestamp {
                    seconds: -5,
                    nanos: 0,
                }),
                value: f64::NAN,
                average: 0.0,
                value_is_null: true,
            },
        ]
    }

    /// The message as prost generates it from analytics.proto, as the reference.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Generated {
        #[prost(message, repeated, tag = "1")]
        points: Vec<MovingAveragePoint>,
        #[prost(string, tag = "2")]
        query_id: String,
    }

    fn reference_bytes(points: &[MovingAveragePoint], query_id: &str) -> Vec<u8> {
        Generated {
            points: points.to_vec(),
            query_id: query_id.to_owned(),
        }
        .encode_to_vec()
    }

    #[test]
    fn encoded_points_are_the_bytes_of_the_points() {
        let mut writer = PointWriter::with_capacity(1);
        for point in points() {
            writer.push(&point);
        }
        let response = MovingAverageResponse::from_encoded(writer, "q-1".to_owned());
        let bytes = response.encode_to_vec();
        assert_eq!(bytes.len(), response.encoded_len());
        assert_eq!(bytes, reference_bytes(&points(), "q-1"));

        let decoded = MovingAverageResponse::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded.query_id, "q-1");
        assert_eq!(format!("{:?}", decoded.points), format!("{:?}", points()));
        assert!(decoded.encoded_points.is_empty());
    }

    /// The hand-written message and the reference above must match analytics.proto.
    #[test]
    fn the_message_has_the_fields_of_the_proto() {
        use prost_types::field_descriptor_proto::{Label, Type};
        let set = prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let message = set
            .file
            .iter()
            .filter(|f| f.package() == "vastgate.v1")
            .flat_map(|f| &f.message_type)
            .find(|m| m.name() == "MovingAverageResponse")
            .expect("MovingAverageResponse in analytics.proto");
        let fields: Vec<(i32, &str, Label, Type, &str)> = message
            .field
            .iter()
            .map(|f| (f.number(), f.name(), f.label(), f.r#type(), f.type_name()))
            .collect();
        assert_eq!(
            fields,
            [
                (
                    1,
                    "points",
                    Label::Repeated,
                    Type::Message,
                    ".vastgate.v1.MovingAveragePoint"
                ),
                (2, "query_id", Label::Optional, Type::String, ""),
            ]
        );
    }

    #[test]
    fn a_response_equals_itself_decoded() {
        let mut writer = PointWriter::with_capacity(2);
        for point in points().iter().take(1) {
            writer.push(point);
        }
        let encoded = MovingAverageResponse::from_encoded(writer, "q".to_owned());
        let decoded = MovingAverageResponse::decode(encoded.encode_to_vec().as_slice()).unwrap();
        assert_eq!(encoded, decoded);
        assert_ne!(encoded, MovingAverageResponse::default());
    }

    #[test]
    fn struct_points_encode_as_before() {
        let response = MovingAverageResponse {
            points: points(),
            ..Default::default()
        };
        let bytes = response.encode_to_vec();
        assert_eq!(bytes, reference_bytes(&points(), ""));
        assert_eq!(bytes.len(), response.encoded_len());
    }

    #[test]
    fn unknown_fields_are_skipped_and_bad_input_is_an_error() {
        let mut bytes = reference_bytes(&points(), "q");
        bytes.extend_from_slice(&[0x18, 0x07]); // field 3, varint 7: not ours
        let decoded = MovingAverageResponse::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded.points.len(), 2);
        assert!(MovingAverageResponse::decode(&[0x0a, 0x40, 0x01][..]).is_err());
    }
}
