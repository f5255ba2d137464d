//! Target `vast_frames`: `query_data` response bodies into the client's frame demultiplexer
//! and page decoder (`backend::vast::response::Decoder`), cut into arbitrary chunks. Bodies are
//! noise, or valid ones built with `vast_protocol::frames` (`encode_page` for up to three
//! interleaved sub-splits, `keep_alive`, `done`, `failed`), as they are or mutated.
//!
//! Invariants: where the chunks fall changes nothing (same pages, same success); every page of
//! a non-empty projection has that many columns; an unmutated body decodes to exactly the
//! pages it was built from.

use std::sync::Arc;

use arrow::{
    array::{
        Array, ArrayRef, BinaryArray, BooleanArray, Float64Array, Int32Array, StringArray,
        TimestampMicrosecondArray,
    },
    datatypes::{Field, Schema},
    record_batch::{RecordBatch, RecordBatchOptions},
};
use bytes::Bytes;
use proptest::prelude::*;

use super::{config, corpus, strategies, write_seed};
use crate::{backend::vast::response::Decoder, vast_protocol::frames};

const TARGET: &str = "vast_frames";
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz/regressions/vast_frames.txt"
);

/// Decoded pages: sub-split, next row id, batch.
type Pages = Vec<(u32, u64, RecordBatch)>;

/// A valid body and what it holds.
#[derive(Debug, Clone)]
struct Scenario {
    columns: usize,
    body: Vec<u8>,
    pages: Pages,
    /// Ends with the done marker (else a failure frame or nothing).
    done: bool,
}

/// `f` of every value, every fifth one NULL.
fn nullable<T>(values: &[i64], f: impl Fn(i64) -> T) -> Vec<Option<T>> {
    values.iter().map(|&x| (x % 5 != 0).then(|| f(x))).collect()
}

/// Column `index` of `values.len()` rows of type `kind`.
fn column(index: usize, kind: u8, values: &[i64]) -> (Field, ArrayRef) {
    let array: ArrayRef = match kind % 6 {
        0 => Arc::new(Int32Array::from(nullable(values, |x| x as i32))),
        1 => Arc::new(StringArray::from(nullable(values, |x| format!("s{x}")))),
        2 => Arc::new(Float64Array::from(nullable(values, |x| {
            f64::from_bits(x.cast_unsigned())
        }))),
        3 => Arc::new(BooleanArray::from(nullable(values, |x| x % 2 == 0))),
        4 => {
            let bytes = nullable(values, i64::to_le_bytes);
            let slices: Vec<Option<&[u8]>> = bytes
                .iter()
                .map(|b| b.as_ref().map(|b| b.as_slice()))
                .collect();
            Arc::new(BinaryArray::from(slices))
        }
        _ => {
            Arc::new(TimestampMicrosecondArray::from(nullable(values, |x| x)).with_timezone("UTC"))
        }
    };
    let field = Field::new(format!("c{index}"), array.data_type().clone(), true);
    (field, array)
}

/// A page of `kinds` columns (none: a zero-field page that only counts rows).
fn page(kinds: &[u8], values: &[i64]) -> RecordBatch {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = kinds
        .iter()
        .enumerate()
        .map(|(i, &k)| column(i, k, values))
        .unzip();
    let options = RecordBatchOptions::new().with_row_count(Some(values.len()));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options).unwrap()
}

/// Pages of up to three sub-splits, their frames interleaved, keep-alives between them, then
/// done, a failure frame or nothing.
fn build(kinds: &[u8], values: &[i64], sub_splits: usize, keep_alive: usize, end: u8) -> Scenario {
    let ids = [0u32, 1, frames::FAILED - 1];
    let pages: Pages = (0..sub_splits.clamp(1, 3))
        .map(|i| {
            let rows = values.len().saturating_sub(i);
            let next_row_id = if i == 0 {
                frames::INVALID_ROW_ID
            } else {
                i as u64 * 1000
            };
            (ids[i], next_row_id, page(kinds, &values[..rows]))
        })
        .collect();
    let encoded: Vec<Vec<Vec<u8>>> = pages
        .iter()
        .map(|(id, row, batch)| frames::encode_page(*id, *row, batch).unwrap())
        .collect();
    let mut body = frames::keep_alive();
    for f in 0..encoded[0].len() {
        for (p, frames_of_page) in encoded.iter().enumerate() {
            body.extend_from_slice(&frames_of_page[f]);
            let written = f * encoded.len() + p + 1;
            if keep_alive > 0 && written.is_multiple_of(keep_alive) {
                body.extend_from_slice(&frames::keep_alive());
            }
        }
    }
    let ending = end % 3;
    match ending {
        0 => body.extend_from_slice(&frames::done()),
        1 => body.extend_from_slice(&frames::failed(u64::from(end))),
        _ => {}
    }
    Scenario {
        columns: kinds.len(),
        body,
        pages,
        done: ending == 0,
    }
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(any::<u8>(), 0..4),
        prop::collection::vec(any::<i64>(), 0..20),
        1usize..4,
        0usize..5,
        any::<u8>(),
    )
        .prop_map(|(kinds, values, subs, keep_alive, end)| {
            build(&kinds, &values, subs, keep_alive, end)
        })
}

/// Feeds `body` in chunks of `sizes` (cycled; one chunk if empty): the pages of every push
/// until the first error, and whether the body decoded cleanly to the end.
fn decode(columns: usize, body: &[u8], sizes: &[usize]) -> (Pages, bool) {
    let body = Bytes::copy_from_slice(body);
    let mut decoder = Decoder::new(columns);
    let mut pages = Pages::new();
    let (mut at, mut i) = (0, 0);
    while at < body.len() {
        let size = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(body.len());
        let end = (at + size.max(1)).min(body.len());
        match decoder.push(body.slice(at..end)) {
            Ok(done) => pages.extend(
                done.into_iter()
                    .map(|p| (p.sub_split, p.next_row_id, p.batch)),
            ),
            Err(_) => return (pages, false),
        }
        (at, i) = (end, i + 1);
    }
    (pages, decoder.finish().is_ok())
}

/// Decodes `body` whole and in `sizes` chunks and checks both agree.
fn check(columns: usize, body: &[u8], sizes: &[usize]) -> Result<(Pages, bool), TestCaseError> {
    let (whole, whole_ok) = decode(columns, body, &[]);
    let (chunked, chunked_ok) = decode(columns, body, sizes);
    prop_assert_eq!(whole_ok, chunked_ok, "chunk boundaries changed the outcome");
    if whole_ok {
        prop_assert_eq!(&whole, &chunked, "chunk boundaries changed the pages");
    }
    for (_, _, batch) in &chunked {
        prop_assert!(
            columns == 0 || batch.num_columns() == columns,
            "page of {} columns",
            batch.num_columns()
        );
    }
    Ok((chunked, chunked_ok))
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1usize..8, 8usize..200], 0..16)
}

proptest! {
    #![proptest_config(config(REGRESSIONS))]

    #[test]
    fn noise(
        columns in 0usize..4,
        body in prop::collection::vec(any::<u8>(), 0..512),
        sizes in chunk_sizes(),
    ) {
        check(columns, &body, &sizes)?;
    }

    #[test]
    fn valid_bodies(s in scenario(), sizes in chunk_sizes()) {
        let (pages, ok) = check(s.columns, &s.body, &sizes)?;
        prop_assert_eq!(ok, s.done);
        if s.done {
            prop_assert_eq!(pages, s.pages);
        }
    }

    #[test]
    fn mutated_bodies(s in scenario(), edits in strategies::mutations(), sizes in chunk_sizes()) {
        let mut body = s.body;
        strategies::mutate(&mut body, &edits);
        check(s.columns, &body, &sizes)?;
    }
}

#[test]
fn replay_corpus() {
    for (path, bytes) in corpus(TARGET) {
        for columns in 0..4 {
            if let Err(e) = check(columns, &bytes, &[1, 7, 64]) {
                panic!("{} ({columns} columns): {e}", path.display());
            }
        }
    }
}

#[test]
#[ignore = "writes fuzz/corpus/vast_frames/; run by hand when the seeds should change"]
fn write_seed_corpus() {
    let values = [1, 2, 3, 5, -7, i64::MAX, i64::MIN];
    let seeds = [
        ("int_text_one_page.bin", build(&[0, 1], &values, 1, 0, 0)),
        (
            "three_sub_splits_keep_alive.bin",
            build(&[2, 3, 5], &values, 3, 2, 0),
        ),
        ("zero_columns.bin", build(&[], &values, 2, 0, 0)),
        ("binary_then_failed.bin", build(&[4], &values, 1, 1, 1)),
        ("truncated.bin", build(&[0], &values, 2, 0, 2)),
        ("empty_page.bin", build(&[1], &[], 1, 0, 0)),
    ];
    for (name, s) in seeds {
        write_seed(TARGET, name, &s.body);
    }
    write_seed(TARGET, "done_only.bin", &frames::done());
}
