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
