use super::*;
use crate::analytics::testing::{batch, close, empty_tgv, f64s, group_text, run, strs, ts};

const S: i64 = 1_000_000;

fn req(group_by: &[&str], threshold: f64, window_rows: u32) -> proto::DetectAnomaliesRequest {
    proto::DetectAnomaliesRequest {
        group_by: group_by.iter().map(|s| (*s).to_owned()).collect(),
        time_column: "ts".to_owned(),
        value_column: "v".to_owned(),
        threshold,
        window_rows,
        ..Default::default()
    }
}

#[test]
fn whole_group_z_scores() {
    // Group a: ten 0s and one 11: mean 1, stddev_samp sqrt(110/10)=sqrt(11); z(11) = 10/sqrt(11) ≈ 3.015.
    let mut times = Vec::new();
    let mut groups = Vec::new();
    let mut values = Vec::new();
    for i in 0..10 {
        times.push(Some(i * S));
        groups.push(Some("a"));
        values.push(Some(0.0));
    }
    times.extend([
        Some(10 * S),
        Some(0),
        Some(S),
        Some(2 * S),
        Some(3 * S),
        None,
        Some(4 * S),
    ]);
    groups.extend([
        Some("a"),
        Some("b"),
        Some("b"),
        Some("c"),
        Some("c"),
        Some("a"),
        Some("a"),
    ]);
    values.extend([
        Some(11.0),
        Some(5.0),
        Some(5.0),
        Some(7.0),
        None,
        Some(1000.0),
        None,
    ]);
    let b = batch(vec![
        ("ts", ts(&times)),
        ("g", strs(&groups)),
        ("v", f64s(&values)),
    ]);
    let out = run(&req(&["g"], 0.0, 0), &b).unwrap();
    // Rows with NULL value or time are not examined.
    assert_eq!(out.rows_examined, 14);
    assert_eq!(out.anomalies.len(), 1);
    let a = &out.anomalies[0];
    assert_eq!(group_text(a.group.as_ref()), "a");
    assert_eq!(a.time.unwrap().seconds, 10);
    assert_eq!(a.value, 11.0);
    close(a.z_score, 10.0 / 11f64.sqrt());
    // A higher threshold finds nothing; a lower one also flags nothing else (zeros have z≈-0.3).
    assert!(run(&req(&["g"], 3.1, 0), &b).unwrap().anomalies.is_empty());
    assert_eq!(run(&req(&["g"], 0.5, 0), &b).unwrap().anomalies.len(), 1);
}

/// Rows whose group value is NULL form a group of their own (whole-group mode joins each
/// row to its group's mean and stddev, NULL matching NULL).
#[test]
fn null_group_is_a_group() {
    let times: Vec<Option<i64>> = (0..12).map(|i| Some(i * S)).collect();
    let mut groups = vec![None; 11];
    groups.push(Some("x"));
    let mut values = vec![Some(0.0); 10];
    values.extend([Some(11.0), Some(500.0)]);
    let b = batch(vec![
        ("ts", ts(&times)),
        ("g", strs(&groups)),
        ("v", f64s(&values)),
    ]);
    let out = run(&req(&["g"], 0.0, 0), &b).unwrap();
    assert_eq!(out.rows_examined, 12);
    // Same numbers as group a above; the single-row group x has no stddev.
    assert_eq!(out.anomalies.len(), 1);
    let a = &out.anomalies[0];
    assert_eq!(a.group.as_ref().unwrap().is_null, vec![true]);
    assert_eq!(a.time.unwrap().seconds, 10);
    close(a.z_score, 10.0 / 11f64.sqrt());
}

#[test]
fn trailing_window() {
    // 1 1 1 5 with a window of 3: at the 5, window = [1, 1, 5]: mean 7/3, sd = sqrt(((4/3)²·2 + (8/3)²)/2).
    let b = batch(vec![
        ("ts", ts(&[Some(0), Some(S), Some(2 * S), Some(3 * S)])),
        ("v", f64s(&[Some(1.0), Some(1.0), Some(1.0), Some(5.0)])),
    ]);
    let out = run(&req(&[], 1.0, 3), &b).unwrap();
    assert_eq!(out.rows_examined, 4);
    assert_eq!(out.anomalies.len(), 1);
    let sd = (((4.0f64 / 3.0).powi(2) * 2.0 + (8.0f64 / 3.0).powi(2)) / 2.0).sqrt();
    close(out.anomalies[0].z_score, (5.0 - 7.0 / 3.0) / sd);
    assert_eq!(out.anomalies[0].group.as_ref().unwrap().values.len(), 0);
}

#[test]
fn constant_single_and_empty() {
    let b = batch(vec![
        ("ts", ts(&[Some(0), Some(S)])),
        ("v", f64s(&[Some(3.0), Some(3.0)])),
    ]);
    let out = run(&req(&[], 0.1, 0), &b).unwrap();
    assert!(out.anomalies.is_empty());
    assert_eq!(out.rows_examined, 2);
    // Empty input, with and without groups, whole group and trailing window.
    for (group_by, window_rows) in [(&["g"][..], 0), (&[][..], 0), (&["g"][..], 5)] {
        let out = run(&req(group_by, 0.0, window_rows), &empty_tgv()).unwrap();
        assert!(out.anomalies.is_empty(), "{group_by:?} {window_rows}");
        assert_eq!(out.rows_examined, 0, "{group_by:?} {window_rows}");
    }
}

#[test]
fn validation() {
    let schema = empty_tgv().schema();
    assert!(
        plan(&req(&[], -1.0, 0), &schema)
            .unwrap_err()
            .to_string()
            .contains("threshold")
    );
    assert!(plan(&req(&[], f64::NAN, 0), &schema).is_err());
    assert!(
        plan(&req(&[], 3.0, 2_000_000), &schema)
            .unwrap_err()
            .to_string()
            .contains("window_rows")
    );
}
