//! What the targets share: the tables filters are checked against, hostile names and literals,
//! proto filter trees, and byte mutations of valid encodings.

use std::sync::Arc;

use arrow::{
    array::{
        ArrayRef, Float64Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
        new_null_array,
    },
    compute::cast,
    datatypes::{DataType, Field, Schema, TimeUnit},
    record_batch::RecordBatch,
};
use proptest::{prelude::*, sample::Index};

use crate::{
    gen_data,
    proto::{self, filter::Kind, literal::Value as Lit},
};

/// Five rows of `demo.sensors` with NULLs, NaN, −0, infinities and extreme values.
pub(super) fn sensors_batch() -> RecordBatch {
    let start = gen_data::START_MICROS;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampMicrosecondArray::from(vec![start, start + 60_000_000, 0, -1, i64::MAX])
                .with_timezone("UTC"),
        ),
        Arc::new(Int32Array::from(vec![0, 1, -5, i32::MAX, i32::MIN])),
        Arc::new(StringArray::from(vec![
            "north", "south", "", "nörth", "west",
        ])),
        Arc::new(Float64Array::from(vec![
            Some(20.5),
            None,
            Some(f64::NAN),
            Some(-0.0),
            Some(f64::INFINITY),
        ])),
        Arc::new(Float64Array::from(vec![
            Some(50.0),
            None,
            Some(0.0),
            None,
            Some(-1e300),
        ])),
        Arc::new(Float64Array::from(vec![
            None,
            Some(1013.25),
            Some(f64::MIN),
            None,
            Some(0.0),
        ])),
        Arc::new(StringArray::from(vec!["ok", "spike", "", "OK", "ok\0"])),
    ];
    RecordBatch::try_new(gen_data::sensors_schema(), columns).unwrap()
}

/// A batch of `fields` (all nullable): 0, 1, −1, NULL, `i64::MAX` cast to each type, or all
/// NULL where the cast does not exist.
fn batch_of(fields: Vec<Field>) -> RecordBatch {
    let seeds: ArrayRef = Arc::new(Int64Array::from(vec![
        Some(0),
        Some(1),
        Some(-1),
        None,
        Some(i64::MAX),
    ]));
    let columns = fields
        .iter()
        .map(|f| cast(&seeds, f.data_type()).unwrap_or_else(|_| new_null_array(f.data_type(), 5)))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// Every type the VAST protocol carries that the demo table does not.
fn wide_batch() -> RecordBatch {
    let f = |name: &str, data_type: DataType| Field::new(name, data_type, true);
    batch_of(vec![
        f("flag", DataType::Boolean),
        f("count", DataType::Int64),
        f("big", DataType::UInt64),
        f("small", DataType::Int8),
        f("ratio", DataType::Float32),
        f("price", DataType::Decimal128(10, 2)),
        f("day", DataType::Date32),
        f("blob", DataType::Binary),
        f("at", DataType::Timestamp(TimeUnit::Nanosecond, None)),
        f("clock", DataType::Time64(TimeUnit::Microsecond)),
        f("region", DataType::Utf8),
    ])
}

/// Types filters accept but the VAST protocol does not carry.
fn exotic_batch() -> RecordBatch {
    let f = |name: &str, data_type: DataType| Field::new(name, data_type, true);
    batch_of(vec![
        f("label", DataType::LargeUtf8),
        f(
            "tag",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        ),
        f("view", DataType::Utf8View),
        f("wide", DataType::Decimal256(40, 5)),
        f(
            "stamp",
            DataType::Timestamp(TimeUnit::Second, Some("+02:00".into())),
        ),
        f("date64", DataType::Date64),
        f("fixed", DataType::FixedSizeBinary(4)),
        f("half", DataType::Float16),
        f("large_blob", DataType::LargeBinary),
    ])
}

/// The tables a filter is checked against, each as a small batch (its schema is the table's).
pub(super) fn tables() -> Vec<RecordBatch> {
    vec![sensors_batch(), wide_batch(), exotic_batch()]
}

const UNKNOWN_COLUMNS: [&str; 8] = [
    "",
    "TS",
    "ts ",
    " region",
    "nope",
    "__vastgate_input_0_0",
    "temperature\0",
    "régión",
];

/// A column name: mostly one of the tables', sometimes an unknown or arbitrary one.
pub(super) fn column() -> impl Strategy<Value = String> {
    let known: Vec<String> = tables()
        .iter()
        .flat_map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect::<Vec<_>>()
        })
        .collect();
    prop_oneof![
        6 => prop::sample::select(known),
        2 => prop::sample::select(UNKNOWN_COLUMNS.to_vec()).prop_map(String::from),
        1 => any::<String>(),
    ]
}

/// Text: empty, near the demo values, code-point edges, arbitrary, or 64 KiB.
pub(super) fn text() -> impl Strategy<Value = String> {
    let edges = vec![
        "north",
        "no",
        "ok",
        "spi",
        "nörth",
        "%",
        "_",
        "'",
        "\0",
        "\u{7f}",
        "\u{D7FF}",
        "\u{E000}",
        "\u{FFFF}",
        "\u{10FFFF}",
        "a\u{10FFFF}",
    ];
    prop_oneof![
        1 => Just(String::new()),
        3 => prop::sample::select(edges).prop_map(String::from),
        3 => any::<String>(),
        1 => prop::collection::vec(any::<char>(), 0..8)
            .prop_map(|c| c.into_iter().collect::<String>()),
        1 => Just("x".repeat(1 << 16)),
    ]
}

/// An `i64` biased to the edges.
pub(super) fn int64() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        -1_000i64..1_000,
        Just(gen_data::START_MICROS),
        Just(i64::from(i32::MAX) + 1),
    ]
}

/// An `f64` biased to NaN, infinities, −0 and the extremes.
pub(super) fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(-f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0f64),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        -100.0f64..100.0,
    ]
}

/// A literal of every kind, or none (`Literal { value: None }`).
fn literal() -> impl Strategy<Value = proto::Literal> {
    let decimals = vec![
        "12.50",
        "-0.01",
        "1e5",
        "",
        "abc",
        "NaN",
        " 1 ",
        "1.2.3",
        "-",
        "99999999999999999999999999999999999999999",
    ];
    let nanos = prop_oneof![
        any::<i32>(),
        (0i32..1_000_000).prop_map(|u| u * 1_000),
        Just(0i32)
    ];
    let value = prop_oneof![
        any::<bool>().prop_map(Lit::BoolValue),
        int64().prop_map(Lit::IntValue),
        prop_oneof![any::<u64>(), Just(u64::MAX), 0u64..100].prop_map(Lit::UintValue),
        float().prop_map(Lit::FloatValue),
        text().prop_map(Lit::StringValue),
        prop::collection::vec(any::<u8>(), 0..16).prop_map(Lit::BinaryValue),
        (int64(), nanos).prop_map(|(seconds, nanos)| {
            Lit::TimestampValue(prost_types::Timestamp { seconds, nanos })
        }),
        prop_oneof![any::<i32>(), -1_000i32..30_000].prop_map(Lit::DateValue),
        prop_oneof![
            prop::sample::select(decimals).prop_map(String::from),
            any::<String>(),
        ]
        .prop_map(Lit::DecimalValue),
    ];
    prop_oneof![
        1 => Just(proto::Literal { value: None }),
        12 => value.prop_map(|v| proto::Literal { value: Some(v) }),
    ]
}

fn node(kind: Kind) -> proto::Filter {
    proto::Filter { kind: Some(kind) }
}

/// A leaf of a filter tree: every node kind but and/or/not, plus the empty node.
fn leaf() -> impl Strategy<Value = proto::Filter> {
    // Valid ops 1..=6, the unspecified 0, and anything else.
    let op = prop_oneof![4 => 0i32..7, 1 => any::<i32>()];
    let matcher =
        || (column(), text()).prop_map(|(column, pattern)| proto::StringMatch { column, pattern });
    prop_oneof![
        1 => Just(proto::Filter { kind: None }),
        4 => (column(), op, prop::option::of(literal())).prop_map(|(column, op, value)| {
            node(Kind::Compare(proto::Comparison { column, op, value }))
        }),
        2 => (column(), prop::collection::vec(literal(), 0..4))
            .prop_map(|(column, values)| node(Kind::In(proto::InList { column, values }))),
        2 => (column(), prop::option::of(literal()), prop::option::of(literal())).prop_map(
            |(column, low, high)| node(Kind::Between(proto::Between { column, low, high }))
        ),
        1 => column().prop_map(|column| node(Kind::IsNull(proto::ColumnRef { column }))),
        1 => column().prop_map(|column| node(Kind::IsNotNull(proto::ColumnRef { column }))),
        1 => matcher().prop_map(|m| node(Kind::StartsWith(m))),
        1 => matcher().prop_map(|m| node(Kind::Contains(m))),
    ]
}

/// A proto filter tree of depth at most 4.
pub(super) fn filter() -> impl Strategy<Value = proto::Filter> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        let list = || prop::collection::vec(inner.clone(), 0..4);
        prop_oneof![
            list().prop_map(|filters| node(Kind::And(proto::FilterList { filters }))),
            list().prop_map(|filters| node(Kind::Or(proto::FilterList { filters }))),
            inner.prop_map(|f| node(Kind::Not(Box::new(f)))),
        ]
    })
}

/// One edit of a byte string; positions are fractions of its length at the time.
#[derive(Debug, Clone)]
pub(super) enum Mutation {
    FlipBit(Index, u8),
    Truncate(Index),
    Remove(Index, usize),
    Duplicate(Index, usize, Index),
    Insert(Index, Vec<u8>),
    /// Overwrites four bytes with a little-endian `u32` (lengths, stream ids, markers).
    PutU32(Index, u32),
}

fn interesting_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        Just(0u32),
        Just(u32::MAX),
        Just(0xFFFF_FFFEu32),
        Just(0xFFFF_FFFDu32),
        Just(0x7FFF_FFFFu32),
        0u32..300,
    ]
}

/// One to four edits.
pub(super) fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1usize..64).prop_map(|(at, n)| Mutation::Remove(at, n)),
        1 => (any::<Index>(), 1usize..64, any::<Index>())
            .prop_map(|(from, n, to)| Mutation::Duplicate(from, n, to)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        2 => (any::<Index>(), interesting_u32()).prop_map(|(at, v)| Mutation::PutU32(at, v)),
    ];
    prop::collection::vec(one, 1..5)
}

/// Applies `edits` to `data` in order.
pub(super) fn mutate(data: &mut Vec<u8>, edits: &[Mutation]) {
    for edit in edits {
        let len = data.len();
        match edit {
            Mutation::Insert(at, bytes) => {
                let tail = data.split_off(at.index(len + 1));
                data.extend_from_slice(bytes);
                data.extend_from_slice(&tail);
            }
            _ if len == 0 => {}
            Mutation::FlipBit(at, bit) => data[at.index(len)] ^= 1u8 << (*bit % 8),
            Mutation::Truncate(at) => data.truncate(at.index(len)),
            Mutation::Remove(at, n) => {
                let start = at.index(len);
                let tail = data.split_off((start + *n).min(len));
                data.truncate(start);
                data.extend_from_slice(&tail);
            }
            Mutation::Duplicate(from, n, to) => {
                let start = from.index(len);
                let copy = data[start..(start + *n).min(len)].to_vec();
                let tail = data.split_off(to.index(len + 1));
                data.extend_from_slice(&copy);
                data.extend_from_slice(&tail);
            }
            Mutation::PutU32(at, value) => {
                let start = at.index(len);
                for (i, b) in value.to_le_bytes().into_iter().enumerate() {
                    if let Some(slot) = data.get_mut(start + i) {
                        *slot = b;
                    }
                }
            }
        }
    }
}
