use rand::{Rng, SeedableRng, rngs::SmallRng};

use super::*;
use crate::analytics::testing::{batch, close, empty_tgv, f64s, group_text, run, strs, ts};

fn req(group_by: &[&str]) -> proto::TrendRequest {
    proto::TrendRequest {
        group_by: group_by.iter().map(|s| (*s).to_owned()).collect(),
        time_column: "ts".to_owned(),
        value_column: "v".to_owned(),
        ..Default::default()
    }
}

const S: i64 = 1_000_000;

#[test]
fn hand_computed_per_group() {
    let b = batch(vec![
        (
            "ts",
            ts(&[
                Some(0),
                Some(10 * S),
                Some(20 * S),
                Some(5 * S),
                Some(7 * S),
                Some(30 * S),
            ]),
        ),
        (
            "g",
            strs(&[Some("a"), Some("a"), Some("a"), Some("b"), None, Some("a")]),
        ),
        (
            "v",
            f64s(&[
                Some(5.0),
                Some(25.0),
                Some(45.0),
                Some(1.0),
                Some(3.0),
                None,
            ]),
        ),
    ]);
    let out = run(&req(&["g"]), &b).unwrap();
    let groups: Vec<String> = out
        .trends
        .iter()
        .map(|t| group_text(t.group.as_ref()))
        .collect();
    assert_eq!(groups, ["∅", "a", "b"]);
    let a = &out.trends[1];
    close(a.slope_per_second, 2.0);
    close(a.intercept, 5.0);
    close(a.r_squared, 1.0);
    assert_eq!(a.n, 3);
    let b_row = &out.trends[2];
    assert!(b_row.slope_per_second.is_nan());
    assert_eq!(b_row.n, 1);
}

#[test]
fn noisy_line_and_no_groups() {
    // v = 10 - t/2 with residuals +1, -1, -1, +1 at t = 0, 1, 2, 3 seconds.
    let b = batch(vec![
        ("ts", ts(&[Some(0), Some(S), Some(2 * S), Some(3 * S)])),
        ("g", strs(&[Some("x"); 4])),
        ("v", f64s(&[Some(11.0), Some(8.5), Some(8.0), Some(9.5)])),
    ]);
    let out = run(&req(&[]), &b).unwrap();
    assert_eq!(out.trends.len(), 1);
    let t = &out.trends[0];
    // x̄ = 1.5, ȳ = 9.25, Sxy = -2.5, Sxx = 5 → slope -0.5, intercept 10.
    close(t.slope_per_second, -0.5);
    close(t.intercept, 10.0);
    // SSres = 4, SStot = 5.25 → r² = 1 - 4/5.25.
    close(t.r_squared, 1.0 - 4.0 / 5.25);
    assert_eq!(t.n, 4);
    assert_eq!(t.group.as_ref().unwrap().values.len(), 0);
}

#[test]
fn empty_input_gives_one_empty_row_without_groups() {
    let out = run(&req(&[]), &empty_tgv()).unwrap();
    assert_eq!(out.trends.len(), 1);
    assert_eq!(out.trends[0].n, 0);
    assert!(out.trends[0].slope_per_second.is_nan());
    assert!(run(&req(&["g"]), &empty_tgv()).unwrap().trends.is_empty());
}

#[test]
fn rejects_bad_columns() {
    let b = empty_tgv();
    let mut r = req(&[]);
    r.value_column = "g".to_owned();
    let err = plan(&r, &b.schema()).unwrap_err();
    assert!(err.to_string().contains("not a numeric type"), "{err}");
    let mut r = req(&[]);
    r.time_column = "v".to_owned();
    assert!(
        plan(&r, &b.schema())
            .unwrap_err()
            .to_string()
            .contains("not a timestamp")
    );
    let r = req(&["nope"]);
    assert!(
        plan(&r, &b.schema())
            .unwrap_err()
            .to_string()
            .contains("unknown column `nope`")
    );
}

#[test]
fn matches_a_rust_reference_on_random_data() {
    let mut rng = SmallRng::seed_from_u64(7);
    let n = 20_000;
    let times: Vec<Option<i64>> = (0..n)
        .map(|i| Some(1_700_000_000 * S + i * 997_000 + rng.random_range(0..1000)))
        .collect();
    let groups: Vec<Option<&str>> = (0..n)
        .map(|i| Some(["p", "q", "r"][(i % 3) as usize]))
        .collect();
    let values: Vec<Option<f64>> = (0..n)
        .map(|i| {
            (rng.random::<f64>() > 0.1).then(|| 3.0 + 0.001 * i as f64 + rng.random::<f64>() * 50.0)
        })
        .collect();
    let b = batch(vec![
        ("ts", ts(&times)),
        ("g", strs(&groups)),
        ("v", f64s(&values)),
    ]);
    let out = run(&req(&["g"]), &b).unwrap();
    assert_eq!(out.trends.len(), 3);
    for (k, row) in out.trends.iter().enumerate() {
        let pts: Vec<(f64, f64)> = (0..n as usize)
            .filter(|&i| i % 3 == k)
            .filter_map(|i| Some((times[i]? as f64 / 1e6, values[i]?)))
            .collect();
        let m = pts.len() as f64;
        let (mx, my) = (
            pts.iter().map(|p| p.0).sum::<f64>() / m,
            pts.iter().map(|p| p.1).sum::<f64>() / m,
        );
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
        let slope = sxy / sxx;
        assert_eq!(row.n, pts.len() as u64);
        assert!(
            (row.slope_per_second - slope).abs() < 1e-9 * slope.abs().max(1.0) * 1e3,
            "{} vs {slope}",
            row.slope_per_second
        );
        let r2 = sxy * sxy / (sxx * syy);
        assert!(
            (row.r_squared - r2).abs() < 1e-6,
            "{} vs {r2}",
            row.r_squared
        );
        let intercept = my - slope * mx;
        assert!(
            (row.intercept - intercept).abs() < 1e-6 * intercept.abs().max(1.0),
            "{} vs {intercept}",
            row.intercept
        );
    }
}
