use rand::{Rng, SeedableRng, rngs::SmallRng};

use super::*;
use crate::analytics::testing::{batch, close, f64s, group_text, i64s, run, strs};

fn req(group_by: &[&str], columns: &[&str]) -> proto::CorrelationRequest {
    proto::CorrelationRequest {
        group_by: group_by.iter().map(|s| (*s).to_owned()).collect(),
        columns: columns.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

fn pearson(pts: &[(f64, f64)]) -> f64 {
    let m = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / m,
        pts.iter().map(|p| p.1).sum::<f64>() / m,
    );
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

#[test]
fn hand_computed_pairs_pairwise_complete() {
    let b = batch(vec![
        (
            "a",
            f64s(&[Some(1.0), Some(2.0), Some(3.0), Some(4.0), None]),
        ),
        ("b", i64s(&[Some(2), Some(4), Some(6), Some(8), Some(100)])),
        (
            "c",
            f64s(&[Some(4.0), Some(3.0), None, Some(1.0), Some(0.0)]),
        ),
    ]);
    let out = run(&req(&[], &["a", "b", "c"]), &b).unwrap();
    let got: Vec<(String, String, u64)> = out
        .pairs
        .iter()
        .map(|p| (p.x.clone(), p.y.clone(), p.n))
        .collect();
    assert_eq!(
        got,
        [
            ("a".into(), "b".into(), 4),
            ("a".into(), "c".into(), 3),
            ("b".into(), "c".into(), 4)
        ]
    );
    close(out.pairs[0].r, 1.0);
    // a,c over rows 0,1,3: (1,4) (2,3) (4,1) → exactly linear, r = -1.
    close(out.pairs[1].r, -1.0);
    close(
        out.pairs[2].r,
        pearson(&[(2.0, 4.0), (4.0, 3.0), (8.0, 1.0), (100.0, 0.0)]),
    );
}

#[test]
fn constant_column_and_single_row_are_nan() {
    let b = batch(vec![
        ("g", strs(&[Some("a"), Some("a"), Some("b")])),
        ("x", f64s(&[Some(1.0), Some(2.0), Some(5.0)])),
        ("y", f64s(&[Some(3.0), Some(3.0), Some(1.0)])),
    ]);
    let out = run(&req(&["g"], &["x", "y"]), &b).unwrap();
    assert_eq!(out.pairs.len(), 2);
    assert_eq!(group_text(out.pairs[0].group.as_ref()), "a");
    assert!(out.pairs[0].r.is_nan(), "{}", out.pairs[0].r);
    assert_eq!(out.pairs[0].n, 2);
    assert!(out.pairs[1].r.is_nan());
    assert_eq!(out.pairs[1].n, 1);
}

#[test]
fn rejects_too_few_duplicate_or_text_columns() {
    let schema = batch(vec![("x", f64s(&[])), ("s", strs(&[]))]).schema();
    assert!(
        plan(&req(&[], &["x"]), &schema)
            .unwrap_err()
            .to_string()
            .contains("two or more")
    );
    assert!(
        plan(&req(&[], &["x", "x"]), &schema)
            .unwrap_err()
            .to_string()
            .contains("twice")
    );
    assert!(
        plan(&req(&[], &["x", "s"]), &schema)
            .unwrap_err()
            .to_string()
            .contains("not a numeric")
    );
}

#[test]
fn matches_a_rust_reference_on_random_data() {
    let mut rng = SmallRng::seed_from_u64(5);
    let n = 25_000;
    let mut col = |f: &dyn Fn(usize, f64) -> f64| -> Vec<Option<f64>> {
        (0..n)
            .map(|i| {
                let r = rng.random::<f64>();
                (r > 0.08).then(|| f(i, r))
            })
            .collect()
    };
    let x = col(&|i, r| i as f64 * 0.01 + r * 40.0);
    let y = col(&|i, r| 500.0 - i as f64 * 0.02 + r * 90.0);
    let z = col(&|_, r| r * r * 1e6);
    let g: Vec<Option<&str>> = (0..n)
        .map(|i| if i % 5 == 0 { None } else { Some("k") })
        .collect();
    let b = batch(vec![
        ("g", strs(&g)),
        ("x", f64s(&x)),
        ("y", f64s(&y)),
        ("z", f64s(&z)),
    ]);
    let out = run(&req(&["g"], &["x", "y", "z"]), &b).unwrap();
    assert_eq!(out.pairs.len(), 6);
    let cols = [&x, &y, &z];
    for p in &out.pairs {
        let null_group = p.group.as_ref().unwrap().is_null[0];
        let (i, j) = (
            ["x", "y", "z"].iter().position(|c| *c == p.x).unwrap(),
            ["x", "y", "z"].iter().position(|c| *c == p.y).unwrap(),
        );
        let pts: Vec<(f64, f64)> = (0..n)
            .filter(|k| (k % 5 == 0) == null_group)
            .filter_map(|k| Some((cols[i][k]?, cols[j][k]?)))
            .collect();
        assert_eq!(p.n, pts.len() as u64);
        assert!(
            (p.r - pearson(&pts)).abs() < 1e-9,
            "{} vs {}",
            p.r,
            pearson(&pts)
        );
    }
}
