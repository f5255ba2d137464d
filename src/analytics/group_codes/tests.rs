use std::sync::Arc;

use arrow::{
    array::{
        ArrayRef, AsArray, Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
    },
    datatypes::{DataType, UInt32Type},
};

use super::{CodeWidth, CodingError, GroupCodes, TooManyGroupValues};
use crate::analytics::{AnalyticsError, testing::batch};

/// The codes of `column`, 8 or 32 bits wide.
fn codes_of(batch: &RecordBatch, column: &str) -> Vec<Option<u32>> {
    let codes = batch.column_by_name(column).expect("column");
    arrow::compute::cast(codes, &DataType::UInt32)
        .expect("integer codes")
        .as_primitive::<UInt32Type>()
        .iter()
        .collect()
}

fn u32_codes(_: &str) -> CodeWidth {
    CodeWidth::U32
}

fn u8_codes(_: &str) -> CodeWidth {
    CodeWidth::U8
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    batch
        .column_by_name(column)
        .expect("column")
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_owned())).collect()
}

#[test]
fn codes_are_numbered_in_order_of_arrival_across_batches_and_keep_nulls() {
    let first = batch(vec![
        ("n", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
        (
            "g",
            Arc::new(StringArray::from(vec![
                Some("b"),
                None,
                Some("a"),
                Some("b"),
            ])),
        ),
    ]);
    let second = batch(vec![
        ("n", Arc::new(Int64Array::from(vec![5, 6]))),
        ("g", Arc::new(StringArray::from(vec![Some("c"), Some("a")]))),
    ]);
    let codes = GroupCodes::new(&first.schema(), &["g".to_owned()], u32_codes)
        .expect("codable")
        .expect("a group");
    assert_eq!(codes.schema().field(1).data_type(), &DataType::UInt32);
    assert_eq!(codes.schema().field(0).data_type(), &DataType::Int64);
    let a = codes.encode(first.clone()).expect("encode");
    let b = codes.encode(second).expect("encode");
    assert_eq!(codes_of(&a, "g"), vec![Some(0), None, Some(1), Some(0)]);
    assert_eq!(codes_of(&b, "g"), vec![Some(2), Some(1)]);
    assert_eq!(
        a.column(0).as_ref(),
        first.column(0).as_ref(),
        "other columns untouched"
    );
}

#[test]
fn every_string_type_is_coded_alike() {
    let values = [Some("x"), Some("y"), None, Some("x")];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(values.to_vec())),
        Arc::new(LargeStringArray::from(values.to_vec())),
        Arc::new(StringViewArray::from(values.to_vec())),
    ];
    for array in arrays {
        let input = batch(vec![("g", array)]);
        let codes = GroupCodes::new(&input.schema(), &["g".to_owned()], u32_codes)
            .expect("codable")
            .expect("a group");
        let coded = codes.encode(input).expect("encode");
        assert_eq!(codes_of(&coded, "g"), vec![Some(0), Some(1), None, Some(0)]);
    }
}

#[test]
fn only_string_group_columns_are_codable() {
    let input = batch(vec![("n", Arc::new(Int64Array::from(vec![1])))]);
    assert!(
        GroupCodes::new(&input.schema(), &[], u32_codes)
            .expect("nothing to code")
            .is_none()
    );
    assert!(matches!(
        GroupCodes::new(&input.schema(), &["n".to_owned()], u32_codes),
        Err(AnalyticsError::Internal(_))
    ));
    assert!(matches!(
        GroupCodes::new(&input.schema(), &["missing".to_owned()], u32_codes),
        Err(AnalyticsError::Internal(_))
    ));
}

/// A query's result over coded input: `__g0` is the code as text, rows in code order.
fn result(groups: &[Option<&str>], x: &[i64]) -> RecordBatch {
    batch(vec![
        ("__g0", Arc::new(StringArray::from(groups.to_vec()))),
        ("x", Arc::new(Int64Array::from(x.to_vec()))),
    ])
}

#[test]
fn decode_gives_the_strings_in_string_order_keeping_the_order_inside_each_group() {
    let input = batch(vec![(
        "g",
        Arc::new(StringArray::from(vec![
            Some("zeta"),
            Some("alpha"),
            None,
            Some("mid"),
        ])),
    )]);
    let codes = GroupCodes::new(&input.schema(), &["g".to_owned()], u32_codes)
        .expect("codable")
        .expect("a group");
    codes.encode(input).expect("encode"); // zeta 0, alpha 1, mid 2
    // NULL first, then codes 0, 1, 2; split over two batches inside a group.
    let batches = vec![
        result(&[None, Some("0"), Some("0")], &[10, 20, 21]),
        result(
            &[Some("0"), Some("1"), Some("2"), Some("2")],
            &[22, 30, 40, 41],
        ),
    ];
    let decoded = codes.decode(batches).expect("decode");
    assert_eq!(decoded.len(), 1);
    let out = &decoded[0];
    let mut expected = vec![None];
    expected.extend(some(&["alpha", "mid", "mid", "zeta", "zeta", "zeta"]));
    assert_eq!(strings(out, "__g0"), expected);
    let x: Vec<i64> = out
        .column(1)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .values()
        .to_vec();
    assert_eq!(x, vec![10, 30, 40, 41, 20, 21, 22]);
}

#[test]
fn decode_orders_two_group_columns_by_the_first_then_the_second() {
    let input = batch(vec![
        ("a", Arc::new(StringArray::from(vec!["q", "p"]))),
        ("b", Arc::new(StringArray::from(vec!["y", "x"]))),
    ]);
    let codes = GroupCodes::new(
        &input.schema(),
        &["a".to_owned(), "b".to_owned()],
        u32_codes,
    )
    .expect("codable")
    .expect("groups");
    codes.encode(input).expect("encode"); // a: q 0, p 1; b: y 0, x 1
    // Code order: (q,y) (q,x) (p,y) (p,x).
    let result = batch(vec![
        (
            "__g0",
            Arc::new(StringArray::from(vec!["0", "0", "1", "1"])),
        ),
        (
            "__g1",
            Arc::new(StringArray::from(vec!["0", "1", "0", "1"])),
        ),
        ("x", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
    ]);
    let out = &codes.decode(vec![result]).expect("decode")[0];
    assert_eq!(strings(out, "__g0"), some(&["p", "p", "q", "q"]));
    assert_eq!(strings(out, "__g1"), some(&["x", "y", "x", "y"]));
    let x: Vec<i64> = out
        .column(2)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .values()
        .to_vec();
    assert_eq!(x, vec![4, 3, 2, 1]);
}

#[test]
fn decode_rejects_what_is_not_a_known_code() {
    let input = batch(vec![("g", Arc::new(StringArray::from(vec!["only"])))]);
    let codes = GroupCodes::new(&input.schema(), &["g".to_owned()], u32_codes)
        .expect("codable")
        .expect("a group");
    codes.encode(input).expect("encode");
    for bad in ["1", "x", "-1"] {
        let err = codes
            .decode(vec![result(&[Some(bad)], &[1])])
            .expect_err(bad);
        assert!(matches!(err, AnalyticsError::Internal(_)), "{err:?}");
    }
    assert!(codes.decode(Vec::new()).expect("no rows").is_empty());
    let known = codes
        .decode(vec![result(&[Some("0")], &[1])])
        .expect("a known code");
    assert_eq!(strings(&known[0], "__g0"), some(&["only"]));
}

#[test]
fn dictionary_arrays_are_coded_like_their_strings() {
    use arrow::{
        array::{DictionaryArray, Int32Array},
        datatypes::Int32Type,
    };
    let dictionary = |keys: Vec<Option<i32>>, entries: &ArrayRef| -> ArrayRef {
        Arc::new(
            DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), Arc::clone(entries))
                .expect("dictionary"),
        )
    };
    let first: ArrayRef = Arc::new(StringArray::from(vec!["k", "j", "unused"]));
    let second: ArrayRef = Arc::new(StringArray::from(vec![Some("j"), None, Some("m")]));
    let empty: ArrayRef = Arc::new(StringArray::from(Vec::<&str>::new()));
    let batches = [
        dictionary(vec![Some(1), None, Some(0)], &first),
        dictionary(vec![Some(0), Some(2), Some(1)], &second), // another chunk's dictionary
        dictionary(vec![Some(0), Some(0)], &first),           // the first one again
        dictionary(vec![None, None], &empty),                 // no entries: all NULL
        dictionary(vec![Some(1), Some(2)], &second),          // a NULL entry
    ]
    .map(|column| batch(vec![("g", column)]));
    let codes = GroupCodes::new(&batches[0].schema(), &["g".to_owned()], u32_codes)
        .expect("codable")
        .expect("a group");
    let coded: Vec<_> = batches
        .iter()
        .map(|b| codes_of(&codes.encode(b.clone()).expect("encode"), "g"))
        .collect();
    // Codes in order of first use by a row: j 0, k 1, m 2; "unused" never gets one.
    assert_eq!(coded[0], vec![Some(0), None, Some(1)]);
    assert_eq!(coded[1], vec![Some(0), Some(2), None]);
    assert_eq!(coded[2], vec![Some(1), Some(1)]);
    assert_eq!(coded[3], vec![None, None]);
    assert_eq!(coded[4], vec![None, Some(2)]);
    // The same codes as the strings themselves get.
    let plain = batch(vec![(
        "g",
        Arc::new(StringArray::from(vec!["m", "k", "j"])) as ArrayRef,
    )]);
    let coded_plain = codes.encode(plain).expect("encode");
    assert_eq!(codes_of(&coded_plain, "g"), vec![Some(2), Some(1), Some(0)]);
}

#[test]
fn narrow_codes_are_8_bit_and_the_257th_value_is_refused_naming_the_column() {
    use arrow::{
        array::{DictionaryArray, Int32Array},
        datatypes::Int32Type,
    };
    let names = |range: std::ops::Range<usize>| -> Vec<Option<String>> {
        range.map(|i| Some(format!("v{i:03}"))).collect()
    };
    let plain = |values: Vec<Option<String>>| {
        batch(vec![("g", Arc::new(StringArray::from(values)) as ArrayRef)])
    };
    let input = plain(names(0..2));
    let codes = GroupCodes::new(&input.schema(), &["g".to_owned()], u8_codes)
        .expect("codable")
        .expect("a group");
    assert_eq!(codes.schema().field(0).data_type(), &DataType::UInt8);
    assert_eq!(codes.u8_columns(), ["g"]);
    // 256 values and NULLs fit; the codes are those 32-bit codes would be.
    let mut first = names(0..200);
    first.push(None);
    let coded = codes.encode(plain(first)).expect("fits");
    assert_eq!(coded.column(0).data_type(), &DataType::UInt8);
    let want: Vec<Option<u32>> = (0..200).map(Some).chain([None]).collect();
    assert_eq!(codes_of(&coded, "g"), want);
    // A dictionary of 1000 entries of which rows use a few: only those count.
    let entries: ArrayRef = Arc::new(StringArray::from(names(0..1000)));
    let keys = Int32Array::from(vec![999, 3, 998]);
    let dictionary = DictionaryArray::<Int32Type>::try_new(keys, entries).expect("dictionary");
    let coded = codes
        .encode(batch(vec![("g", Arc::new(dictionary) as ArrayRef)]))
        .expect("fits");
    assert_eq!(codes_of(&coded, "g"), [Some(200), Some(3), Some(201)]);
    let coded = codes.encode(plain(names(202..256))).expect("fits");
    assert_eq!(codes_of(&coded, "g").last(), Some(&Some(255)));
    match codes.encode(plain(names(0..300))) {
        Err(CodingError::TooManyValues(full)) => assert_eq!(
            full,
            TooManyGroupValues {
                column: "g".to_owned(),
                values: 256
            }
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // 32-bit codes take them all.
    let codes = GroupCodes::new(&input.schema(), &["g".to_owned()], u32_codes)
        .expect("codable")
        .expect("a group");
    assert!(codes.u8_columns().is_empty());
    let coded = codes.encode(plain(names(0..300))).expect("32-bit codes");
    assert_eq!(coded.column(0).data_type(), &DataType::UInt32);
    assert_eq!(codes_of(&coded, "g")[299], Some(299));
}
