use std::sync::Arc;

use arrow::{
    array::{Int64Array, RecordBatch},
    datatypes::{DataType, Field, Schema},
};
use parquet::{arrow::ArrowWriter, file::properties::WriterProperties};

use super::*;

fn file_with_groups() -> (tempfile::NamedTempFile, ArrowReaderMetadata) {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let file = tempfile::NamedTempFile::new().unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(10))
        .build();
    let mut writer =
        ArrowWriter::try_new(file.reopen().unwrap(), Arc::clone(&schema), Some(props)).unwrap();
    // Row groups: [0..10), [10..20), [20..30) with a NULL in the last one.
    let values: Vec<Option<i64>> = (0..30)
        .map(|i| if i == 25 { None } else { Some(i) })
        .collect();
    let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values))]).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let meta = ArrowReaderMetadata::load(&file.reopen().unwrap(), Default::default()).unwrap();
    (file, meta)
}

fn int(v: i64) -> Value {
    Value(Arc::new(Int64Array::from(vec![v])))
}

#[test]
fn prunes_by_min_max_and_nulls() {
    let (_file, meta) = file_with_groups();
    assert_eq!(meta.metadata().num_row_groups(), 3);
    let all = [0, 1, 2];
    let gt = Predicate::Compare {
        column: "x".into(),
        op: CompareOp::Gt,
        value: int(19),
    };
    assert_eq!(row_groups_to_read(Some(&gt), &meta, &all), vec![2]);
    let eq = Predicate::Compare {
        column: "x".into(),
        op: CompareOp::Eq,
        value: int(12),
    };
    assert_eq!(row_groups_to_read(Some(&eq), &meta, &all), vec![1]);
    let between = Predicate::Between {
        column: "x".into(),
        low: int(5),
        high: int(10),
    };
    assert_eq!(row_groups_to_read(Some(&between), &meta, &all), vec![0, 1]);
    let null = Predicate::IsNull("x".into());
    assert_eq!(row_groups_to_read(Some(&null), &meta, &all), vec![2]);
    let either = Predicate::Or(vec![eq.clone(), null]);
    assert_eq!(row_groups_to_read(Some(&either), &meta, &all), vec![1, 2]);
    let not = Predicate::Not(Box::new(eq));
    assert_eq!(row_groups_to_read(Some(&not), &meta, &all), vec![0, 1, 2]);
    let both = Predicate::And(vec![gt, not]);
    assert_eq!(row_groups_to_read(Some(&both), &meta, &[1, 2]), vec![2]);
}

/// One row group of 100 rows in pages of 10: `x` = row number (NULL at 42), `s` a string.
fn file_with_pages() -> (tempfile::NamedTempFile, ArrowReaderMetadata) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Int64, true),
        Field::new("s", DataType::Utf8, false),
    ]));
    let file = tempfile::NamedTempFile::new().unwrap();
    let props = WriterProperties::builder()
        .set_data_page_row_count_limit(10)
        .set_write_batch_size(10)
        .build();
    let mut writer =
        ArrowWriter::try_new(file.reopen().unwrap(), Arc::clone(&schema), Some(props)).unwrap();
    let x: Vec<Option<i64>> = (0..100)
        .map(|i| if i == 42 { None } else { Some(i) })
        .collect();
    let s: Vec<String> = (0..100).map(|i| format!("s{i}")).collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(x)),
            Arc::new(arrow::array::StringArray::from(s)),
        ],
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let options = parquet::arrow::arrow_reader::ArrowReaderOptions::new()
        .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Optional);
    let meta = ArrowReaderMetadata::load(&file.reopen().unwrap(), options).unwrap();
    (file, meta)
}

/// The selected rows as `(start, end)` ranges.
fn ranges(selection: Option<RowSelection>) -> Option<Vec<(usize, usize)>> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut row = 0;
    for selector in selection?.iter() {
        if !selector.skip {
            out.push((row, row + selector.row_count));
        }
        row += selector.row_count;
    }
    Some(out)
}

fn compare_x(op: CompareOp, v: i64) -> Predicate {
    Predicate::Compare {
        column: "x".into(),
        op,
        value: int(v),
    }
}

#[test]
fn skips_pages_by_the_page_index() {
    let (_file, meta) = file_with_pages();
    assert_eq!(meta.metadata().num_row_groups(), 1);
    let pages = |p: &Predicate| ranges(rows_to_read(Some(p), &meta, 0));

    let window = Predicate::And(vec![
        compare_x(CompareOp::Ge, 35),
        compare_x(CompareOp::Lt, 52),
    ]);
    assert_eq!(pages(&window), Some(vec![(30, 60)]));
    let edges = Predicate::Or(vec![
        compare_x(CompareOp::Lt, 5),
        compare_x(CompareOp::Ge, 95),
    ]);
    assert_eq!(pages(&edges), Some(vec![(0, 10), (90, 100)]));
    assert_eq!(pages(&Predicate::IsNull("x".into())), Some(vec![(40, 50)]));
    // A string column's statistics are not used; the AND still narrows by `x`.
    let with_string = Predicate::And(vec![
        compare_x(CompareOp::Eq, 77),
        Predicate::Compare {
            column: "s".into(),
            op: CompareOp::Eq,
            value: Value(Arc::new(arrow::array::StringArray::from(vec!["s77"]))),
        },
    ]);
    assert_eq!(pages(&with_string), Some(vec![(70, 80)]));
    // Nothing can match: an empty selection (the scan drops the row group).
    assert_eq!(pages(&compare_x(CompareOp::Gt, 1000)), Some(vec![]));
    // Every page may match, or the page index cannot tell: read the whole row group.
    assert_eq!(pages(&compare_x(CompareOp::Ge, 0)), None);
    assert_eq!(pages(&Predicate::Not(Box::new(window))), None);
    assert_eq!(ranges(rows_to_read(None, &meta, 0)), None);
    // An OR with an unknown side may match anywhere.
    let unknown = Predicate::Or(vec![
        compare_x(CompareOp::Lt, 5),
        Predicate::Contains {
            column: "s".into(),
            pattern: "7".into(),
        },
    ]);
    assert_eq!(pages(&unknown), None);
}

#[test]
fn no_page_index_reads_whole_row_groups() {
    let (file, _) = file_with_pages();
    let meta = ArrowReaderMetadata::load(&file.reopen().unwrap(), Default::default()).unwrap();
    assert!(meta.metadata().page_index().is_none());
    assert!(rows_to_read(Some(&compare_x(CompareOp::Lt, 5)), &meta, 0).is_none());
}
