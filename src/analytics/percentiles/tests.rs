use rand::{Rng, SeedableRng, rngs::SmallRng};

use super::*;
use crate::analytics::testing::{batch, close, empty_tgv, f64s, group_text, i64s, run, strs};

fn req(group_by: &[&str], quantiles: &[f64]) -> proto::PercentilesRequest {
    proto::PercentilesRequest {
        group_by: group_by.iter().map(|s| (*s).to_owned()).collect(),
        value_column: "v".to_owned(),
        quantiles: quantiles.to_vec(),
        ..Default::default()
    }
}

/// Linear interpolation between closest ranks, as `quantile_cont`.
fn reference(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[test]
fn hand_computed_with_nulls_and_groups() {
    let b = batch(vec![
        (
            "g",
            strs(&[
                Some("a"),
                Some("a"),
                Some("a"),
                Some("a"),
                Some("a"),
                Some("b"),
                None,
            ]),
        ),
        (
            "v",
            i64s(&[Some(1), Some(2), Some(3), Some(4), None, Some(7), Some(9)]),
        ),
    ]);
    let out = run(&req(&["g"], &[0.0, 0.5, 0.25, 1.0]), &b).unwrap();
    let groups: Vec<String> = out
        .rows
        .iter()
        .map(|r| group_text(r.group.as_ref()))
        .collect();
    assert_eq!(groups, ["∅", "a", "b"]);
    let a = &out.rows[1];
    assert_eq!(a.n, 4);
    let values: Vec<(f64, f64)> = a.values.iter().map(|v| (v.quantile, v.value)).collect();
    assert_eq!(values, [(0.0, 1.0), (0.5, 2.5), (0.25, 1.75), (1.0, 4.0)]);
    assert!(out.rows[2].values.iter().all(|v| v.value == 7.0));
    assert_eq!(out.rows[0].group.as_ref().unwrap().is_null, [true]);
}

#[test]
fn defaults_constant_column_and_empty_input() {
    let b = batch(vec![("v", f64s(&[Some(2.5); 5]))]);
    let out = run(&req(&[], &[]), &b).unwrap();
    let quantiles: Vec<f64> = out.rows[0].values.iter().map(|v| v.quantile).collect();
    assert_eq!(quantiles, DEFAULT_QUANTILES);
    assert!(out.rows[0].values.iter().all(|v| v.value == 2.5));
    let out = run(&req(&[], &[0.5]), &empty_tgv()).unwrap();
    assert_eq!(out.rows.len(), 1);
    assert_eq!(out.rows[0].n, 0);
    assert!(out.rows[0].values[0].value.is_nan());
}

#[test]
fn rejects_bad_quantiles_and_columns() {
    let schema = empty_tgv().schema();
    for q in [1.5, -0.1, f64::NAN] {
        let err = plan(&req(&[], &[q]), &schema).unwrap_err();
        assert!(err.to_string().contains("outside [0, 1]"), "{err}");
    }
    let mut r = req(&[], &[0.5]);
    r.value_column = "g".to_owned();
    assert!(plan(&r, &schema).is_err());
    r.value_column = String::new();
    assert!(
        plan(&r, &schema)
            .unwrap_err()
            .to_string()
            .contains("value_column is required")
    );
}

#[test]
fn plan_reads_only_needed_columns() {
    let schema = empty_tgv().schema();
    let p = plan(&req(&["g"], &[0.5]), &schema).unwrap();
    assert_eq!(p.columns, ["g", "v"]);
}

#[test]
fn matches_a_rust_reference_on_random_data() {
    let mut rng = SmallRng::seed_from_u64(11);
    let n = 30_001;
    let groups: Vec<Option<&str>> = (0..n).map(|i| Some(["x", "y"][i % 2])).collect();
    let values: Vec<Option<f64>> = (0..n)
        .map(|_| (rng.random::<f64>() > 0.05).then(|| rng.random::<f64>() * 1000.0 - 200.0))
        .collect();
    let b = batch(vec![("g", strs(&groups)), ("v", f64s(&values))]);
    let qs = [0.0, 0.01, 0.333, 0.5, 0.9, 0.999, 1.0];
    let out = run(&req(&["g"], &qs), &b).unwrap();
    for (k, row) in out.rows.iter().enumerate() {
        let mut sorted: Vec<f64> = (0..n)
            .filter(|i| i % 2 == k)
            .filter_map(|i| values[i])
            .collect();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(row.n, sorted.len() as u64);
        for v in &row.values {
            close(v.value, reference(&sorted, v.quantile));
        }
    }
}
