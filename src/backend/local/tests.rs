use futures::StreamExt;

use super::*;
use crate::gen_data;

#[tokio::test]
async fn lists_describes_and_splits_disjointly() {
    let dir = tempfile::tempdir().unwrap();
    gen_data::generate(dir.path(), 300_000, 1).unwrap();
    let backend = LocalBackend::new(dir.path(), 50_000);
    assert_eq!(backend.list_schemas("").await.unwrap(), ["demo"]);
    let tables = backend.list_tables("", "demo").await.unwrap();
    let names: Vec<_> = tables.iter().map(|t| t.table.table.as_str()).collect();
    assert_eq!(names, ["orders", "sensors"]);
    let table = TableRef {
        bucket: String::new(),
        schema: "demo".into(),
        table: "sensors".into(),
    };
    let meta = backend.describe(&table).await.unwrap();
    assert_eq!(meta.num_rows, 300_000);
    assert_eq!(meta.num_row_groups, 3);
    // From the Parquet statistics: 20 sensors; timestamps and doubles are not integer columns.
    assert_eq!(meta.int_ranges.get("sensor_id"), Some(&(0, 19)));
    assert!(!meta.int_ranges.contains_key("temperature"));
    let request = ScanRequest {
        projection: Some(vec![1]),
        predicate: None,
        num_sub_splits: 1,
        limit_rows_per_sub_split: 1,
        priority: 0,
        dictionary_columns: Vec::new(),
        endpoints: crate::backend::EndpointLog::default(),
    };
    let mut total = 0;
    for index in 0..5 {
        let split = Split { index, count: 5 };
        let batches: Vec<_> = backend.scan(&table, &meta, &request, split).collect().await;
        for b in batches {
            let b = b.unwrap();
            assert_eq!(b.num_columns(), 1);
            total += b.num_rows();
        }
    }
    assert_eq!(total, 300_000);
}

#[tokio::test]
async fn missing_and_unsafe_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("s")).unwrap();
    let backend = LocalBackend::new(dir.path(), 1024);
    let missing = TableRef {
        bucket: String::new(),
        schema: "s".into(),
        table: "nope".into(),
    };
    assert!(matches!(
        backend.describe(&missing).await,
        Err(BackendError::NotFound { .. })
    ));
    let escape = TableRef {
        bucket: String::new(),
        schema: "..".into(),
        table: "etc".into(),
    };
    assert!(matches!(
        backend.describe(&escape).await,
        Err(BackendError::Invalid(_))
    ));
    let slash = TableRef {
        bucket: String::new(),
        schema: "s".into(),
        table: "a/b".into(),
    };
    assert!(matches!(
        backend.describe(&slash).await,
        Err(BackendError::Invalid(_))
    ));
}

#[test]
fn split_ranges_cover_every_row_group_once() {
    for total in [0usize, 1, 3, 10, 78] {
        for count in 1..=12u32 {
            let mut next = 0;
            for index in 0..count {
                let (start, end) = scan::split_range(total, Split { index, count });
                assert_eq!(start, next);
                next = end;
            }
            assert_eq!(next, total);
        }
    }
}

#[tokio::test]
async fn string_columns_come_as_dictionaries_when_asked_except_filtered_ones() {
    use arrow::{
        array::{Array, AsArray},
        compute::cast,
        datatypes::DataType,
    };

    use crate::{predicate::Predicate, proto};

    let dir = tempfile::tempdir().unwrap();
    gen_data::generate(dir.path(), 100_000, 7).unwrap();
    let backend = LocalBackend::new(dir.path(), 8_192);
    let table = TableRef {
        bucket: String::new(),
        schema: "demo".into(),
        table: "sensors".into(),
    };
    let meta = backend.describe(&table).await.unwrap();
    let index = |name: &str| meta.schema.index_of(name).unwrap();
    // status <> 'ok': status is read for the filter and stays a string column.
    let filter = proto::Filter {
        kind: Some(proto::filter::Kind::Compare(proto::Comparison {
            column: "status".into(),
            op: proto::CompareOp::Ne as i32,
            value: Some(proto::Literal {
                value: Some(proto::literal::Value::StringValue("ok".into())),
            }),
        })),
    };
    let plain = ScanRequest {
        projection: Some(vec![index("region"), index("status"), index("temperature")]),
        predicate: Predicate::from_proto(Some(&filter), &meta.schema).unwrap(),
        num_sub_splits: 1,
        limit_rows_per_sub_split: 1,
        priority: 0,
        dictionary_columns: Vec::new(),
        endpoints: crate::backend::EndpointLog::default(),
    };
    let asked = ScanRequest {
        dictionary_columns: vec![index("region"), index("status"), index("temperature")],
        ..plain.clone()
    };
    let split = Split { index: 0, count: 1 };
    let expected: Vec<_> = backend.scan(&table, &meta, &plain, split).collect().await;
    let got: Vec<_> = backend.scan(&table, &meta, &asked, split).collect().await;
    assert_eq!(got.len(), expected.len());
    let mut rows = 0;
    for (got, expected) in got.into_iter().zip(expected) {
        let (got, expected) = (got.unwrap(), expected.unwrap());
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        assert_eq!(got.schema().field(0).data_type(), &dictionary);
        assert_eq!(got.column(0).data_type(), &dictionary);
        assert_eq!(
            got.column(1).data_type(),
            &DataType::Utf8,
            "the filter's column"
        );
        assert_eq!(
            got.column(2).data_type(),
            &DataType::Float64,
            "not a string column"
        );
        let region = cast(got.column(0), &DataType::Utf8).unwrap();
        assert_eq!(
            region.as_string::<i32>(),
            expected.column(0).as_string::<i32>()
        );
        assert_eq!(got.column(1).as_ref(), expected.column(1).as_ref());
        assert!(
            expected
                .column(1)
                .as_string::<i32>()
                .iter()
                .all(|s| s != Some("ok"))
        );
        rows += got.num_rows();
    }
    assert!(rows > 0 && rows < 100_000, "the filter kept {rows} rows");
}

/// Writes `batch` to `path`, without statistics for the columns in `no_stats`.
fn write_parquet(path: &std::path::Path, batch: &arrow::array::RecordBatch, no_stats: &[&str]) {
    use parquet::{
        arrow::ArrowWriter,
        file::properties::{EnabledStatistics, WriterProperties},
        schema::types::ColumnPath,
    };
    let mut props = WriterProperties::builder().set_max_row_group_row_count(Some(2));
    for column in no_stats {
        props =
            props.set_column_statistics_enabled(ColumnPath::from(*column), EnabledStatistics::None);
    }
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props.build())).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

#[tokio::test]
async fn integer_ranges_come_from_the_statistics_of_every_row_group_of_every_file() {
    use arrow::array::{Float64Array, Int32Array, Int64Array, RecordBatch, UInt64Array};
    let dir = tempfile::tempdir().unwrap();
    let table_dir = dir.path().join("s").join("t");
    std::fs::create_dir_all(&table_dir).unwrap();
    let batch = |small: Vec<Option<i32>>, big: Vec<i64>, unsigned: Vec<u64>| {
        RecordBatch::try_from_iter(vec![
            (
                "small",
                Arc::new(Int32Array::from(small)) as arrow::array::ArrayRef,
            ),
            ("big", Arc::new(Int64Array::from(big))),
            ("unsigned", Arc::new(UInt64Array::from(unsigned))),
            ("nostats", Arc::new(Int32Array::from(vec![1, 2, 3]))),
            ("float", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))),
        ])
        .unwrap()
    };
    // Row groups of two rows: b.parquet's second one holds only a NULL of `small` (no
    // min/max, nothing to bound).
    write_parquet(
        &table_dir.join("a.parquet"),
        &batch(
            vec![Some(3), None, Some(10)],
            vec![-5, 0, 7],
            vec![1, 2, u64::MAX],
        ),
        &[],
    );
    write_parquet(
        &table_dir.join("b.parquet"),
        &batch(
            vec![Some(40), Some(1), None],
            vec![1_000_000_000_000, 2, 3],
            vec![0, 1, 2],
        ),
        &["nostats"],
    );
    let backend = LocalBackend::new(dir.path(), 1024);
    let table = TableRef {
        bucket: String::new(),
        schema: "s".into(),
        table: "t".into(),
    };
    let meta = backend.describe(&table).await.unwrap();
    assert_eq!(meta.num_row_groups, 4);
    let expected: std::collections::BTreeMap<String, (i64, i64)> = [
        ("small".to_owned(), (1, 40)),
        ("big".to_owned(), (-5, 1_000_000_000_000)),
    ]
    .into();
    // `unsigned` is left out (older writers order its statistics as signed), `nostats` has no
    // statistics in b.parquet.
    assert_eq!(meta.int_ranges, expected);
}

/// Filters that the page index narrows below the row group (ranges across row-group
/// boundaries, row groups whose pages rule out every row, NULL pages) return exactly the
/// rows a plain evaluation over the written values keeps, whatever the split count.
#[tokio::test]
async fn page_pruned_scans_return_exactly_the_matching_rows() {
    use arrow::array::{Array, AsArray, Int64Array, RecordBatch};
    use arrow::datatypes::Int64Type;

    use crate::predicate::{CompareOp, Predicate, Value};

    let dir = tempfile::tempdir().unwrap();
    // 400 rows: x = y = row number, v NULL on every 7th row; row groups of 100, pages of 10.
    let x: Vec<i64> = (0..400).collect();
    let v: Vec<Option<i64>> = x.iter().map(|&i| (i % 7 != 0).then_some(i)).collect();
    let batch = RecordBatch::try_from_iter(vec![
        (
            "x",
            Arc::new(Int64Array::from(x.clone())) as arrow::array::ArrayRef,
        ),
        ("y", Arc::new(Int64Array::from(x.clone()))),
        ("v", Arc::new(Int64Array::from(v.clone()))),
    ])
    .unwrap();
    let table = crate::backend::testing::write_paged_table(dir.path(), &batch);
    let backend = LocalBackend::new(dir.path(), 16);
    let meta = backend.describe(&table).await.unwrap();
    assert_eq!(meta.num_row_groups, 4);
    let cmp = |column: &str, op, value: i64| Predicate::Compare {
        column: column.into(),
        op,
        value: Value(Arc::new(Int64Array::from(vec![value]))),
    };
    let range = |lo, hi| {
        Predicate::And(vec![
            cmp("x", CompareOp::Ge, lo),
            cmp("x", CompareOp::Lt, hi),
        ])
    };
    type Rule = fn(i64, Option<i64>) -> bool;
    let cases: Vec<(Predicate, Rule)> = vec![
        (
            Predicate::Or(vec![
                range(95, 105),
                range(250, 260),
                cmp("x", CompareOp::Ge, 395),
            ]),
            |x, _| (95..105).contains(&x) || (250..260).contains(&x) || x >= 395,
        ),
        // In row group 1 both bounds may match by its statistics, no page by theirs.
        (
            Predicate::Or(vec![
                Predicate::And(vec![
                    cmp("x", CompareOp::Lt, 105),
                    cmp("y", CompareOp::Gt, 190),
                ]),
                cmp("y", CompareOp::Ge, 390),
            ]),
            |x, _| x >= 390,
        ),
        (
            Predicate::And(vec![
                Predicate::IsNull("v".into()),
                cmp("x", CompareOp::Ge, 300),
            ]),
            |x, v| v.is_none() && x >= 300,
        ),
        (
            Predicate::And(vec![range(42, 58), Predicate::IsNotNull("v".into())]),
            |x, v| (42..58).contains(&x) && v.is_some(),
        ),
    ];
    for (predicate, rule) in cases {
        let expected: Vec<i64> = x
            .iter()
            .zip(&v)
            .filter(|(x, v)| rule(**x, **v))
            .map(|(x, _)| *x)
            .collect();
        for count in [1, 3] {
            let request = ScanRequest {
                projection: Some(vec![0]),
                predicate: Some(predicate.clone()),
                num_sub_splits: 1,
                limit_rows_per_sub_split: 1,
                priority: 0,
                dictionary_columns: Vec::new(),
                endpoints: crate::backend::EndpointLog::default(),
            };
            let mut got = Vec::new();
            for index in 0..count {
                let split = Split { index, count };
                for batch in backend
                    .scan(&table, &meta, &request, split)
                    .collect::<Vec<_>>()
                    .await
                {
                    let batch = batch.unwrap();
                    let column = batch.column(0).as_primitive::<Int64Type>();
                    assert_eq!(column.null_count(), 0);
                    got.extend(column.values().iter().copied());
                }
            }
            got.sort_unstable();
            assert_eq!(got, expected, "{predicate:?} in {count} split(s)");
        }
    }
}
