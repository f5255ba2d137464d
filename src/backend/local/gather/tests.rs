use std::sync::Arc;

use arrow::{
    array::{Array, Int64Array, StringArray},
    compute::{concat_batches, filter_record_batch},
    datatypes::{DataType, Field, Schema},
};

use super::*;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("s", DataType::Utf8, true),
    ]))
}

/// Read batch `i` of `rows` rows: n = i * rows + row, s = its text or NULL every 7th.
fn read_batch(i: usize, rows: usize) -> RecordBatch {
    let n: Vec<i64> = (0..rows).map(|r| (i * rows + r) as i64).collect();
    let s: Vec<Option<String>> = n
        .iter()
        .map(|v| (v % 7 != 0).then(|| format!("v{v}")))
        .collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(n)),
            Arc::new(StringArray::from(s)),
        ],
    )
    .unwrap()
}

/// Keeps rows whose n is a multiple of `every`; NULL where n % 10 == 1.
fn keep_every(batch: &RecordBatch, every: i64) -> BooleanArray {
    let n = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    n.iter()
        .map(|v| v.and_then(|v| (v % 10 != 1).then_some(v % every == 0)))
        .collect()
}

/// Runs `batches` read batches of `rows` through a gatherer of `batch_rows`, keeping what
/// [`keep_every`] keeps; returns the sent batches.
fn gather(batches: usize, rows: usize, batch_rows: usize, every: i64) -> Vec<RecordBatch> {
    let mut gatherer = Gatherer::new(schema(), batch_rows);
    let mut sent = Vec::new();
    for i in 0..batches {
        let batch = read_batch(i, rows);
        let keep = keep_every(&batch, every);
        sent.extend(gatherer.push(batch, &keep).unwrap());
    }
    sent.extend(gatherer.finish().unwrap());
    sent
}

/// What arrow's filter kernel keeps, read batch by read batch.
fn expected(batches: usize, rows: usize, every: i64) -> RecordBatch {
    let kept: Vec<RecordBatch> = (0..batches)
        .map(|i| {
            let batch = read_batch(i, rows);
            filter_record_batch(&batch, &keep_every(&batch, every)).unwrap()
        })
        .collect();
    concat_batches(&schema(), &kept).unwrap()
}

#[test]
fn kept_rows_arrive_in_order_in_full_batches() {
    // 40 read batches of 1,000 rows; n % 3 == 0 kept, minus the NULL masks at n ≡ 21
    // (mod 30): 13,334 - 1,333 = 12,001 rows.
    let sent = gather(40, 1_000, 2_000, 3);
    let all = concat_batches(&schema(), &sent).unwrap();
    assert_eq!(all, expected(40, 1_000, 3));
    assert_eq!(all.num_rows(), 12_001);
    let sizes: Vec<usize> = sent.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(sizes, vec![2_000, 2_000, 2_000, 2_000, 2_000, 2_000, 1]);
}

#[test]
fn a_selective_filter_sends_after_a_bounded_read() {
    // 1 in 100 kept: a 1,000-row batch fills after 100 read batches, but waiting rows go
    // out every READ_BATCHES_PER_SEND read batches.
    let (batches, rows) = (4 * READ_BATCHES_PER_SEND + 3, 1_000);
    let sent = gather(batches, rows, rows, 100);
    assert_eq!(
        concat_batches(&schema(), &sent).unwrap(),
        expected(batches, rows, 100)
    );
    let sizes: Vec<usize> = sent.iter().map(RecordBatch::num_rows).collect();
    let per_send = READ_BATCHES_PER_SEND * rows / 100;
    assert_eq!(sizes, vec![per_send, per_send, per_send, per_send, 30]);
}

#[test]
fn nothing_kept_sends_nothing() {
    let mut gatherer = Gatherer::new(schema(), 1_000);
    for i in 0..20 {
        let none = BooleanArray::from(vec![false; 500]);
        assert!(gatherer.push(read_batch(i, 500), &none).unwrap().is_empty());
    }
    assert!(gatherer.finish().unwrap().is_empty());
}

#[test]
fn nulls_and_strings_survive_the_copy() {
    let sent = gather(3, 700, 10_000, 3);
    assert_eq!(sent.len(), 1);
    let s = sent[0].column(1);
    assert!(s.null_count() > 0);
    assert_eq!(sent[0], expected(3, 700, 3));
}
