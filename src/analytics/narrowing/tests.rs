use arrow::array::{Int32Array, Int64Array, StringArray, UInt8Array};

use super::*;

fn batch(k: Vec<Option<i64>>) -> RecordBatch {
    let n = k.len();
    RecordBatch::try_from_iter_with_nullable([
        ("k", Arc::new(Int64Array::from(k)) as ArrayRef, true),
        (
            "s",
            Arc::new(StringArray::from(vec![Some("x"); n])) as ArrayRef,
            true,
        ),
    ])
    .unwrap()
}

fn ranges(lo: i64, hi: i64) -> BTreeMap<String, (i64, i64)> {
    BTreeMap::from([("k".to_owned(), (lo, hi)), ("s".to_owned(), (0, 1))])
}

fn narrowable() -> Vec<String> {
    vec!["k".to_owned(), "s".to_owned(), "missing".to_owned()]
}

#[test]
fn small_int_holds_exactly_the_8_bit_ranges() {
    assert_eq!(SmallInt::holding(0, 255), Some(SmallInt::UTinyInt));
    assert_eq!(SmallInt::holding(7, 7), Some(SmallInt::UTinyInt));
    assert_eq!(SmallInt::holding(-1, 127), Some(SmallInt::TinyInt));
    assert_eq!(SmallInt::holding(-128, 0), Some(SmallInt::TinyInt));
    assert_eq!(SmallInt::holding(-129, 0), None);
    assert_eq!(SmallInt::holding(0, 256), None);
    assert_eq!(SmallInt::holding(-1, 128), None);
    assert_eq!(SmallInt::holding(5, 4), None);
    assert_eq!(SmallInt::holding(i64::MIN, i64::MAX), None);
}

#[test]
fn only_signed_integer_columns_within_8_bits_narrow() {
    let schema = batch(vec![Some(1)]).schema();
    let narrowed = NarrowedGroups::new(&schema, &narrowable(), &ranges(0, 200)).unwrap();
    assert_eq!(
        narrowed.columns(),
        ["k"],
        "not the string, not a missing column"
    );
    assert_eq!(narrowed.schema().field(0).data_type(), &DataType::UInt8);
    assert_eq!(narrowed.schema().field(1).data_type(), &DataType::Utf8);
    assert!(NarrowedGroups::new(&schema, &narrowable(), &ranges(0, 256)).is_none());
    assert!(NarrowedGroups::new(&schema, &[], &ranges(0, 1)).is_none());
    assert!(NarrowedGroups::new(&schema, &narrowable(), &BTreeMap::new()).is_none());
    let unsigned = Schema::new(vec![Field::new("k", DataType::UInt32, true)]);
    assert!(NarrowedGroups::new(&unsigned, &narrowable(), &ranges(0, 1)).is_none());
}

#[test]
fn values_and_nulls_come_through_exactly() {
    let schema = batch(vec![Some(1)]).schema();
    let unsigned = NarrowedGroups::new(&schema, &narrowable(), &ranges(0, 255)).unwrap();
    let out = unsigned
        .narrow(batch(vec![Some(0), None, Some(255), Some(3)]))
        .unwrap();
    assert_eq!(
        out.column(0).as_primitive::<UInt8Type>(),
        &UInt8Array::from(vec![Some(0), None, Some(255), Some(3)])
    );
    assert_eq!(out.column(1).len(), 4);

    let signed = NarrowedGroups::new(&schema, &narrowable(), &ranges(-128, 127)).unwrap();
    let out = signed
        .narrow(batch(vec![Some(-128), Some(127), None]))
        .unwrap();
    let values: Vec<Option<i8>> = out.column(0).as_primitive::<Int8Type>().iter().collect();
    assert_eq!(values, [Some(-128), Some(127), None]);
    // A batch of NULLs only.
    assert_eq!(
        signed.narrow(batch(vec![None, None])).unwrap().num_rows(),
        2
    );
}

#[test]
fn a_value_outside_the_type_is_refused_not_wrapped() {
    let schema = batch(vec![Some(1)]).schema();
    let narrowed = NarrowedGroups::new(&schema, &narrowable(), &ranges(0, 20)).unwrap();
    // Outside the statistics but inside UTINYINT: still exact.
    assert!(narrowed.narrow(batch(vec![Some(21), Some(255)])).is_ok());
    for (values, bad) in [(vec![Some(1), Some(256)], 256), (vec![Some(-1), None], -1)] {
        match narrowed.narrow(batch(values)) {
            Err(NarrowingError::OutsideStatistics(err)) => {
                assert_eq!(
                    err,
                    OutsideStatistics {
                        column: "k".to_owned(),
                        value: bad
                    }
                );
            }
            other => panic!("{other:?}"),
        }
    }
    let signed = NarrowedGroups::new(&schema, &narrowable(), &ranges(-5, 5)).unwrap();
    assert!(matches!(
        signed.narrow(batch(vec![Some(128)])),
        Err(NarrowingError::OutsideStatistics(OutsideStatistics {
            value: 128,
            ..
        }))
    ));
}

#[test]
fn narrower_input_types_narrow_too() {
    let batch = RecordBatch::try_from_iter_with_nullable([(
        "k",
        Arc::new(Int32Array::from(vec![Some(7), None])) as ArrayRef,
        true,
    )])
    .unwrap();
    let narrowed = NarrowedGroups::new(&batch.schema(), &narrowable(), &ranges(0, 9)).unwrap();
    let out = narrowed.narrow(batch).unwrap();
    assert_eq!(
        out.column(0).as_primitive::<UInt8Type>(),
        &UInt8Array::from(vec![Some(7), None])
    );
}
