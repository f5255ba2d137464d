use std::collections::BTreeMap;

use rand::{Rng, SeedableRng, rngs::SmallRng};

use super::*;
use crate::analytics::testing::{batch, close, empty_tgv, f64s, group_text, i64s, run, strs, ts};

const S: i64 = 1_000_000;

fn req(
    group_by: &[&str],
    seconds: i64,
    columns: &[&str],
    functions: &[&str],
) -> proto::WindowAggregateRequest {
    proto::WindowAggregateRequest {
        group_by: group_by.iter().map(|s| (*s).to_owned()).collect(),
        time_column: "ts".to_owned(),
        interval: Some(prost_types::Duration { seconds, nanos: 0 }),
        value_columns: columns.iter().map(|s| (*s).to_owned()).collect(),
        functions: functions.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

#[test]
fn buckets_are_epoch_aligned_with_edges_and_negative_times() {
    let b = batch(vec![
        (
            "ts",
            ts(&[
                Some(-1),
                Some(0),
                Some(59 * S + 999_999),
                Some(60 * S),
                Some(61 * S),
                None,
            ]),
        ),
        (
            "v",
            f64s(&[
                Some(1.0),
                Some(2.0),
                Some(3.0),
                Some(4.0),
                None,
                Some(100.0),
            ]),
        ),
    ]);
    let out = run(
        &req(&[], 60, &["v"], &["count", "sum", "min", "max", "avg"]),
        &b,
    )
    .unwrap();
    let starts: Vec<i64> = out
        .buckets
        .iter()
        .map(|b| b.start.unwrap().seconds)
        .collect();
    assert_eq!(starts, [-60, 0, 60]);
    assert_eq!(out.buckets[0].start.unwrap().nanos, 0);
    let b0 = &out.buckets[1].values;
    assert_eq!(
        (
            b0["count_v"],
            b0["sum_v"],
            b0["min_v"],
            b0["max_v"],
            b0["avg_v"]
        ),
        (2.0, 5.0, 2.0, 3.0, 2.5)
    );
    let b1 = &out.buckets[2].values;
    assert_eq!(b1["count_v"], 1.0);
    assert_eq!(b1["sum_v"], 4.0);
    assert_eq!(out.buckets[0].values["sum_v"], 1.0);
}

#[test]
fn null_aggregates_are_absent_and_quantiles_per_group() {
    let b = batch(vec![
        (
            "ts",
            ts(&[Some(0), Some(S), Some(2 * S), Some(3 * S), Some(0)]),
        ),
        (
            "g",
            strs(&[Some("a"), Some("a"), Some("a"), Some("a"), Some("b")]),
        ),
        ("v", i64s(&[Some(1), Some(2), Some(3), Some(10), None])),
        ("w", f64s(&[Some(0.5), None, None, None, Some(7.0)])),
    ]);
    let out = run(
        &req(
            &["g"],
            3600,
            &["v", "w"],
            &["p50", "p95", "stddev", "count", "sum"],
        ),
        &b,
    )
    .unwrap();
    assert_eq!(out.buckets.len(), 2);
    assert_eq!(group_text(out.buckets[0].group.as_ref()), "a");
    let a = &out.buckets[0].values;
    assert_eq!(a["p50_v"], 2.5);
    close(a["p95_v"], 3.0 + 7.0 * 0.85);
    close(
        a["stddev_v"],
        (((1.0f64 - 4.0).powi(2) + 4.0 + 1.0 + 36.0) / 3.0).sqrt(),
    );
    assert_eq!(a["count_w"], 1.0);
    assert!(
        !a.contains_key("stddev_w"),
        "one value has no sample stddev"
    );
    let bvals = &out.buckets[1].values;
    assert_eq!(bvals["count_v"], 0.0);
    assert!(!bvals.contains_key("sum_v"));
    assert_eq!(bvals["sum_w"], 7.0);
}

#[test]
fn validation() {
    let schema = batch(vec![("ts", ts(&[])), ("v", f64s(&[])), ("s", strs(&[]))]).schema();
    let msg = |r: proto::WindowAggregateRequest| plan(&r, &schema).unwrap_err().to_string();
    assert!(msg(req(&[], 0, &["v"], &["avg"])).contains("interval must be positive"));
    assert!(msg(req(&[], -5, &["v"], &["avg"])).contains("interval must be positive"));
    assert!(msg(req(&[], 60, &["v"], &["median"])).contains("not one of"));
    assert!(msg(req(&[], 60, &["s"], &["avg"])).contains("numeric"));
    assert!(msg(req(&[], 60, &[], &["avg"])).contains("value_columns"));
    let mut r = req(&[], 60, &["v"], &["avg"]);
    r.interval = None;
    assert!(msg(r).contains("interval is required"));
    let p = plan(&req(&[], 60, &["v"], &["avg"]), &schema).unwrap();
    assert_eq!(p.columns, ["ts", "v"]);
}

#[test]
fn empty_input() {
    assert!(
        run(&req(&["g"], 60, &["v"], &["avg"]), &empty_tgv())
            .unwrap()
            .buckets
            .is_empty()
    );
}

#[test]
fn matches_a_rust_reference_on_random_data() {
    let mut rng = SmallRng::seed_from_u64(9);
    let n = 30_000;
    let times: Vec<Option<i64>> = (0..n)
        .map(|_| Some(rng.random_range(-3_600 * S..7_200 * S)))
        .collect();
    let values: Vec<Option<f64>> = (0..n)
        .map(|_| (rng.random::<f64>() > 0.1).then(|| rng.random::<f64>() * 10.0))
        .collect();
    let groups: Vec<Option<&str>> = (0..n).map(|i| Some(["u", "v"][i % 2])).collect();
    let b = batch(vec![
        ("ts", ts(&times)),
        ("g", strs(&groups)),
        ("v", f64s(&values)),
    ]);
    let interval = 7 * 60;
    let out = run(
        &req(&["g"], interval, &["v"], &["count", "sum", "max", "p50"]),
        &b,
    )
    .unwrap();
    let mut expected: BTreeMap<(usize, i64), Vec<f64>> = BTreeMap::new();
    let mut counts: BTreeMap<(usize, i64), usize> = BTreeMap::new();
    for i in 0..n {
        let t = times[i].unwrap();
        let start = t.div_euclid(interval * S) * interval;
        counts.entry((i % 2, start)).or_default();
        if let Some(v) = values[i] {
            expected.entry((i % 2, start)).or_default().push(v);
        }
    }
    assert_eq!(out.buckets.len(), counts.len());
    for (bucket, (key, _)) in out.buckets.iter().zip(&counts) {
        assert_eq!(bucket.start.unwrap().seconds, key.1);
        assert_eq!(group_text(bucket.group.as_ref()), ["u", "v"][key.0]);
        let mut vs = expected.get(key).cloned().unwrap_or_default();
        vs.sort_by(f64::total_cmp);
        assert_eq!(bucket.values["count_v"], vs.len() as f64);
        close(bucket.values["sum_v"], vs.iter().sum());
        assert_eq!(bucket.values["max_v"], *vs.last().unwrap());
        let m = vs.len();
        let p50 = if m % 2 == 1 {
            vs[m / 2]
        } else {
            (vs[m / 2 - 1] + vs[m / 2]) / 2.0
        };
        close(bucket.values["p50_v"], p50);
    }
}

#[test]
fn date_and_zoned_nanosecond_times_with_decimal_and_unsigned_values() {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, Date32Array, Decimal128Array, TimestampNanosecondArray, UInt64Array,
    };

    let dates: ArrayRef = Arc::new(Date32Array::from(vec![Some(0), Some(1), Some(2), Some(-1)]));
    let decimals: ArrayRef = Arc::new(
        Decimal128Array::from(vec![Some(150), Some(250), Some(1000), Some(-5)])
            .with_precision_and_scale(10, 2)
            .unwrap(),
    );
    let b = batch(vec![("ts", dates), ("v", decimals)]);
    let out = run(&req(&[], 2 * 86_400, &["v"], &["sum", "max"]), &b).unwrap();
    let got: Vec<(i64, f64, f64)> = out
        .buckets
        .iter()
        .map(|b| {
            (
                b.start.unwrap().seconds,
                b.values["sum_v"],
                b.values["max_v"],
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (-172_800, -0.05, -0.05),
            (0, 4.0, 2.5),
            (172_800, 10.0, 10.0)
        ]
    );

    let zoned: ArrayRef = Arc::new(
        TimestampNanosecondArray::from(vec![Some(1_500), Some(999_999_999), Some(1_000_000_000)])
            .with_timezone("America/New_York"),
    );
    let unsigned: ArrayRef = Arc::new(UInt64Array::from(vec![Some(u64::MAX), Some(1), Some(2)]));
    let b = batch(vec![("ts", zoned), ("v", unsigned)]);
    let out = run(&req(&[], 1, &["v"], &["count", "min"]), &b).unwrap();
    let got: Vec<(i64, f64, f64)> = out
        .buckets
        .iter()
        .map(|b| {
            (
                b.start.unwrap().seconds,
                b.values["count_v"],
                b.values["min_v"],
            )
        })
        .collect();
    assert_eq!(got, [(0, 2.0, 1.0), (1, 1.0, 2.0)]);
}
