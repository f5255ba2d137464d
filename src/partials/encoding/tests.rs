use std::sync::Arc;

use arrow::{
    array::{Float64Array, Int64Array, RecordBatch, StringArray},
    datatypes::{DataType, Field, Schema},
};

use super::*;

fn state() -> PartialState {
    let schema = Arc::new(Schema::new(vec![
        Field::new("__g0", DataType::Utf8, true),
        Field::new("__k", DataType::Int64, true),
        Field::new("__a0", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![Some("north"), None])),
            Arc::new(Int64Array::from(vec![7, 7])),
            Arc::new(Float64Array::from(vec![Some(1.5), None])),
        ],
    )
    .expect("batch");
    PartialState {
        rows: 42,
        batch: Some(batch),
    }
}

#[test]
fn round_trips_a_state_and_an_empty_one() {
    let bytes = encode("k1", &state()).expect("encodes");
    let back = decode("k1", &bytes).expect("decodes");
    assert_eq!(back.rows, 42);
    assert_eq!(back.batch, state().batch);
    let empty = PartialState {
        rows: 0,
        batch: None,
    };
    let back = decode("k2", &encode("k2", &empty).expect("encodes")).expect("decodes");
    assert_eq!((back.rows, back.batch), (0, None));
}

#[test]
fn refuses_what_does_not_check_out() {
    let bytes = encode("k1", &state()).expect("encodes");
    // Another key's value.
    assert!(decode("k2", &bytes).is_err());
    // Cut short anywhere.
    for cut in [0, 3, 5, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(decode("k1", &bytes[..cut]).is_err(), "cut at {cut}");
    }
    // Trailing bytes.
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode("k1", &longer).is_err());
    // Another encoding version.
    let mut other = bytes.clone();
    other[4] = VERSION + 1;
    assert!(decode("k1", &other).is_err());
    // A flipped payload byte.
    let mut flipped = bytes.clone();
    let last = flipped.len() - 9;
    flipped[last] ^= 0x40;
    assert!(decode("k1", &flipped).is_err());
    // Not ours at all.
    assert!(decode("k1", b"hello world").is_err());
}
