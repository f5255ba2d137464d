//! The captured SDK queries the Rust predicate model can express, each built as the
//! equivalent [`Predicate`] over the capture's schema and compared with the SDK's body.

use std::sync::Arc;

use arrow::array::{BinaryArray, BooleanArray, Date32Array, Int64Array, StringArray, UInt64Array};

use super::{P, compare, rust_body, sdk_schema};
use crate::predicate::{CompareOp, Predicate};

/// A captured case: its name, the requested columns and the predicate.
type Case<'a> = (&'a str, Option<&'a [&'a str]>, Option<Predicate>);

/// Every expressible captured case: the Rust body decodes to the SDK's relation.
#[test]
fn rust_bodies_decode_to_the_sdk_relation() {
    use CompareOp::*;
    let p = P(sdk_schema());
    let s = &p.0;
    let int_in = |c: &str, vs: &[i64]| Predicate::In {
        column: c.into(),
        values: vs
            .iter()
            .map(|v| p.val(c, Arc::new(Int64Array::from(vec![*v]))))
            .collect(),
    };
    let string = |c: &str, v: &str| p.val(c, Arc::new(StringArray::from(vec![v])));
    let starts = |pattern: &str| Predicate::StartsWith {
        column: "name".into(),
        pattern: pattern.into(),
    };
    // (case, requested columns, predicate): the captured cases the predicate model expresses.
    let cases: Vec<Case<'_>> = vec![
        ("two_columns_no_filter", Some(&["name", "id"]), None),
        ("empty_projection_count", Some(&[]), None),
        ("eq_int64", Some(&["id", "name"]), Some(p.int("id", Eq, 42))),
        ("ne_int64", Some(&["id"]), Some(p.int("id", Ne, 42))),
        (
            "deferred_predicate",
            Some(&["id"]),
            Some(p.int("id", Gt, 5)),
        ),
        (
            "lt_le_gt_ge",
            Some(&["id"]),
            Some(Predicate::And(vec![
                p.int("id", Lt, 10),
                p.int("i32", Le, 20),
                p.int("i16", Gt, -3),
                p.int("i8", Ge, 1),
            ])),
        ),
        (
            "unsigned",
            Some(&["u8"]),
            Some(Predicate::And(vec![
                p.int("u8", Eq, 200),
                p.int("u16", Gt, 60000),
                p.int("u32", Lt, 4_000_000_000),
                p.cmp("u64", Ge, Arc::new(UInt64Array::from(vec![1u64 << 62]))),
            ])),
        ),
        (
            "floats",
            Some(&["f64"]),
            Some(Predicate::And(vec![
                p.float("f32", Gt, 1.5),
                p.float("f64", Le, -2.25),
            ])),
        ),
        (
            "string_eq",
            Some(&["name"]),
            Some(p.text("name", Eq, "alice")),
        ),
        (
            "binary_eq",
            Some(&["blob"]),
            Some(p.cmp(
                "blob",
                Eq,
                Arc::new(BinaryArray::from(vec![&[0u8, 1, 0xff][..]])),
            )),
        ),
        (
            "bool_eq",
            Some(&["flag"]),
            Some(p.cmp("flag", Eq, Arc::new(BooleanArray::from(vec![true])))),
        ),
        (
            "decimal_ge",
            Some(&["price"]),
            Some(p.float("price", Ge, 12.5)),
        ),
        (
            "date_between",
            Some(&["day"]),
            Some(Predicate::Between {
                column: "day".into(),
                low: p.val("day", Arc::new(Date32Array::from(vec![19723]))),
                high: p.val("day", Arc::new(Date32Array::from(vec![20088]))),
            }),
        ),
        (
            "timestamps",
            Some(&["ts_s"]),
            Some(Predicate::And(vec![
                p.int("ts_s", Gt, 1_704_067_200),
                p.int("ts_ms", Lt, 1_704_153_600_000),
                p.int("ts_us", Ge, 1_704_067_201_000_000),
                p.int("ts_ns", Le, 1_704_240_000_000_000_000),
            ])),
        ),
        // The gRPC API has no time literal; the predicate model (and pushdown) does.
        (
            "time_cmp",
            Some(&["t32"]),
            Some(Predicate::And(vec![
                p.int("t32", Gt, 43_200_000),
                p.int("t64", Lt, 48_600_000_005),
            ])),
        ),
        ("isin", Some(&["id"]), Some(int_in("id", &[1, 2, 3]))),
        (
            "isin_strings",
            Some(&["name"]),
            Some(Predicate::In {
                column: "name".into(),
                values: vec![string("name", "a"), string("name", "b")],
            }),
        ),
        (
            "between_int",
            Some(&["id"]),
            Some(Predicate::Between {
                column: "id".into(),
                low: p.val("id", Arc::new(Int64Array::from(vec![10]))),
                high: p.val("id", Arc::new(Int64Array::from(vec![20]))),
            }),
        ),
        ("startswith", Some(&["name"]), Some(starts("ab"))),
        ("startswith_empty", Some(&["name"]), Some(starts(""))),
        (
            "contains",
            Some(&["name"]),
            Some(Predicate::Contains {
                column: "name".into(),
                pattern: "lic".into(),
            }),
        ),
        (
            "isnull",
            Some(&["name"]),
            Some(Predicate::IsNull("name".into())),
        ),
        // The SDK spells IS NOT NULL `~isnull()`; the predicate model has it as a node.
        (
            "not_isnull",
            Some(&["name"]),
            Some(Predicate::IsNotNull("name".into())),
        ),
        (
            "or_same_column",
            Some(&["id"]),
            Some(Predicate::Or(vec![
                p.int("id", Eq, 1),
                p.int("id", Gt, 100),
                Predicate::IsNull("id".into()),
            ])),
        ),
        (
            "and_of_ors",
            Some(&["id", "name"]),
            Some(Predicate::And(vec![
                Predicate::Or(vec![p.int("id", Lt, 5), p.int("id", Gt, 10)]),
                Predicate::Or(vec![p.text("name", Eq, "x"), starts("y")]),
            ])),
        ),
        (
            "filter_only_column",
            Some(&["id"]),
            Some(p.text("name", Eq, "bob")),
        ),
        (
            "two_filter_only_columns",
            Some(&["id"]),
            Some(Predicate::And(vec![
                p.text("name", Eq, "bob"),
                p.float("f64", Gt, 0.5),
            ])),
        ),
        (
            "non_nullable_literal_type",
            Some(&["nn"]),
            Some(p.int("nn", Gt, 3)),
        ),
    ];
    for (case, columns, predicate) in &cases {
        let body =
            rust_body(s, *columns, predicate.as_ref()).unwrap_or_else(|e| panic!("{case}: {e}"));
        compare(case, &body, columns.map_or(s.fields().len(), <[_]>::len));
    }
    assert_eq!(cases.len(), 28);
}
