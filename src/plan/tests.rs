use arrow::{
    array::Int32Array,
    datatypes::{DataType, Field, Schema},
};

use super::*;
use crate::predicate::{CompareOp, Value};

const VAST: Option<u32> = Some(3);
const LOCAL: Option<u32> = None;

fn spec(rows: u64, row_groups: u64, limit: u64, hint: u32) -> ReadSpec {
    let meta = TableMeta {
        schema: Arc::new(Schema::new(vec![Field::new(
            "sensor_id",
            DataType::Int32,
            true,
        )])),
        num_rows: rows,
        size_bytes: 0,
        num_row_groups: row_groups,
        int_ranges: [("sensor_id".to_owned(), (0, 99))].into(),
    };
    ReadSpec {
        table: TableRef {
            bucket: String::new(),
            schema: "s".into(),
            table: "t".into(),
        },
        filter: FilterReport::unpruned(&meta, None),
        meta,
        projection: None,
        predicate: None,
        limit,
        hints: Some(proto::QueryHints {
            num_splits: hint,
            ..Default::default()
        }),
        kind: QueryKind::Aggregate,
        healthy_endpoints: LOCAL,
        cores: 4,
    }
}

fn config(planner: PlannerMode) -> ExecConfig {
    ExecConfig {
        planner,
        rows_per_split: 1_000,
        max_splits: 8,
        split_concurrency: 4,
        num_sub_splits: 4,
        limit_rows_per_sub_split: 100_000,
        ..Default::default()
    }
}

fn splits(spec: ReadSpec, planner: PlannerMode) -> u32 {
    plan(spec, &config(planner)).num_splits
}

fn sensor_below(n: i32) -> Predicate {
    Predicate::Compare {
        column: "sensor_id".into(),
        op: CompareOp::Lt,
        value: Value(Arc::new(Int32Array::from(vec![n]))),
    }
}

#[test]
fn fixed_planner_keeps_the_configured_sizes() {
    let fixed = PlannerMode::Fixed;
    assert_eq!(splits(spec(0, 0, 0, 0), fixed), 1);
    assert_eq!(splits(spec(2_500, 10, 0, 0), fixed), 3);
    assert_eq!(splits(spec(2_500, 2, 0, 0), fixed), 2, "row groups bound");
    assert_eq!(splits(spec(100_000, 100, 0, 0), fixed), 8, "max_splits");
    assert_eq!(splits(spec(100_000, 100, 10, 0), fixed), 1, "small limit");
    assert_eq!(splits(spec(100_000, 100, 0, 5), fixed), 5, "hint");
    assert_eq!(splits(spec(100_000, 3, 0, 5), fixed), 3, "hint bounded");
    let mut vast = spec(100_000, 100, 10, 0);
    vast.healthy_endpoints = VAST;
    let plan = plan(vast, &config(fixed));
    assert_eq!(plan.request.num_sub_splits, 4);
    assert_eq!(plan.request.limit_rows_per_sub_split, 100_000);
}

#[test]
fn adaptive_splits_keep_every_reader_busy_within_the_row_groups() {
    let adaptive = PlannerMode::Adaptive;
    assert_eq!(splits(spec(0, 0, 0, 0), adaptive), 1, "empty table");
    assert_eq!(splits(spec(900, 1, 0, 0), adaptive), 1, "one row group");
    let plan = plan(spec(2_500, 10, 0, 0), &config(adaptive));
    assert_eq!(plan.num_splits, 4, "3 by size, raised to 4 readers");
    assert!(
        plan.choices.splits.reason.contains("raised to 4"),
        "{}",
        plan.choices.splits.reason
    );
    assert_eq!(
        splits(spec(2_500, 2, 0, 0), adaptive),
        2,
        "row groups bound"
    );
    assert_eq!(splits(spec(100_000, 100, 0, 0), adaptive), 8, "max_splits");
    assert_eq!(
        splits(spec(100_000, 100, 10, 0), adaptive),
        1,
        "small limit"
    );
    assert_eq!(splits(spec(100_000, 3, 0, 5), adaptive), 3, "hint bounded");
    let mut vast = spec(2_500, 10, 0, 0);
    vast.healthy_endpoints = Some(6);
    assert_eq!(
        splits(vast, adaptive),
        3,
        "VAST: by size, sub-splits stream in parallel"
    );
    let mut two_cores = spec(2_500, 10, 0, 0);
    two_cores.cores = 2;
    assert_eq!(
        splits(two_cores, adaptive),
        3,
        "3 by size, more than 2 cores"
    );
}

#[test]
fn adaptive_splits_follow_the_rows_left_after_pruning() {
    let mut pruned = spec(100_000, 100, 0, 0);
    pruned.filter.row_groups_kept = 2;
    pruned.filter.rows_kept = 2_000;
    let plan = plan(pruned, &config(PlannerMode::Adaptive));
    assert_eq!(plan.num_splits, 2, "2 row groups left");
    assert!(
        plan.choices
            .splits
            .reason
            .contains("pruned 98 of 100 row groups"),
        "{}",
        plan.choices.splits.reason
    );
}

#[test]
fn adaptive_sub_splits_and_pages_fit_the_split_and_the_limit() {
    let adaptive = config(PlannerMode::Adaptive);
    // 3 VAST units over 3 splits: one unit each, so one stream each.
    let mut small = spec(150_000, 3, 0, 0);
    small.healthy_endpoints = VAST;
    let plan_small = plan(small, &adaptive);
    assert_eq!(plan_small.num_splits, 3);
    assert_eq!(plan_small.request.num_sub_splits, 1);
    // 64 units over 8 splits: 8 each, enough for the 4 configured streams.
    let mut large = spec(4_000_000, 64, 0, 0);
    large.healthy_endpoints = VAST;
    assert_eq!(plan(large, &adaptive).request.num_sub_splits, 4);
    // A LIMIT: one split, one stream, pages of the limit.
    let mut limited = spec(4_000_000, 64, 10, 0);
    limited.healthy_endpoints = VAST;
    let plan_limited = plan(limited, &adaptive);
    assert_eq!(plan_limited.num_splits, 1);
    assert_eq!(plan_limited.request.num_sub_splits, 1);
    assert_eq!(plan_limited.request.limit_rows_per_sub_split, 10);
}

#[test]
fn estimate_scales_the_rows_to_scan_by_the_integer_ranges() {
    let mut filtered = spec(10_000, 10, 0, 0);
    filtered.predicate = Some(sensor_below(5));
    let choices = plan(filtered, &config(PlannerMode::Adaptive)).choices;
    assert_eq!(choices.estimate.rows, 500, "5 of 100 sensor ids");
    assert!(choices.estimate.reason.contains("sensor_id"));
    // Below the minimum: nothing; NOT of it: everything.
    let mut none = spec(10_000, 10, 0, 0);
    none.predicate = Some(sensor_below(0));
    assert_eq!(
        plan(none, &config(PlannerMode::Adaptive))
            .choices
            .estimate
            .rows,
        0
    );
    let mut all = spec(10_000, 10, 0, 0);
    all.predicate = Some(Predicate::Not(Box::new(sensor_below(0))));
    assert_eq!(
        plan(all, &config(PlannerMode::Adaptive))
            .choices
            .estimate
            .rows,
        10_000
    );
    // No statistics for the column: at most the rows to scan.
    let mut unknown = spec(10_000, 10, 0, 0);
    unknown.meta.int_ranges.clear();
    unknown.predicate = Some(sensor_below(5));
    assert_eq!(
        plan(unknown, &config(PlannerMode::Adaptive))
            .choices
            .estimate
            .rows,
        10_000
    );
}
