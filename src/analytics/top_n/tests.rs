use super::*;
use crate::analytics::testing::{batch, empty_tgv, f64s, group_text, i64s, run, strs};

fn req(function: &str, n: u32, ascending: bool) -> proto::TopNRequest {
    proto::TopNRequest {
        group_by: vec!["g".to_owned()],
        value_column: "v".to_owned(),
        function: function.to_owned(),
        n,
        ascending,
        ..Default::default()
    }
}

fn data() -> RecordBatch {
    batch(vec![
        (
            "g",
            strs(&[
                Some("a"),
                Some("a"),
                Some("b"),
                Some("c"),
                Some("c"),
                Some("d"),
                None,
                Some("e"),
            ]),
        ),
        (
            "v",
            i64s(&[
                Some(5),
                Some(5),
                Some(10),
                Some(4),
                Some(6),
                Some(1),
                Some(10),
                None,
            ]),
        ),
    ])
}

fn summary(out: &proto::TopNResponse) -> Vec<(String, f64, u32)> {
    out.rows
        .iter()
        .map(|r| (group_text(r.group.as_ref()), r.value, r.rank))
        .collect()
}

#[test]
fn top_sums_with_ties_broken_by_group() {
    let out = run(&req("sum", 3, false), &data()).unwrap();
    // a=10, b=10, c=10, NULL group=10: ties ordered by group value, NULL first.
    assert_eq!(
        summary(&out),
        [
            ("∅".into(), 10.0, 1),
            ("a".into(), 10.0, 2),
            ("b".into(), 10.0, 3)
        ]
    );
}

#[test]
fn bottom_max_and_all_null_group_last() {
    let out = run(&req("max", 10, true), &data()).unwrap();
    let s = summary(&out);
    assert_eq!(s[0], ("d".into(), 1.0, 1));
    assert_eq!(s[1], ("a".into(), 5.0, 2));
    assert_eq!(s[2], ("c".into(), 6.0, 3));
    let last = s.last().unwrap();
    assert_eq!((last.0.as_str(), last.2), ("e", 6));
    assert!(last.1.is_nan());
}

#[test]
fn count_avg_and_min() {
    let out = run(&req("count", 2, false), &data()).unwrap();
    assert_eq!(summary(&out), [("a".into(), 2.0, 1), ("c".into(), 2.0, 2)]);
    let out = run(&req("AVG", 1, true), &data()).unwrap();
    assert_eq!(summary(&out), [("d".into(), 1.0, 1)]);
    let out = run(
        &req("min", 1, false),
        &batch(vec![("g", strs(&[Some("x")])), ("v", f64s(&[Some(-2.5)]))]),
    )
    .unwrap();
    assert_eq!(summary(&out), [("x".into(), -2.5, 1)]);
}

#[test]
fn empty_input_and_validation() {
    assert!(
        run(&req("sum", 3, false), &empty_tgv())
            .unwrap()
            .rows
            .is_empty()
    );
    let schema = data().schema();
    assert!(
        plan(&req("sum", 0, false), &schema)
            .unwrap_err()
            .to_string()
            .contains("n must be")
    );
    assert!(plan(&req("sum", 10_001, false), &schema).is_err());
    assert!(
        plan(&req("median", 3, false), &schema)
            .unwrap_err()
            .to_string()
            .contains("not one of")
    );
    let mut r = req("sum", 3, false);
    r.value_column = "g".to_owned();
    assert!(
        plan(&r, &schema)
            .unwrap_err()
            .to_string()
            .contains("numeric")
    );
}

#[test]
fn nan_ranks_above_every_number_and_ties_go_by_group() {
    // Per group: x NaN, y +inf, w 5, z 5 (and -0.0 equal to 0.0 for u and v).
    let data = batch(vec![
        (
            "g",
            strs(&[
                Some("z"),
                Some("y"),
                Some("x"),
                Some("w"),
                Some("v"),
                Some("u"),
            ]),
        ),
        (
            "v",
            f64s(&[
                Some(5.0),
                Some(f64::INFINITY),
                Some(f64::NAN),
                Some(5.0),
                Some(-0.0),
                Some(0.0),
            ]),
        ),
    ]);
    let top = summary(&run(&req("max", 3, false), &data).unwrap());
    assert_eq!((top[0].0.as_str(), top[0].2), ("x", 1));
    assert!(top[0].1.is_nan());
    assert_eq!(
        top[1..],
        [("y".into(), f64::INFINITY, 2), ("w".into(), 5.0, 3)]
    );
    let bottom = summary(&run(&req("max", 3, true), &data).unwrap());
    assert_eq!(
        bottom,
        [
            ("u".into(), 0.0, 1),
            ("v".into(), 0.0, 2),
            ("w".into(), 5.0, 3)
        ]
    );
}
