use arrow::datatypes::Schema;

use super::*;

fn spec(rows: u64, row_groups: u64, limit: u64, hint: u32) -> ReadSpec {
    ReadSpec {
        table: TableRef {
            bucket: String::new(),
            schema: "s".into(),
            table: "t".into(),
        },
        meta: TableMeta {
            schema: Arc::new(Schema::empty()),
            num_rows: rows,
            size_bytes: 0,
            num_row_groups: row_groups,
            int_ranges: Default::default(),
        },
        projection: None,
        predicate: None,
        limit,
        hints: Some(proto::QueryHints {
            num_splits: hint,
            ..Default::default()
        }),
    }
}

#[test]
fn split_count_follows_rows_groups_limit_and_hints() {
    let config = ExecConfig {
        rows_per_split: 1_000,
        max_splits: 8,
        ..Default::default()
    };
    assert_eq!(plan(spec(0, 0, 0, 0), &config).num_splits, 1);
    assert_eq!(plan(spec(2_500, 10, 0, 0), &config).num_splits, 3);
    assert_eq!(
        plan(spec(2_500, 2, 0, 0), &config).num_splits,
        2,
        "row groups bound"
    );
    assert_eq!(
        plan(spec(100_000, 100, 0, 0), &config).num_splits,
        8,
        "max_splits bound"
    );
    assert_eq!(
        plan(spec(100_000, 100, 10, 0), &config).num_splits,
        1,
        "small limit"
    );
    assert_eq!(
        plan(spec(100_000, 100, 0, 5), &config).num_splits,
        5,
        "hint"
    );
    assert_eq!(
        plan(spec(100_000, 3, 0, 5), &config).num_splits,
        3,
        "hint bounded"
    );
}
