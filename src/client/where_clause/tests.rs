use super::{WhereError, parse};
use crate::proto::{self, CompareOp, filter::Kind, literal::Value as Lit};

fn compare(column: &str, op: CompareOp, value: Lit) -> proto::Filter {
    proto::Filter {
        kind: Some(Kind::Compare(proto::Comparison {
            column: column.to_owned(),
            op: op as i32,
            value: Some(proto::Literal { value: Some(value) }),
        })),
    }
}

fn error(text: &str) -> WhereError {
    match parse(text) {
        Err(err) => err,
        Ok(filter) => panic!("`{text}` parsed as {filter:?}"),
    }
}

#[test]
fn the_readme_example_is_a_conjunction_of_two_comparisons() {
    let parsed = parse("region = 'east' AND temperature > 25").unwrap();
    let expected = proto::Filter {
        kind: Some(Kind::And(proto::FilterList {
            filters: vec![
                compare("region", CompareOp::Eq, Lit::StringValue("east".into())),
                compare("temperature", CompareOp::Gt, Lit::IntValue(25)),
            ],
        })),
    };
    assert_eq!(parsed, expected);
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_override() {
    let Some(Kind::Or(or)) = parse("a = 1 OR b = 2 AND c = 3").unwrap().kind else {
        panic!("OR at the top");
    };
    assert_eq!(or.filters.len(), 2);
    assert!(matches!(or.filters[1].kind, Some(Kind::And(_))));

    let Some(Kind::And(and)) = parse("(a = 1 OR b = 2) AND c = 3").unwrap().kind else {
        panic!("AND at the top");
    };
    assert!(matches!(and.filters[0].kind, Some(Kind::Or(_))));
}

#[test]
fn every_test_form_maps_to_its_filter_kind() {
    let kinds = [
        ("x IN (1, 2.5, 'a')", "In"),
        ("x NOT IN (1)", "Not"),
        ("x BETWEEN -1 AND 1e3", "Between"),
        ("x IS NULL", "IsNull"),
        ("x is not null", "IsNotNull"),
        ("name LIKE 'ab%'", "StartsWith"),
        ("name LIKE '%b%'", "Contains"),
        ("NOT x <> 3", "Not"),
        (
            "\"odd col\" >= TIMESTAMP '2024-01-02 03:04:05.5'",
            "Compare",
        ),
        ("day < DATE '1970-01-11'", "Compare"),
    ];
    for (text, kind) in kinds {
        let parsed = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let debug = format!("{:?}", parsed.kind);
        assert!(
            debug.starts_with(&format!("Some({kind}(")),
            "{text} → {debug}"
        );
    }
    let Some(Kind::Compare(c)) = parse("t >= TIMESTAMP '2024-01-02 03:04:05.5'")
        .unwrap()
        .kind
    else {
        panic!("comparison");
    };
    let Some(Lit::TimestampValue(ts)) = c.value.and_then(|v| v.value) else {
        panic!("timestamp literal");
    };
    // 2024-01-02T03:04:05.5Z, computed with `date -u -d '2024-01-02 03:04:05' +%s`.
    assert_eq!((ts.seconds, ts.nanos), (1_704_164_645, 500_000_000));
    let Some(Kind::Compare(c)) = parse("d = DATE '1970-01-11'").unwrap().kind else {
        panic!("comparison");
    };
    assert_eq!(c.value.and_then(|v| v.value), Some(Lit::DateValue(10)));
}

#[test]
fn quotes_double_to_escape_themselves() {
    let Some(Kind::Compare(c)) = parse("name = 'O''Brien'").unwrap().kind else {
        panic!("comparison");
    };
    assert_eq!(
        c.value.and_then(|v| v.value),
        Some(Lit::StringValue("O'Brien".into()))
    );
}

#[test]
fn errors_point_at_the_token_they_could_not_use() {
    let text = "region = 'east' AND temperature >";
    let err = error(text);
    assert_eq!(err.position, text.len());
    assert!(err.message.contains("expected a value"), "{err}");

    let err = error("region = 'east' AND AND x = 1");
    assert_eq!(err.position, 20);
    assert!(err.message.contains("column name"), "{err}");
    // The caret sits under the bad token.
    let shown = err.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[2].find('^'), Some(2 + 20), "{shown}");

    assert_eq!(error("x = 'open").position, 4);
    assert_eq!(error("x ~ 1").position, 2);
    assert_eq!(error("x = 1 y = 2").position, 6);
    assert_eq!(error("name LIKE 'a%b%'").position, 10);
    assert_eq!(error("(x = 1").position, 6);
    assert!(
        error("t > TIMESTAMP 'yesterday'")
            .message
            .contains("not a timestamp")
    );
    assert!(error("").message.contains("column name"));
}
