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
