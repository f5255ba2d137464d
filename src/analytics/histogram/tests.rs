use rand::{Rng, SeedableRng, rngs::SmallRng};

use super::*;
use crate::analytics::testing::{batch, empty_tgv, f64s, group_text, i64s, raw_result, run, strs};

fn req(group_by: &[&str], edges: &[f64], bins: u32) -> proto::HistogramRequest {
    proto::HistogramRequest {
        group_by: group_by.iter().map(|s| (*s).to_owned()).collect(),
        value_column: "v".to_owned(),
        edges: edges.to_vec(),
        bins,
        ..Default::default()
    }
}

fn counts(row: &proto::HistogramRow) -> Vec<u64> {
    row.bins.iter().map(|b| b.count).collect()
}

#[test]
fn explicit_edges_with_bucket_edges_and_nulls() {
    let values = [
        Some(-1.0),
        Some(0.0),
        Some(9.99),
        Some(10.0),
        Some(29.9),
        Some(30.0),
        Some(30.1),
        None,
    ];
    let b = batch(vec![("v", f64s(&values))]);
    let out = run(&req(&[], &[0.0, 10.0, 20.0, 30.0], 0), &b).unwrap();
    assert_eq!(out.histograms.len(), 1);
    let h = &out.histograms[0];
    assert_eq!(counts(h), [2, 1, 2]);
    let edges: Vec<(f64, f64)> = h.bins.iter().map(|b| (b.lower, b.upper)).collect();
    assert_eq!(edges, [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)]);
    assert_eq!((h.underflow, h.overflow, h.nulls), (1, 1, 1));
}

#[test]
fn equal_width_bins_per_group_constant_and_all_null_groups() {
    let mut g = Vec::new();
    let mut v = Vec::new();
    for i in 0..=10 {
        g.push(Some("a"));
        v.push(Some(f64::from(i)));
    }
    g.extend([Some("c"), Some("c"), None, None]);
    v.extend([Some(4.0), Some(4.0), None, None]);
    let b = batch(vec![("g", strs(&g)), ("v", f64s(&v))]);
    let out = run(&req(&["g"], &[], 5), &b).unwrap();
    let groups: Vec<String> = out
        .histograms
        .iter()
        .map(|h| group_text(h.group.as_ref()))
        .collect();
    assert_eq!(groups, ["∅", "a", "c"]);
    let null_group = &out.histograms[0];
    assert!(null_group.bins.is_empty());
    assert_eq!(null_group.nulls, 2);
    let a = &out.histograms[1];
    assert_eq!(counts(a), [2, 2, 2, 2, 3]);
    assert_eq!(
        (a.bins[0].lower, a.bins[0].upper, a.bins[4].upper),
        (0.0, 2.0, 10.0)
    );
    let c = &out.histograms[2];
    assert_eq!(c.bins.len(), 1);
    assert_eq!(
        (c.bins[0].lower, c.bins[0].upper, c.bins[0].count),
        (4.0, 4.0, 2)
    );
}

#[test]
fn equal_width_bins_per_two_group_columns() {
    let b = batch(vec![
        (
            "g",
            strs(&[
                Some("x"),
                Some("x"),
                Some("x"),
                Some("x"),
                Some("y"),
                Some("y"),
            ]),
        ),
        (
            "h",
            i64s(&[Some(1), Some(1), Some(2), Some(2), Some(1), Some(1)]),
        ),
        (
            "v",
            f64s(&[
                Some(0.0),
                Some(10.0),
                Some(5.0),
                Some(5.0),
                Some(1.0),
                Some(3.0),
            ]),
        ),
    ]);
    let out = run(&req(&["g", "h"], &[], 2), &b).unwrap();
    let got: Vec<(String, Vec<u64>, f64, f64)> = out
        .histograms
        .iter()
        .map(|h| {
            let last = h.bins.last().map_or(f64::NAN, |b| b.upper);
            (
                group_text(h.group.as_ref()),
                counts(h),
                h.bins[0].lower,
                last,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("x|1".to_owned(), vec![1, 1], 0.0, 10.0),
            ("x|2".to_owned(), vec![2], 5.0, 5.0),
            ("y|1".to_owned(), vec![1, 1], 1.0, 3.0),
        ]
    );
}

#[test]
fn empty_input() {
    let out = run(&req(&["g"], &[0.0, 1.0], 0), &empty_tgv()).unwrap();
    assert!(out.histograms.is_empty());
    for group_by in [&["g"][..], &[]] {
        let out = run(&req(group_by, &[], 3), &empty_tgv()).unwrap();
        assert!(out.histograms.is_empty(), "{group_by:?}: {out:?}");
    }
}

#[test]
fn rejects_bad_edges_and_bins() {
    let schema = empty_tgv().schema();
    let msg = |r: proto::HistogramRequest| plan(&r, &schema).unwrap_err().to_string();
    assert!(msg(req(&[], &[1.0], 0)).contains("two or more"));
    assert!(msg(req(&[], &[1.0, 1.0], 0)).contains("strictly ascending"));
    assert!(msg(req(&[], &[2.0, 1.0], 0)).contains("strictly ascending"));
    assert!(msg(req(&[], &[0.0, f64::INFINITY], 0)).contains("finite"));
    assert!(msg(req(&[], &[], 0)).contains("either edges"));
    assert!(msg(req(&[], &[0.0, 1.0], 3)).contains("not both"));
    assert!(msg(req(&[], &[], 10_001)).contains("bins must be"));
}

#[test]
fn matches_a_rust_reference_on_random_data() {
    let mut rng = SmallRng::seed_from_u64(3);
    let n = 40_000;
    let values: Vec<Option<f64>> = (0..n)
        .map(|_| {
            (rng.random::<f64>() > 0.03).then(|| (rng.random::<f64>() * 100.0).round() / 4.0 - 5.0)
        })
        .collect();
    let b = batch(vec![("v", f64s(&values))]);
    let present: Vec<f64> = values.iter().flatten().copied().collect();

    let edges = [-2.0, 0.0, 0.5, 3.25, 10.0, 17.75, 19.0];
    let out = run(&req(&[], &edges, 0), &b).unwrap();
    let h = &out.histograms[0];
    let mut expected = vec![0u64; edges.len() - 1];
    let (mut under, mut over) = (0, 0);
    for &v in &present {
        if v < edges[0] {
            under += 1;
        } else if v > edges[edges.len() - 1] {
            over += 1;
        } else {
            let i = edges
                .iter()
                .rposition(|e| *e <= v)
                .unwrap()
                .min(edges.len() - 2);
            expected[i] += 1;
        }
    }
    assert_eq!(counts(h), expected);
    assert_eq!(
        (h.underflow, h.overflow, h.nulls),
        (under, over, (n - present.len()) as u64)
    );

    let k = 7;
    let out = run(&req(&[], &[], k as u32), &b).unwrap();
    let h = &out.histograms[0];
    let lo = present.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = (hi - lo) / k as f64;
    let mut expected = vec![0u64; k];
    for &v in &present {
        expected[(((v - lo) / width).floor() as usize).min(k - 1)] += 1;
    }
    assert_eq!(counts(h), expected);
    assert_eq!((h.bins[0].lower, h.bins[k - 1].upper), (lo, hi));
    assert_eq!(h.underflow + h.overflow, 0);
}

#[test]
fn non_finite_values_are_underflow_or_overflow_and_outside_the_range() {
    let (inf, nan) = (f64::INFINITY, f64::NAN);
    let rows = [
        ("a", Some(1.0)),
        ("a", Some(2.0)),
        ("a", Some(3.0)),
        ("a", Some(inf)),
        ("a", Some(-inf)),
        ("a", Some(nan)),
        ("a", None),
        ("b", Some(inf)),
        ("b", Some(nan)),
        ("c", Some(-inf)),
    ];
    let b = batch(vec![
        ("g", strs(&rows.map(|(g, _)| Some(g)))),
        ("v", f64s(&rows.map(|(_, v)| v))),
    ]);
    let out = run(&req(&["g"], &[], 2), &b).unwrap();
    let summary: Vec<_> = out
        .histograms
        .iter()
        .map(|h| {
            let edges: Vec<(f64, f64)> = h.bins.iter().map(|b| (b.lower, b.upper)).collect();
            (
                group_text(h.group.as_ref()),
                counts(h),
                edges,
                (h.underflow, h.overflow, h.nulls),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "a".to_owned(),
                vec![1, 2],
                vec![(1.0, 2.0), (2.0, 3.0)],
                (1, 2, 1)
            ),
            ("b".to_owned(), vec![], vec![], (0, 2, 0)),
            ("c".to_owned(), vec![], vec![], (1, 0, 0)),
        ]
    );

    // Without groups too.
    let b = batch(vec![(
        "v",
        f64s(&[Some(1.0), Some(inf), Some(3.0), Some(nan)]),
    )]);
    let h = &run(&req(&[], &[], 2), &b).unwrap().histograms[0];
    assert_eq!(counts(h), [1, 1]);
    assert_eq!((h.bins[0].lower, h.bins[1].upper), (1.0, 3.0));
    assert_eq!((h.underflow, h.overflow, h.nulls), (0, 2, 0));

    // Explicit edges: the same rule (NaN above every edge).
    let b = batch(vec![(
        "v",
        f64s(&[Some(nan), Some(inf), Some(-inf), Some(5.0)]),
    )]);
    let out = run(&req(&[], &[0.0, 10.0], 0), &b).unwrap();
    let h = &out.histograms[0];
    assert_eq!(counts(h), [1]);
    assert_eq!((h.underflow, h.overflow, h.nulls), (1, 2, 0));
}

#[test]
fn the_raw_result_has_one_row_per_group_and_bin() {
    // Flight streams the query's rows as they are: the maximum (position `bins`) must not
    // come as a second row of the last bin.
    let b = batch(vec![
        (
            "g",
            strs(&[Some("x"), Some("x"), Some("x"), Some("y"), Some("y")]),
        ),
        (
            "v",
            f64s(&[Some(0.0), Some(1.0), Some(0.5), Some(2.0), Some(4.0)]),
        ),
    ]);
    for bins in [1, 2, 3] {
        let result = raw_result(&req(&["g"], &[], bins), &b);
        let mut seen = Vec::new();
        for batch in &result {
            let rows = crate::analytics::decode::Rows::new(batch, 1).unwrap();
            let idx = rows.i64("__idx").unwrap();
            for row in 0..rows.len() {
                let key = (group_text(Some(&rows.group(row))), idx.get(row));
                assert!(!seen.contains(&key), "{key:?} twice with {bins} bins");
                seen.push(key);
            }
        }
        assert!(seen.len() >= 2, "{seen:?}");
    }
}
