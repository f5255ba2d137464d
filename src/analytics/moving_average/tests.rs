use super::*;
use crate::analytics::testing::{
    batch, close, empty_tgv, f64s, group_text, run, run_many, strs, ts,
};

const S: i64 = 1_000_000;

fn req(group_by: &[&str], rows: u32, window_seconds: Option<i64>) -> proto::MovingAverageRequest {
    proto::MovingAverageRequest {
        group_by: group_by.iter().map(|s| (*s).to_owned()).collect(),
        time_column: "ts".to_owned(),
        value_column: "v".to_owned(),
        window_rows: rows,
        window: window_seconds.map(|seconds| prost_types::Duration { seconds, nanos: 0 }),
        ..Default::default()
    }
}

fn data() -> RecordBatch {
    // Out of order on purpose; group b interleaved; one NULL value, one NULL time.
    batch(vec![
        (
            "ts",
            ts(&[
                Some(2 * S),
                Some(0),
                Some(S),
                Some(3 * S),
                Some(10 * S),
                Some(S),
                None,
            ]),
        ),
        (
            "g",
            strs(&[
                Some("a"),
                Some("a"),
                Some("a"),
                Some("a"),
                Some("a"),
                Some("b"),
                Some("a"),
            ]),
        ),
        (
            "v",
            f64s(&[
                Some(3.0),
                Some(1.0),
                Some(2.0),
                None,
                Some(10.0),
                Some(50.0),
                Some(99.0),
            ]),
        ),
    ])
}

fn summary(out: &proto::MovingAverageResponse) -> Vec<(String, i64, Option<f64>, f64)> {
    out.points
        .iter()
        .map(|p| {
            (
                group_text(p.group.as_ref()),
                p.time.unwrap().seconds,
                (!p.value_is_null).then_some(p.value),
                p.average,
            )
        })
        .collect()
}

#[test]
fn rows_window_per_group() {
    let out = run(&req(&["g"], 2, None), &data()).unwrap();
    assert_eq!(
        summary(&out),
        [
            ("a".into(), 0, Some(1.0), 1.0),
            ("a".into(), 1, Some(2.0), 1.5),
            ("a".into(), 2, Some(3.0), 2.5),
            ("a".into(), 3, None, 3.0),
            ("a".into(), 10, Some(10.0), 10.0),
            ("b".into(), 1, Some(50.0), 50.0),
        ]
    );
}

#[test]
fn time_window_is_half_open() {
    // window 2s: (t-2s, t] → at t=2: rows at 1 and 2; at t=3: rows at 2, 3(NULL); at 10: alone.
    let out = run(&req(&["g"], 0, Some(2)), &data()).unwrap();
    let averages: Vec<f64> = out.points.iter().map(|p| p.average).collect();
    assert_eq!(averages, [1.0, 1.5, 2.5, 3.0, 10.0, 50.0]);
}

#[test]
fn no_groups_one_row_and_empty() {
    let b = batch(vec![("ts", ts(&[Some(5 * S)])), ("v", f64s(&[Some(4.0)]))]);
    let out = run(&req(&[], 3, None), &b).unwrap();
    assert_eq!(summary(&out), [(String::new(), 5, Some(4.0), 4.0)]);
    assert!(
        run(&req(&[], 3, None), &empty_tgv())
            .unwrap()
            .points
            .is_empty()
    );
}

#[test]
fn validation() {
    let schema = data().schema();
    let msg = |r: proto::MovingAverageRequest| plan(&r, &schema).unwrap_err().to_string();
    assert!(msg(req(&[], 0, None)).contains("give window_rows"));
    assert!(msg(req(&[], 3, Some(5))).contains("not both"));
    assert!(msg(req(&[], 0, Some(0))).contains("must be positive"));
    assert!(msg(req(&[], 2_000_000, None)).contains("window_rows must be"));
}

#[test]
fn without_groups_points_come_in_time_order_from_shuffled_input() {
    // 6000 rows over 3 batches in a scrambled order; times repeat (ties broken by value) and
    // some values are NULL.
    let n = 6000i64;
    let rows: Vec<(i64, Option<f64>)> = (0..n)
        .map(|i| {
            let k = (i * 7919) % n;
            let value = (k % 13 != 0).then(|| ((k * 31) % 101) as f64 / 4.0);
            (k / 2, value)
        })
        .collect();
    let batches: Vec<RecordBatch> = rows
        .chunks(2000)
        .map(|chunk| {
            let times: Vec<Option<i64>> = chunk.iter().map(|(t, _)| Some(t * S)).collect();
            let values: Vec<Option<f64>> = chunk.iter().map(|(_, v)| *v).collect();
            batch(vec![("ts", ts(&times)), ("v", f64s(&values))])
        })
        .collect();
    let out = run_many(&req(&[], 3, None), batches[0].schema(), &batches).unwrap();

    let mut expected = rows.clone();
    expected.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.is_none().cmp(&b.1.is_none()))
            .then(a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0)))
    });
    assert_eq!(out.points.len(), expected.len());
    for (i, (point, (t, v))) in out.points.iter().zip(&expected).enumerate() {
        assert_eq!(point.time.map(|t| t.seconds), Some(*t), "row {i}");
        assert_eq!(point.value_is_null, v.is_none(), "row {i}");
        let frame: Vec<f64> = expected[i.saturating_sub(2)..=i]
            .iter()
            .filter_map(|(_, v)| *v)
            .collect();
        let average = frame.iter().sum::<f64>() / frame.len() as f64;
        if frame.is_empty() {
            assert!(point.average.is_nan(), "row {i}");
        } else {
            close(point.average, average);
        }
    }
}
