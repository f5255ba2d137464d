//! Every `query_data` body the official SDK built (`tests/sdk/capture_bodies.py` →
//! `tests/sdk/golden/*.bin`) decodes to the projection and filter tree the SDK's own decoder
//! wrote next to it (`*.json`).

use serde_json::{Value, json};

use super::{Literal, Term, decode};

fn literal(value: &Literal) -> Value {
    match value {
        Literal::Bool(v) => json!(v),
        Literal::Int(v) | Literal::Date(v) | Literal::Time(v) | Literal::Timestamp(v) => json!(v),
        Literal::UInt(v) => json!(v),
        Literal::Float32(v) => json!(v),
        Literal::Float64(v) => json!(v),
        Literal::Utf8(v) => json!(v),
        Literal::Binary(_) | Literal::Decimal(_) | Literal::Float16(_) => Value::Null,
    }
}

/// The SDK decoder's shape, with literal values only where they compare exactly.
fn term(t: &Term) -> Value {
    let field = |p: &u32| json!({ "field": p });
    match t {
        Term::And(children) => {
            json!({ "call": "and", "args": children.iter().map(term).collect::<Vec<_>>() })
        }
        Term::IsNull(p) => json!({ "call": "is_null", "args": [field(p)] }),
        Term::IsValid(p) => json!({ "call": "is_valid", "args": [field(p)] }),
        Term::Substring { position, pattern } => {
            json!({ "call": "match_substring", "args": [field(position), { "value": pattern }] })
        }
        Term::Compare {
            position,
            op,
            value,
        } => {
            json!({ "call": op.name(), "args": [field(position), { "value": literal(value) }] })
        }
    }
}

/// The SDK JSON reduced to the keys `term` writes.
fn reduce(v: &Value) -> Value {
    if let Some(call) = v.get("call") {
        let args = v["args"]
            .as_array()
            .map(|a| a.iter().map(reduce).collect::<Vec<_>>());
        return json!({ "call": call, "args": args.unwrap_or_default() });
    }
    if let Some(field) = v.get("field") {
        return json!({ "field": field });
    }
    let value = match &v["value"] {
        Value::Number(n) if n.is_i64() || n.is_u64() => Value::Number(n.clone()),
        Value::String(s) if v["literal"] == "StringLiteral" => Value::String(s.clone()),
        Value::Bool(b) => Value::Bool(*b),
        Value::Number(n)
            if v["literal"] == "Float64Literal" || v["literal"] == "Float32Literal" =>
        {
            Value::Number(n.clone())
        }
        _ => Value::Null,
    };
    json!({ "value": value })
}

#[test]
fn sdk_bodies_decode_to_the_sdk_relation() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/golden");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("golden dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "bin") {
            continue;
        }
        let body = std::fs::read(&path).expect("body");
        let expected: Value =
            serde_json::from_slice(&std::fs::read(path.with_extension("json")).expect("json"))
                .expect("json parses");
        let relation = decode(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            json!(relation.projection),
            expected["projection"],
            "{}",
            path.display()
        );
        let groups: Vec<Value> = relation
            .filter
            .iter()
            .map(|g| json!({ "call": "or", "args": g.iter().map(term).collect::<Vec<_>>() }))
            .collect();
        let mine = json!({ "call": "and", "args": groups });
        assert_eq!(mine, reduce(&expected["filter"]), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} golden bodies");
}
