use std::sync::Arc;

use arrow::{
    array::{
        BooleanArray, Float64Array, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    },
    datatypes::{DataType, Field, Schema, TimeUnit},
};

use super::*;
use crate::proto::{self, filter::Kind, literal::Value as Lit};

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ]))
}

fn batch() -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int32Array::from(vec![Some(1), Some(2), None, Some(4)])),
            Arc::new(StringArray::from(vec![
                Some("alpha"),
                Some("beta"),
                Some("alphabet"),
                None,
            ])),
            Arc::new(Float64Array::from(vec![
                Some(0.5),
                None,
                Some(2.5),
                Some(-1.0),
            ])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![
                    Some(0),
                    Some(1_000_000),
                    Some(2_000_000),
                    None,
                ])
                .with_timezone("UTC"),
            ),
        ],
    )
    .unwrap()
}

fn lit(v: Lit) -> Option<proto::Literal> {
    Some(proto::Literal { value: Some(v) })
}

fn cmp(column: &str, op: proto::CompareOp, v: Lit) -> proto::Filter {
    proto::Filter {
        kind: Some(Kind::Compare(proto::Comparison {
            column: column.into(),
            op: op as i32,
            value: lit(v),
        })),
    }
}

fn eval(filter: proto::Filter) -> Vec<Option<bool>> {
    let p = Predicate::from_proto(Some(&filter), &schema())
        .unwrap()
        .unwrap();
    evaluate(&p, &batch()).unwrap().iter().collect()
}

fn error(filter: proto::Filter) -> String {
    Predicate::from_proto(Some(&filter), &schema())
        .unwrap_err()
        .to_string()
}

#[test]
fn comparisons_follow_sql_null_semantics() {
    assert_eq!(
        eval(cmp("id", proto::CompareOp::Gt, Lit::IntValue(1))),
        [Some(false), Some(true), None, Some(true)]
    );
    assert_eq!(
        eval(cmp("score", proto::CompareOp::Le, Lit::IntValue(0))),
        [Some(false), None, Some(false), Some(true)]
    );
    let not = proto::Filter {
        kind: Some(Kind::Not(Box::new(cmp(
            "id",
            proto::CompareOp::Eq,
            Lit::IntValue(2),
        )))),
    };
    assert_eq!(eval(not), [Some(true), Some(false), None, Some(true)]);
}

#[test]
fn and_or_in_between_strings_nulls() {
    let starts = proto::Filter {
        kind: Some(Kind::StartsWith(proto::StringMatch {
            column: "name".into(),
            pattern: "alph".into(),
        })),
    };
    assert_eq!(
        eval(starts.clone()),
        [Some(true), Some(false), Some(true), None]
    );
    let contains = proto::Filter {
        kind: Some(Kind::Contains(proto::StringMatch {
            column: "name".into(),
            pattern: "bet".into(),
        })),
    };
    assert_eq!(eval(contains), [Some(false), Some(true), Some(true), None]);
    let is_in = proto::Filter {
        kind: Some(Kind::In(proto::InList {
            column: "id".into(),
            values: vec![
                lit(Lit::IntValue(1)).unwrap(),
                lit(Lit::IntValue(4)).unwrap(),
            ],
        })),
    };
    assert_eq!(
        eval(is_in.clone()),
        [Some(true), Some(false), None, Some(true)]
    );
    let or = proto::Filter {
        kind: Some(Kind::Or(proto::FilterList {
            filters: vec![starts, is_in],
        })),
    };
    // NULL OR true = true; NULL OR false = NULL.
    assert_eq!(eval(or), [Some(true), Some(false), Some(true), Some(true)]);
    let between = proto::Filter {
        kind: Some(Kind::Between(proto::Between {
            column: "ts".into(),
            low: lit(Lit::TimestampValue(prost_types::Timestamp {
                seconds: 1,
                nanos: 0,
            })),
            high: lit(Lit::TimestampValue(prost_types::Timestamp {
                seconds: 2,
                nanos: 0,
            })),
        })),
    };
    assert_eq!(eval(between), [Some(false), Some(true), Some(true), None]);
    let null = proto::Filter {
        kind: Some(Kind::IsNull(proto::ColumnRef {
            column: "score".into(),
        })),
    };
    assert_eq!(
        eval(null),
        [Some(false), Some(true), Some(false), Some(false)]
    );
    let and = proto::Filter {
        kind: Some(Kind::And(proto::FilterList {
            filters: vec![
                proto::Filter {
                    kind: Some(Kind::IsNotNull(proto::ColumnRef {
                        column: "id".into(),
                    })),
                },
                cmp(
                    "name",
                    proto::CompareOp::Ne,
                    Lit::StringValue("beta".into()),
                ),
            ],
        })),
    };
    assert_eq!(eval(and), [Some(true), Some(false), Some(false), None]);
    let mask: BooleanArray = vec![Some(true)].into();
    assert_eq!(mask.len(), 1);
}

#[test]
fn errors_name_the_column_or_node() {
    assert!(
        error(cmp("nope", proto::CompareOp::Eq, Lit::IntValue(1)))
            .contains("unknown column `nope`")
    );
    let e = error(cmp(
        "id",
        proto::CompareOp::Eq,
        Lit::StringValue("x".into()),
    ));
    assert!(e.contains("`id`") && e.contains("int_value"), "{e}");
    let e = error(cmp("id", proto::CompareOp::Eq, Lit::IntValue(1 << 40)));
    assert!(e.contains("does not fit column `id`"), "{e}");
    let e = error(cmp("id", proto::CompareOp::Eq, Lit::FloatValue(1.5)));
    assert!(e.contains("`id`"), "{e}");
    let e = error(cmp("id", proto::CompareOp::Unspecified, Lit::IntValue(1)));
    assert!(e.contains("needs an op"), "{e}");
    let empty_in = proto::Filter {
        kind: Some(Kind::In(proto::InList {
            column: "id".into(),
            values: vec![],
        })),
    };
    assert!(error(empty_in).contains("at least one value"));
    let empty_and = proto::Filter {
        kind: Some(Kind::And(proto::FilterList { filters: vec![] })),
    };
    assert!(error(empty_and).contains("filter.and"));
    let nested = proto::Filter {
        kind: Some(Kind::Or(proto::FilterList {
            filters: vec![
                cmp("id", proto::CompareOp::Eq, Lit::IntValue(1)),
                proto::Filter { kind: None },
            ],
        })),
    };
    assert!(error(nested).contains("filter.or[1]"));
    let starts = proto::Filter {
        kind: Some(Kind::StartsWith(proto::StringMatch {
            column: "id".into(),
            pattern: "1".into(),
        })),
    };
    assert!(error(starts).contains("string column"));
    let sub_micro = cmp(
        "ts",
        proto::CompareOp::Lt,
        Lit::TimestampValue(prost_types::Timestamp {
            seconds: 1,
            nanos: 500,
        }),
    );
    assert!(error(sub_micro).contains("finer than"));
}

#[test]
fn columns_lists_each_once() {
    let filter = proto::Filter {
        kind: Some(Kind::And(proto::FilterList {
            filters: vec![
                cmp("id", proto::CompareOp::Gt, Lit::IntValue(0)),
                cmp("score", proto::CompareOp::Gt, Lit::FloatValue(0.0)),
                cmp("id", proto::CompareOp::Lt, Lit::IntValue(9)),
            ],
        })),
    };
    let p = Predicate::from_proto(Some(&filter), &schema())
        .unwrap()
        .unwrap();
    assert_eq!(p.columns(), ["id", "score"]);
}
