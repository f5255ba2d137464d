use arrow::array::{Int32Array, StringArray};

use super::*;
use crate::vast_protocol::frames;

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
    // Byte by byte, in odd-sized chunks and whole: frame heads and bodies cut anywhere.
    for size in [1, 3, 7, 64, 1000, body.len()] {
        let body = Bytes::from(body.clone());
        let mut decoder = Decoder::new(2);
        let mut pages = Vec::new();
        for at in (0..body.len()).step_by(size) {
            let chunk = body.slice(at..(at + size).min(body.len()));
            pages.extend(decoder.push(chunk).unwrap());
        }
        decoder.finish().unwrap();
        assert_eq!(pages.len(), 2, "chunks of {size}");
        assert_eq!(pages[0].sub_split, 0);
        assert_eq!(pages[0].next_row_id, 7);
        assert_eq!(pages[0].batch, page);
        assert_eq!(pages[1].sub_split, 1);
        assert_eq!(pages[1].next_row_id, frames::INVALID_ROW_ID);
        assert_eq!(pages[1].batch, page.slice(0, 1));
    }
}

#[test]
fn truncated_and_failed_bodies_are_errors() {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "a",
        arrow::datatypes::DataType::Int32,
        false,
    )]));
    let page =
        RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![1, 2, 3]))]).unwrap();
    let frames = frames::encode_page(0, 7, &page).unwrap();
    let mut body: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
    // Cut inside the last column's record batch body.
    body.truncate(body.len() - 30);
    let mut decoder = Decoder::new(1);
    assert!(decoder.push(Bytes::from(body)).unwrap().is_empty());
    assert!(decoder.finish().unwrap_err().contains("truncated"));

    let mut failed = Vec::new();
    failed.extend_from_slice(&FAILED.to_le_bytes());
    failed.extend_from_slice(&13u64.to_le_bytes());
    failed.extend_from_slice(&4u32.to_le_bytes());
    failed.extend_from_slice(b"oops");
    let mut decoder = Decoder::new(1);
    // The failure text arrives in a second chunk: the error waits for it.
    assert!(
        decoder
            .push(Bytes::copy_from_slice(&failed[..17]))
            .unwrap()
            .is_empty()
    );
    let err = decoder
        .push(Bytes::copy_from_slice(&failed[17..]))
        .unwrap_err();
    assert_eq!(err, "the server failed the query (code 13) oops");
}
