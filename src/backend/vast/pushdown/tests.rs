use std::sync::Arc;

use arrow::{
    array::{Int32Array, StringArray, TimestampMicrosecondArray},
    datatypes::{DataType, Field, TimeUnit},
};

use crate::{
    backend::vast::request::query_body,
    predicate::{CompareOp, Predicate, Value},
    vast_protocol::relation::{self, Comparison, Literal, Term},
};

fn int(v: i32) -> Value {
    Value(Arc::new(Int32Array::from(vec![v])))
}

#[test]
fn pushable_conjuncts_become_or_groups() {
    let id = Field::new("id", DataType::Int32, false);
    let name = Field::new("name", DataType::Utf8, true);
    let ts = Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    );
    let ts_value = Value(Arc::new(
        TimestampMicrosecondArray::from(vec![5_000_000]).with_timezone("UTC"),
    ));
    let predicate = Predicate::And(vec![
        Predicate::Or(vec![
            Predicate::Compare {
                column: "id".into(),
                op: CompareOp::Lt,
                value: int(3),
            },
            Predicate::In {
                column: "id".into(),
                values: vec![int(7), int(9)],
            },
        ]),
        // OR across columns: not pushed.
        Predicate::Or(vec![
            Predicate::IsNull("name".into()),
            Predicate::IsNull("id".into()),
        ]),
        Predicate::Not(Box::new(Predicate::IsNull("name".into()))),
        Predicate::StartsWith {
            column: "name".into(),
            pattern: "ab".into(),
        },
        Predicate::Compare {
            column: "ts".into(),
            op: CompareOp::Ge,
            value: ts_value,
        },
        Predicate::Compare {
            column: "name".into(),
            op: CompareOp::Eq,
            value: Value(Arc::new(StringArray::from(vec![None::<&str>]))),
        },
    ]);
    let (body, pushed) = query_body(&[&id, &name, &ts], Some(&predicate)).unwrap();
    assert_eq!(pushed, 3);
    let rel = relation::decode(&body).unwrap();
    let cmp = |position, op, value| Term::Compare {
        position,
        op,
        value,
    };
    assert_eq!(
        rel.filter,
        vec![
            vec![
                cmp(0, Comparison::Less, Literal::Int(3)),
                cmp(0, Comparison::Equal, Literal::Int(7)),
                cmp(0, Comparison::Equal, Literal::Int(9)),
            ],
            vec![Term::And(vec![
                cmp(1, Comparison::GreaterEqual, Literal::Utf8("ab".into())),
                cmp(1, Comparison::Less, Literal::Utf8("ac".into())),
            ])],
            vec![cmp(
                2,
                Comparison::GreaterEqual,
                Literal::Timestamp(5_000_000)
            )],
        ]
    );
}

#[test]
fn prefix_bounds() {
    assert_eq!(super::prefix_upper_bound("ab").as_deref(), Some("ac"));
    assert_eq!(
        super::prefix_upper_bound("a\u{10FFFF}").as_deref(),
        Some("b")
    );
    assert_eq!(super::prefix_upper_bound(""), None);
}
