//! Target `filter`: proto `Filter`s (generated trees, decoded noise, mutated encodings) →
//! `Predicate::from_proto` against three tables → `predicate::evaluate` on a batch of each →
//! the VAST `query_data` body (`backend::vast::request::query_body`) → `relation::decode` →
//! the emulator's `filter::predicate`, evaluated on the same batch.
//!
//! Invariants: a validated predicate reads only columns of its table and evaluates on the demo
//! table; our own body decodes, with one `or` group per pushed conjunct; the emulator accepts
//! it; and what is pushed down keeps every row the full predicate keeps.

use arrow::{
    array::{Array, BooleanArray},
    datatypes::Field,
    record_batch::RecordBatch,
};
use proptest::prelude::*;
use prost::Message;

use super::{config, corpus, strategies, write_seed};
use crate::{
    backend::vast::request::query_body,
    emulator, gen_data,
    predicate::{Predicate, evaluate},
    proto::{self, filter::Kind, literal::Value as Lit},
    vast_protocol::relation,
};

const TARGET: &str = "filter";
const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions/filter.txt");

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

/// Runs `filter` through the whole pipeline against every table.
fn check(filter: &proto::Filter) -> Result<(), TestCaseError> {
    for batch in strategies::tables() {
        check_on(filter, &batch)?;
    }
    Ok(())
}

fn check_on(filter: &proto::Filter, batch: &RecordBatch) -> Result<(), TestCaseError> {
    let schema = batch.schema();
    let Ok(Some(predicate)) = Predicate::from_proto(Some(filter), &schema) else {
        return Ok(());
    };
    for column in predicate.columns() {
        prop_assert!(
            schema.field_with_name(column).is_ok(),
            "validated predicate reads unknown column `{column}`"
        );
    }
    let kept = evaluate(&predicate, batch);
    if schema == gen_data::sensors_schema() {
        prop_assert!(
            kept.is_ok(),
            "validated predicate fails to evaluate: {kept:?}"
        );
    }
    let fields: Vec<&Field> = schema.fields().iter().map(|f| f.as_ref()).collect();
    let Ok((body, pushed)) = query_body(&fields, Some(&predicate)) else {
        return Ok(()); // a column type the VAST protocol does not carry
    };
    let decoded = relation::decode(&body)
        .map_err(|e| fail(format!("our own query_data body does not decode: {e}")))?;
    prop_assert_eq!(decoded.filter.len(), pushed);
    prop_assert_eq!(decoded.schema.len(), fields.len());
    let pushed_predicate = emulator::filter::predicate(&decoded, &schema)
        .map_err(|e| fail(format!("the emulator refuses our own body: {e:?}")))?;
    let (Ok(kept), Some(pushed_predicate)) = (kept, pushed_predicate) else {
        return Ok(());
    };
    let pushed_kept = evaluate(&pushed_predicate, batch)
        .map_err(|e| fail(format!("the pushed filter fails to evaluate: {e}")))?;
    check_superset(&kept, &pushed_kept)
}

/// Every row `kept` keeps, `pushed` keeps too: pushdown never drops a matching row.
fn check_superset(kept: &BooleanArray, pushed: &BooleanArray) -> Result<(), TestCaseError> {
    prop_assert_eq!(kept.len(), pushed.len());
    for row in 0..kept.len() {
        if kept.is_valid(row) && kept.value(row) {
            prop_assert!(
                pushed.is_valid(row) && pushed.value(row),
                "row {row} matches the filter but not the pushed-down part"
            );
        }
    }
    Ok(())
}

fn check_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    match proto::Filter::decode(bytes) {
        Ok(filter) => check(&filter),
        Err(_) => Ok(()),
    }
}

proptest! {
    #![proptest_config(config(REGRESSIONS))]

    #[test]
    fn generated_filters(filter in strategies::filter()) {
        check(&filter)?;
    }

    #[test]
    fn decoded_noise(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check_bytes(&bytes)?;
    }

    #[test]
    fn mutated_encodings(filter in strategies::filter(), edits in strategies::mutations()) {
        let mut bytes = filter.encode_to_vec();
        strategies::mutate(&mut bytes, &edits);
        check_bytes(&bytes)?;
    }
}

#[test]
fn replay_corpus() {
    for (path, bytes) in corpus(TARGET) {
        if let Err(e) = check_bytes(&bytes) {
            panic!("{}: {e}", path.display());
        }
    }
}

fn node(kind: Kind) -> proto::Filter {
    proto::Filter { kind: Some(kind) }
}

fn compare(column: &str, op: proto::CompareOp, value: Lit) -> proto::Filter {
    node(Kind::Compare(proto::Comparison {
        column: column.to_owned(),
        op: op as i32,
        value: Some(proto::Literal { value: Some(value) }),
    }))
}

fn list(filters: Vec<proto::Filter>, and: bool) -> proto::Filter {
    let list = proto::FilterList { filters };
    node(if and { Kind::And(list) } else { Kind::Or(list) })
}

#[test]
#[ignore = "writes fuzz/corpus/filter/; run by hand when the seeds should change"]
fn write_seed_corpus() {
    use proto::CompareOp as Op;
    let text = |s: &str| Lit::StringValue(s.to_owned());
    let ts = |seconds| Lit::TimestampValue(prost_types::Timestamp { seconds, nanos: 0 });
    let region_in = node(Kind::In(proto::InList {
        column: "region".to_owned(),
        values: vec![
            proto::Literal {
                value: Some(text("north")),
            },
            proto::Literal {
                value: Some(text("south")),
            },
        ],
    }));
    let between = node(Kind::Between(proto::Between {
        column: "ts".to_owned(),
        low: Some(proto::Literal {
            value: Some(ts(1_767_225_600)),
        }),
        high: Some(proto::Literal {
            value: Some(ts(1_767_312_000)),
        }),
    }));
    let prefix = node(Kind::StartsWith(proto::StringMatch {
        column: "region".to_owned(),
        pattern: "no".to_owned(),
    }));
    let humidity_known = node(Kind::Not(Box::new(node(Kind::IsNull(proto::ColumnRef {
        column: "humidity".to_owned(),
    })))));
    let seeds = [
        (
            "compare_int.pb",
            compare("sensor_id", Op::Eq, Lit::IntValue(3)),
        ),
        ("between_and_in.pb", list(vec![between, region_in], true)),
        (
            "or_one_column.pb",
            list(vec![prefix, compare("region", Op::Eq, text("east"))], false),
        ),
        ("not_is_null.pb", humidity_known),
        (
            "nan_literal.pb",
            compare("temperature", Op::Gt, Lit::FloatValue(f64::NAN)),
        ),
        (
            "mixed.pb",
            list(
                vec![
                    compare("temperature", Op::Lt, Lit::FloatValue(1e308)),
                    compare("humidity", Op::Ge, Lit::UintValue(u64::MAX)),
                    compare("status", Op::Eq, Lit::DecimalValue("1.5".to_owned())),
                ],
                true,
            ),
        ),
    ];
    for (name, filter) in seeds {
        write_seed(TARGET, name, &filter.encode_to_vec());
    }
}
