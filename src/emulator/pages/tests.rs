use std::sync::Arc;

use super::*;
use crate::{
    backend::{local::LocalBackend, testing::write_paged_table},
    predicate::{CompareOp, Value},
};
use arrow::{
    array::{AsArray, Int64Array, RecordBatch},
    datatypes::Int64Type,
};

/// Pages of at most 7 rows through a filter the statistics prune (row groups of 100 rows,
/// data pages of 10, `x` = row number) hold exactly the matching rows, in order, and each
/// page resumes where the last one stopped.
#[tokio::test]
async fn pruned_row_groups_and_pages_count_as_examined() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<i64> = (0..400).collect();
    let batch = RecordBatch::try_from_iter(vec![(
        "x",
        Arc::new(Int64Array::from(x.clone())) as arrow::array::ArrayRef,
    )])
    .unwrap();
    let table = write_paged_table(dir.path(), &batch);
    let files = LocalBackend::new(dir.path(), 64)
        .table_files(&table)
        .await
        .unwrap();
    let cmp = |op, v: i64| Predicate::Compare {
        column: "x".into(),
        op,
        value: Value(Arc::new(Int64Array::from(vec![v]))),
    };
    let range = |lo, hi| Predicate::And(vec![cmp(CompareOp::Ge, lo), cmp(CompareOp::Lt, hi)]);
    type Rule = fn(i64) -> bool;
    let cases: Vec<(Option<Predicate>, Rule)> = vec![
        (None, |_| true),
        (Some(range(95, 105)), |x| (95..105).contains(&x)),
        (
            Some(Predicate::Or(vec![
                range(3, 9),
                range(250, 262),
                cmp(CompareOp::Ge, 398),
            ])),
            |x| (3..9).contains(&x) || (250..262).contains(&x) || x >= 398,
        ),
        (Some(cmp(CompareOp::Gt, 1000)), |_| false),
    ];
    let layout = Layout {
        split: 0,
        num_splits: 1,
        rgps: 1,
        num_sub_splits: 1,
    };
    for (predicate, rule) in cases {
        let reader = Reader {
            slices: files.row_group_slices(),
            read_columns: vec![0],
            output: vec![0],
            output_schema: batch.schema(),
            predicate: predicate.clone(),
        };
        let mut got: Vec<i64> = Vec::new();
        let mut start = 0;
        loop {
            let page = reader.page(&layout, 0, start, 7).unwrap();
            assert!(page.batch.num_rows() <= 7);
            got.extend(
                page.batch
                    .column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .iter(),
            );
            if page.next_row_id == INVALID_ROW_ID {
                break;
            }
            assert!(page.next_row_id > start, "{predicate:?}: no progress");
            start = page.next_row_id;
        }
        let expected: Vec<i64> = x.iter().copied().filter(|&v| rule(v)).collect();
        assert_eq!(got, expected, "{predicate:?}");
    }
}
