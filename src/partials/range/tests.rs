use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use super::*;

const HOUR: i64 = 3_600_000_000;

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new("v", DataType::Float64, true),
    ])
}

fn cmp(column: &str, op: CompareOp, micros: i64) -> proto::Filter {
    compare(column, op, micros)
}

fn value_over(v: f64) -> proto::Filter {
    proto::Filter {
        kind: Some(Kind::Compare(proto::Comparison {
            column: "v".into(),
            op: CompareOp::Gt as i32,
            value: Some(proto::Literal {
                value: Some(Value::FloatValue(v)),
            }),
        })),
    }
}

/// `ts >= lo AND ts < hi AND v > 0`.
fn range(lo: i64, hi: i64) -> TimeRange {
    let filter = all_of(vec![
        cmp("ts", CompareOp::Ge, lo),
        value_over(0.0),
        cmp("ts", CompareOp::Lt, hi),
    ]);
    TimeRange::find(Some(&filter), &schema(), None).expect("a time range")
}

#[test]
fn finds_the_range_and_keeps_the_rest() {
    let r = range(HOUR / 2, 10 * HOUR + 5);
    assert_eq!(r.column, "ts");
    assert_eq!(r.rest, vec![value_over(0.0)]);
    // Buckets 1..10 lie wholly inside [0.5 h, 10 h + 5 µs).
    assert_eq!(r.whole_buckets(HOUR), 1..10);
    assert_eq!(range(0, 10 * HOUR).whole_buckets(HOUR), 0..10);
    // Negative times floor.
    assert_eq!(range(-3 * HOUR - 1, -HOUR).whole_buckets(HOUR), -3..-1);
}

#[test]
fn no_range_without_both_bounds_or_on_other_types() {
    let only_lower = all_of(vec![cmp("ts", CompareOp::Ge, 0), value_over(1.0)]);
    assert!(TimeRange::find(Some(&only_lower), &schema(), None).is_none());
    assert!(TimeRange::find(None, &schema(), None).is_none());
    let both = all_of(vec![
        cmp("ts", CompareOp::Ge, 0),
        cmp("ts", CompareOp::Lt, HOUR),
    ]);
    assert!(TimeRange::find(Some(&both), &schema(), Some("at")).is_none());
    assert!(TimeRange::find(Some(&both), &schema(), Some("v")).is_none());
    // An OR is not a range.
    let or = any_of(vec![
        cmp("ts", CompareOp::Ge, 0),
        cmp("ts", CompareOp::Lt, HOUR),
    ]);
    assert!(TimeRange::find(Some(&or), &schema(), None).is_none());
}

#[test]
fn strict_and_tighter_bounds() {
    let filter = all_of(vec![
        cmp("ts", CompareOp::Gt, 0),
        cmp("ts", CompareOp::Ge, -HOUR),
        cmp("ts", CompareOp::Le, 3 * HOUR),
        cmp("ts", CompareOp::Lt, 5 * HOUR),
    ]);
    let r = TimeRange::find(Some(&filter), &schema(), Some("ts")).expect("range");
    // `> 0` leaves bucket 0 out; `<= 3 h` may hold a row at 3 h, so bucket 2 is the last.
    assert_eq!(r.whole_buckets(HOUR), 1..3);
    assert!(r.rest.is_empty());
}

/// Which of `times` the filter keeps, evaluated by the service's own predicate code.
fn kept(filter: &proto::Filter, times: &[i64]) -> Vec<i64> {
    use std::sync::Arc;

    use arrow::array::{Float64Array, RecordBatch, TimestampMicrosecondArray};
    let schema = Arc::new(schema());
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(TimestampMicrosecondArray::from(times.to_vec())),
            Arc::new(TimestampMicrosecondArray::from(times.to_vec())),
            Arc::new(Float64Array::from(vec![1.0; times.len()])),
        ],
    )
    .expect("batch");
    let predicate = crate::predicate::Predicate::from_proto(Some(filter), &schema)
        .expect("valid")
        .expect("some");
    let mask = crate::predicate::evaluate(&predicate, &batch).expect("evaluates");
    times
        .iter()
        .zip(mask.iter())
        .filter(|(_, keep)| keep == &Some(true))
        .map(|(t, _)| *t)
        .collect()
}

#[test]
fn uncovered_filter_reads_exactly_what_the_cached_buckets_do_not_hold() {
    let r = range(HOUR / 2, 6 * HOUR + HOUR / 2);
    assert_eq!(r.whole_buckets(HOUR), 1..6);
    let times: Vec<i64> = (-1..=14).map(|h| h * HOUR / 2).collect();
    let in_range: Vec<i64> = times
        .iter()
        .copied()
        .filter(|t| (HOUR / 2..6 * HOUR + HOUR / 2).contains(t))
        .collect();
    for cached in [
        vec![],
        vec![1],
        vec![1, 2],
        vec![2, 4],
        vec![5],
        vec![1, 2, 3, 4, 5],
    ] {
        let filter = r
            .uncovered_filter(HOUR, &cached)
            .expect("head and tail remain");
        let expected: Vec<i64> = in_range
            .iter()
            .copied()
            .filter(|t| !cached.contains(&t.div_euclid(HOUR)))
            .collect();
        assert_eq!(kept(&filter, &times), expected, "cached {cached:?}");
    }
}

#[test]
fn nothing_left_when_aligned_buckets_are_all_cached() {
    let r = range(HOUR, 4 * HOUR);
    assert_eq!(r.uncovered_filter(HOUR, &[1, 2, 3]), None);
    assert!(r.uncovered_filter(HOUR, &[1, 3]).is_some());
    let times: Vec<i64> = (0..10).map(|h| h * HOUR / 2).collect();
    let filter = r.uncovered_filter(HOUR, &[1, 2]).expect("bucket 3 remains");
    assert_eq!(kept(&filter, &times), vec![3 * HOUR, 3 * HOUR + HOUR / 2]);
    let filter = r.uncovered_filter(HOUR, &[2, 3]).expect("bucket 1 remains");
    assert_eq!(kept(&filter, &times), vec![HOUR, HOUR + HOUR / 2]);
}

#[test]
fn possible_without_a_schema() {
    let both = all_of(vec![
        cmp("ts", CompareOp::Ge, 0),
        cmp("ts", CompareOp::Lt, HOUR),
    ]);
    assert!(TimeRange::possible(Some(&both)));
    assert!(!TimeRange::possible(Some(&cmp("ts", CompareOp::Ge, 0))));
    assert!(!TimeRange::possible(Some(&value_over(1.0))));
    assert!(!TimeRange::possible(None));
}
