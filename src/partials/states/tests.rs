//! Merged partial states against the one-pass analytics on DuckDB: random data with NULL
//! group values, NULL and NaN values and NULL times, cut into buckets that are computed in
//! separate runs (as cached and scanned buckets are) and merged in random order.

use arrow::{
    array::{Array, AsArray, BooleanArray, RecordBatch},
    compute::filter_record_batch,
    datatypes::TimestampMicrosecondType,
};
use rand::{Rng, SeedableRng, rngs::SmallRng, seq::SliceRandom};

use super::Incremental;
use crate::{
    analytics::testing::{batch, close, f64s, group_text, run, run_plan, strs, ts},
    proto,
};

const HOUR: i64 = 3_600_000_000;
const START: i64 = 1_767_225_600_000_000;

fn random_rows(seed: u64, rows: usize) -> RecordBatch {
    let mut rng = SmallRng::seed_from_u64(seed);
    let groups = ["north", "south", "east", "west"];
    let mut times = Vec::new();
    let mut names = Vec::new();
    let mut values = Vec::new();
    for _ in 0..rows {
        times
            .push((rng.random::<f64>() > 0.01).then(|| START + rng.random_range(-HOUR..30 * HOUR)));
        names.push((rng.random::<f64>() > 0.05).then(|| groups[rng.random_range(0..groups.len())]));
        let draw: f64 = rng.random();
        values.push(if draw < 0.03 {
            None
        } else if draw < 0.035 {
            Some(f64::NAN)
        } else {
            Some(rng.random_range(-40.0..60.0))
        });
    }
    batch(vec![
        ("ts", ts(&times)),
        ("g", strs(&names)),
        ("v", f64s(&values)),
    ])
}

/// The state rows of `request` over `rows`, each bucket of a random third computed in its own
/// run, the runs in random order.
fn merged_states<R: Incremental>(request: &R, rows: &RecordBatch, seed: u64) -> Vec<RecordBatch> {
    let plan = request
        .state_plan(&rows.schema(), "ts", HOUR)
        .expect("valid")
        .expect("mergeable");
    let width = plan.width();
    let times = rows.column(0).as_primitive::<TimestampMicrosecondType>();
    let mut rng = SmallRng::seed_from_u64(seed);
    let part: Vec<u64> = (0..64).map(|_| rng.random_range(0..3)).collect();
    let mut states = Vec::new();
    for third in 0..3u64 {
        let mask: BooleanArray = (0..rows.num_rows())
            .map(|i| {
                let bucket = if times.is_null(i) {
                    0
                } else {
                    times.value(i).div_euclid(width).rem_euclid(64)
                };
                Some(part[bucket as usize] == third)
            })
            .collect();
        let subset = filter_record_batch(rows, &mask).expect("filter");
        states.extend(run_plan(&plan.plan, &[subset]));
    }
    states.shuffle(&mut rng);
    states
}

#[test]
fn window_aggregate_merges_to_the_one_pass_answer() {
    for seed in 0..4 {
        let rows = random_rows(seed, 5_000);
        for (groups, interval) in [
            (vec![], 3600),
            (vec!["g".to_owned()], 1800),
            (vec!["g".to_owned()], 7200),
        ] {
            let request = proto::WindowAggregateRequest {
                group_by: groups,
                time_column: "ts".into(),
                interval: Some(prost_types::Duration {
                    seconds: interval,
                    nanos: 0,
                }),
                value_columns: vec!["v".into()],
                functions: [
                    "count", "sum", "avg", "min", "max", "stddev", "p50", "p95", "p99",
                ]
                .map(String::from)
                .to_vec(),
                ..Default::default()
            };
            let one_pass = run(&request, &rows).expect("one pass");
            let merged = request
                .finish(&merged_states(&request, &rows, seed))
                .expect("merged");
            assert_eq!(merged.buckets.len(), one_pass.buckets.len(), "seed {seed}");
            for (m, o) in merged.buckets.iter().zip(&one_pass.buckets) {
                assert_eq!(group_text(m.group.as_ref()), group_text(o.group.as_ref()));
                assert_eq!(m.start, o.start);
                assert_eq!(
                    m.values.keys().collect::<Vec<_>>(),
                    o.values.keys().collect::<Vec<_>>()
                );
                for (key, value) in &m.values {
                    close(*value, o.values[key]);
                }
            }
        }
    }
}

#[test]
fn trend_merges_to_the_one_pass_answer() {
    for seed in 0..6 {
        let rows = random_rows(seed + 10, 4_000);
        for groups in [vec![], vec!["g".to_owned()]] {
            let request = proto::TrendRequest {
                group_by: groups,
                time_column: "ts".into(),
                value_column: "v".into(),
                ..Default::default()
            };
            let one_pass = run(&request, &rows).expect("one pass");
            let merged = request
                .finish(&merged_states(&request, &rows, seed))
                .expect("merged");
            assert_eq!(merged.trends.len(), one_pass.trends.len());
            for (m, o) in merged.trends.iter().zip(&one_pass.trends) {
                assert_eq!(group_text(m.group.as_ref()), group_text(o.group.as_ref()));
                assert_eq!(m.n, o.n);
                // Slopes are tiny (per second): compare against the intercept's scale too.
                let tolerance = 1e-7 * o.slope_per_second.abs().max(1e-12);
                assert!(
                    (m.slope_per_second - o.slope_per_second).abs() <= tolerance
                        || (m.slope_per_second.is_nan() && o.slope_per_second.is_nan()),
                    "slope {} != {}",
                    m.slope_per_second,
                    o.slope_per_second
                );
                assert!(
                    (m.intercept - o.intercept).abs() <= 1e-6 * o.intercept.abs().max(1.0)
                        || (m.intercept.is_nan() && o.intercept.is_nan()),
                    "intercept {} != {}",
                    m.intercept,
                    o.intercept
                );
                assert!(
                    (m.r_squared - o.r_squared).abs() <= 1e-7
                        || (m.r_squared.is_nan() && o.r_squared.is_nan()),
                    "r² {} != {}",
                    m.r_squared,
                    o.r_squared
                );
            }
        }
    }
}

#[test]
fn trend_without_nan_has_finite_merged_values() {
    // Rows without NaN: the merged answer is a number wherever the one pass's is.
    let rows = random_rows(99, 3_000);
    let v = rows
        .column(2)
        .as_primitive::<arrow::datatypes::Float64Type>();
    let keep: BooleanArray = v
        .iter()
        .map(|x| Some(x.is_none_or(|x| !x.is_nan())))
        .collect();
    let rows = filter_record_batch(&rows, &keep).expect("filter");
    let request = proto::TrendRequest {
        time_column: "ts".into(),
        value_column: "v".into(),
        ..Default::default()
    };
    let merged = request
        .finish(&merged_states(&request, &rows, 1))
        .expect("merged");
    let one_pass = run(&request, &rows).expect("one pass");
    assert!(merged.trends[0].slope_per_second.is_finite());
    assert_eq!(merged.trends[0].n, one_pass.trends[0].n);
}

#[test]
fn top_n_merges_to_the_one_pass_answer() {
    for seed in 0..4 {
        let rows = random_rows(seed + 20, 4_000);
        for function in ["count", "sum", "avg", "min", "max"] {
            for ascending in [false, true] {
                for value_column in ["v", ""] {
                    if value_column.is_empty() && function != "count" {
                        continue;
                    }
                    let request = proto::TopNRequest {
                        group_by: vec!["g".into()],
                        value_column: value_column.into(),
                        function: function.into(),
                        n: 3,
                        ascending,
                        ..Default::default()
                    };
                    let one_pass = run(&request, &rows).expect("one pass");
                    let merged = request
                        .finish(&merged_states(&request, &rows, seed))
                        .expect("merged");
                    let show = |r: &proto::TopNResponse| {
                        r.rows
                            .iter()
                            .map(|row| (group_text(row.group.as_ref()), row.rank))
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(show(&merged), show(&one_pass), "{function} asc={ascending}");
                    for (m, o) in merged.rows.iter().zip(&one_pass.rows) {
                        close(m.value, o.value);
                    }
                }
            }
        }
    }
}

#[test]
fn no_rows_merge_like_the_one_pass_query() {
    let rows = random_rows(5, 0);
    let trend = proto::TrendRequest {
        time_column: "ts".into(),
        value_column: "v".into(),
        ..Default::default()
    };
    let one_pass = run(&trend, &rows).expect("one pass");
    let merged = trend.finish(&[]).expect("merged");
    assert_eq!(format!("{merged:?}"), format!("{one_pass:?}"));
    let top = proto::TopNRequest {
        value_column: "v".into(),
        function: "sum".into(),
        n: 2,
        ..Default::default()
    };
    let one_pass = run(&top, &rows).expect("one pass");
    let merged = top.finish(&[]).expect("merged");
    assert_eq!(format!("{merged:?}"), format!("{one_pass:?}"));
}

#[test]
fn correlation_merges_to_the_one_pass_answer() {
    for seed in 0..4 {
        let rows = random_rows(seed + 30, 4_000);
        let w = rows
            .column(2)
            .as_primitive::<arrow::datatypes::Float64Type>();
        // A second value column: correlated with v, NULL elsewhere than v.
        let second: Vec<Option<f64>> = (0..rows.num_rows())
            .map(|i| (i % 17 != 0).then(|| 0.5 * w.value(i) + (i % 7) as f64))
            .collect();
        let mut columns: Vec<(&str, arrow::array::ArrayRef)> = vec![
            ("ts", std::sync::Arc::clone(rows.column(0))),
            ("g", std::sync::Arc::clone(rows.column(1))),
            ("v", std::sync::Arc::clone(rows.column(2))),
        ];
        columns.push(("w", f64s(&second)));
        let rows = batch(columns);
        for groups in [vec![], vec!["g".to_owned()]] {
            let request = proto::CorrelationRequest {
                group_by: groups,
                columns: vec!["v".into(), "w".into()],
                ..Default::default()
            };
            let one_pass = run(&request, &rows).expect("one pass");
            let merged = request
                .finish(&merged_states(&request, &rows, seed))
                .expect("merged");
            assert_eq!(merged.pairs.len(), one_pass.pairs.len());
            for (m, o) in merged.pairs.iter().zip(&one_pass.pairs) {
                assert_eq!(group_text(m.group.as_ref()), group_text(o.group.as_ref()));
                assert_eq!((m.n, &m.x, &m.y), (o.n, &o.x, &o.y));
                assert!(
                    (m.r - o.r).abs() <= 1e-9 || (m.r.is_nan() && o.r.is_nan()),
                    "r {} != {}",
                    m.r,
                    o.r
                );
            }
        }
    }
}

#[test]
fn histogram_with_edges_merges_to_the_one_pass_answer() {
    for seed in 0..4 {
        let rows = random_rows(seed + 40, 4_000);
        for groups in [vec![], vec!["g".to_owned()]] {
            let request = proto::HistogramRequest {
                group_by: groups,
                value_column: "v".into(),
                edges: vec![-20.0, 0.0, 10.0, 25.0, 50.0],
                ..Default::default()
            };
            let one_pass = run(&request, &rows).expect("one pass");
            let merged = request
                .finish(&merged_states(&request, &rows, seed))
                .expect("merged");
            assert_eq!(
                format!("{merged:?}"),
                format!("{one_pass:?}"),
                "seed {seed}"
            );
        }
    }
    // Equal-width bins are answered uncached.
    let request = proto::HistogramRequest {
        value_column: "v".into(),
        bins: 4,
        ..Default::default()
    };
    let rows = random_rows(1, 10);
    assert!(
        request
            .state_plan(&rows.schema(), "ts", HOUR)
            .expect("valid")
            .is_none()
    );
}
