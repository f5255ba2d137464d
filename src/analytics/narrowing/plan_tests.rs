//! Every typed analytic grouped by an integer column answers the same with the column
//! narrowed to 8 bits ([`NarrowedGroups`]): `run` compares both answers.

use arrow::array::RecordBatch;

use super::NarrowedGroups;
use crate::analytics::{
    Analytic,
    testing::{batch, f64s, i64s, int_ranges, run},
};
use crate::proto;

const S: i64 = 1_000_000;

/// Groups `k` (NULL included) over two hours, two value columns.
fn data(keys: [i64; 3]) -> RecordBatch {
    let k: Vec<Option<i64>> = (0..24).map(|i| (i % 4 != 3).then(|| keys[i % 3])).collect();
    let ts: Vec<Option<i64>> = (0..24).map(|i| Some(i64::from(i) * 300 * S)).collect();
    let v: Vec<Option<f64>> = (0..24)
        .map(|i| (i % 7 != 5).then(|| f64::from(i * i % 11) + 0.5))
        .collect();
    let w: Vec<Option<f64>> = (0..24).map(|i| Some(f64::from(i % 5))).collect();
    batch(vec![
        ("ts", crate::analytics::testing::ts(&ts)),
        ("k", i64s(&k)),
        ("v", f64s(&v)),
        ("w", f64s(&w)),
    ])
}

/// Runs `req` (checking the narrowed answer inside `run`) after making sure it narrows.
fn check<A>(req: A, data: &RecordBatch)
where
    A: Analytic + std::fmt::Debug,
    A::Response: std::fmt::Debug + prost::Message + Default,
{
    let plan = req.plan(&data.schema()).expect("plan");
    let narrowed = narrowed(&plan, data);
    assert_eq!(
        narrowed.as_ref().map(|n| n.columns()),
        Some(vec!["k"]),
        "{req:?}"
    );
    run(&req, data).expect("runs");
}

fn group_by() -> Vec<String> {
    vec!["k".to_owned()]
}

#[test]
fn every_analytic_answers_the_same_with_narrowed_groups() {
    // TINYINT (negative keys) and UTINYINT (keys past 127).
    for keys in [[-128, 0, 127], [255, 3, 200]] {
        let data = data(keys);
        check(
            proto::MovingAverageRequest {
                group_by: group_by(),
                time_column: "ts".into(),
                value_column: "v".into(),
                window_rows: 3,
                ..Default::default()
            },
            &data,
        );
        check(
            proto::TrendRequest {
                group_by: group_by(),
                time_column: "ts".into(),
                value_column: "v".into(),
                ..Default::default()
            },
            &data,
        );
        check(
            proto::DetectAnomaliesRequest {
                group_by: group_by(),
                time_column: "ts".into(),
                value_column: "v".into(),
                threshold: 1.0,
                ..Default::default()
            },
            &data,
        );
        check(
            proto::WindowAggregateRequest {
                group_by: group_by(),
                time_column: "ts".into(),
                interval: Some(prost_types::Duration {
                    seconds: 1_800,
                    nanos: 0,
                }),
                value_columns: vec!["v".into(), "w".into()],
                functions: vec!["count".into(), "avg".into(), "p95".into()],
                ..Default::default()
            },
            &data,
        );
        // Percentiles keep their groups wide (quantiles are slower on DuckDB's
        // perfect-hash aggregate).
        let percentiles = proto::PercentilesRequest {
            group_by: group_by(),
            value_column: "v".into(),
            ..Default::default()
        };
        let plan = percentiles.plan(&data.schema()).expect("plan");
        assert!(!plan.eight_bit_groups);
        check(
            proto::CorrelationRequest {
                group_by: group_by(),
                columns: vec!["v".into(), "w".into()],
                ..Default::default()
            },
            &data,
        );
        check(
            proto::HistogramRequest {
                group_by: group_by(),
                value_column: "v".into(),
                bins: 4,
                ..Default::default()
            },
            &data,
        );
        for function in ["count", "sum", "avg", "min", "max"] {
            check(
                proto::TopNRequest {
                    group_by: group_by(),
                    value_column: "v".into(),
                    function: function.into(),
                    n: 3,
                    ..Default::default()
                },
                &data,
            );
        }
    }
}

#[test]
fn a_group_column_also_used_as_a_value_is_not_narrowed() {
    let data = data([1, 2, 3]);
    let top_n = proto::TopNRequest {
        group_by: group_by(),
        value_column: "k".into(),
        function: "sum".into(),
        n: 3,
        ..Default::default()
    };
    let plan = top_n.plan(&data.schema()).expect("plan");
    assert!(narrowed(&plan, &data).is_none());
    // Keys out of 8 bits are not narrowed either.
    let wide = data_with_wide_keys();
    let plan = proto::TrendRequest {
        group_by: group_by(),
        time_column: "ts".into(),
        value_column: "v".into(),
        ..Default::default()
    }
    .plan(&wide.schema())
    .expect("plan");
    assert!(narrowed(&plan, &wide).is_none());
}

/// What the service would narrow for `plan` over a table holding `data`.
fn narrowed(plan: &crate::analytics::AnalyticPlan, data: &RecordBatch) -> Option<NarrowedGroups> {
    let ranges = int_ranges(std::slice::from_ref(data));
    NarrowedGroups::new(&data.schema(), &plan.narrowable_groups, &ranges)
}

fn data_with_wide_keys() -> RecordBatch {
    data([0, 256, 1])
}
