//! Target `emulator_request`: what the emulator parses from a request. `query_data` bodies
//! (noise; compute-IR relations built from a model of the `and(or(..))` filter, with arbitrary
//! names, positions, literal kinds and nesting; and those mutated) go through
//! `relation::decode` → `emulator::filter::predicate` against `demo.sensors` →
//! `predicate::evaluate`. `Authorization` headers go through `sigv4::parse_authorization`, and
//! paths and queries through `canonical_uri` / `canonical_query`.
//!
//! Not covered: the emulator's header parsing (`query::parse_split`, `start_row_id`) takes its
//! private `Call`, which this module cannot build.

use proptest::prelude::*;

use super::{config, corpus, strategies, write_seed};
use crate::{
    emulator,
    predicate::evaluate,
    vast_protocol::{
        relation,
        sigv4::{
            Credentials, ParsedAuthorization, RequestParts, authorization, canonical_query,
            canonical_uri, parse_authorization, signature,
        },
        wire::{arrow_fb as fb, ir},
    },
};

const TARGET: &str = "emulator_request";
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fuzz/regressions/emulator_request.txt"
);
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const FUNCTIONS: [&str; 13] = [
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "is_null",
    "is_valid",
    "match_substring",
    "and",
    "or",
    "",
    "bogus",
];

/// A compute-IR expression, encoded by [`expression`].
#[derive(Debug, Clone)]
enum Expr {
    Call(String, Vec<Expr>),
    Column(u32),
    Literal(Lit),
    /// An expression without a value.
    Empty,
}

/// A compute-IR literal (`Missing`: a literal without a value).
#[derive(Debug, Clone)]
enum Lit {
    Bool(bool),
    Int8(i8),
    Int32(i32),
    Int64(i64),
    UInt64(u64),
    Float16(u16),
    Float32(f32),
    Float64(f64),
    Text(Option<String>),
    Binary(Option<Vec<u8>>),
    Decimal(Option<Vec<u8>>),
    Date(i64),
    Time(i64),
    Timestamp(i64),
    Missing,
}

/// A schema field: `kind` picks the type in [`fb_type`].
#[derive(Debug, Clone)]
struct WireField {
    name: Option<String>,
    kind: u8,
    children: Vec<WireField>,
}

/// A `query_data` body.
#[derive(Debug, Clone)]
struct Model {
    is_source: bool,
    schema: Option<Vec<WireField>>,
    projection: Option<Vec<u32>>,
    filter: Option<Expr>,
}

fn fb_type(kind: u8) -> Option<fb::Type> {
    let int = |bit_width, is_signed| {
        fb::Type::Int(Box::new(fb::Int {
            bit_width,
            is_signed,
        }))
    };
    let float = |precision| fb::Type::FloatingPoint(Box::new(fb::FloatingPoint { precision }));
    Some(match kind % 14 {
        0 => int(32, true),
        1 => int(64, true),
        2 => int(8, false),
        3 => float(fb::Precision::Double),
        4 => float(fb::Precision::Single),
        5 => fb::Type::Utf8(Box::new(fb::Utf8 {})),
        6 => fb::Type::Binary(Box::new(fb::Binary {})),
        7 => fb::Type::Bool(Box::new(fb::Bool {})),
        8 => fb::Type::Decimal(Box::new(fb::Decimal {
            precision: 10,
            scale: 2,
            bit_width: 128,
        })),
        9 => fb::Type::Date(Box::new(fb::Date {
            unit: fb::DateUnit::Day,
        })),
        10 => fb::Type::Timestamp(Box::new(fb::Timestamp {
            unit: fb::TimeUnit::Microsecond,
            timezone: None,
        })),
        11 => fb::Type::Struct(Box::new(fb::Struct {})),
        12 => fb::Type::LargeUtf8(Box::new(fb::LargeUtf8 {})),
        _ => return None,
    })
}

fn field(f: &WireField) -> fb::Field {
    fb::Field {
        name: f.name.clone(),
        nullable: true,
        type_: fb_type(f.kind),
        children: Some(f.children.iter().map(field).collect()),
        ..Default::default()
    }
}

fn literal(l: &Lit) -> Option<ir::LiteralImpl> {
    use ir::LiteralImpl as L;
    let signed = |b: &Option<Vec<u8>>| -> Option<Vec<i8>> {
        b.as_ref()
            .map(|b| b.iter().map(|x| x.cast_signed()).collect())
    };
    Some(match l {
        Lit::Bool(value) => L::BooleanLiteral(Box::new(ir::BooleanLiteral { value: *value })),
        Lit::Int8(value) => L::Int8Literal(Box::new(ir::Int8Literal { value: *value })),
        Lit::Int32(value) => L::Int32Literal(Box::new(ir::Int32Literal { value: *value })),
        Lit::Int64(value) => L::Int64Literal(Box::new(ir::Int64Literal { value: *value })),
        Lit::UInt64(value) => L::UInt64Literal(Box::new(ir::UInt64Literal { value: *value })),
        Lit::Float16(value) => L::Float16Literal(Box::new(ir::Float16Literal { value: *value })),
        Lit::Float32(value) => L::Float32Literal(Box::new(ir::Float32Literal { value: *value })),
        Lit::Float64(value) => L::Float64Literal(Box::new(ir::Float64Literal { value: *value })),
        Lit::Text(value) => L::StringLiteral(Box::new(ir::StringLiteral {
            value: value.clone(),
        })),
        Lit::Binary(value) => L::BinaryLiteral(Box::new(ir::BinaryLiteral {
            value: signed(value),
        })),
        Lit::Decimal(value) => L::DecimalLiteral(Box::new(ir::DecimalLiteral {
            value: signed(value),
        })),
        Lit::Date(value) => L::DateLiteral(Box::new(ir::DateLiteral { value: *value })),
        Lit::Time(value) => L::TimeLiteral(Box::new(ir::TimeLiteral { value: *value })),
        Lit::Timestamp(value) => {
            L::TimestampLiteral(Box::new(ir::TimestampLiteral { value: *value }))
        }
        Lit::Missing => return None,
    })
}

fn expression(e: &Expr) -> ir::Expression {
    let impl_ = match e {
        Expr::Empty => None,
        Expr::Column(position) => Some(ir::ExpressionImpl::FieldRef(Box::new(ir::FieldRef {
            ref_: Some(ir::Deref::FieldIndex(Box::new(ir::FieldIndex {
                position: *position,
            }))),
            relation_index: 0,
        }))),
        Expr::Literal(l) => Some(ir::ExpressionImpl::Literal(Box::new(ir::Literal {
            impl_: literal(l),
            type_: None,
        }))),
        Expr::Call(name, args) => Some(ir::ExpressionImpl::Call(Box::new(ir::Call {
            name: Some(name.clone()),
            arguments: Some(args.iter().map(expression).collect()),
            orderings: None,
        }))),
    };
    ir::Expression { impl_ }
}

fn encode(m: &Model) -> Vec<u8> {
    let source = ir::Source {
        id: None,
        name: Some(String::new()),
        filter: m.filter.as_ref().map(|f| Box::new(expression(f))),
        schema: m.schema.as_ref().map(|fields| {
            Box::new(fb::Schema {
                fields: Some(fields.iter().map(field).collect()),
                ..Default::default()
            })
        }),
        projection: m.projection.as_ref().map(|p| {
            p.iter()
                .map(|&position| ir::FieldIndex { position })
                .collect()
        }),
    };
    let relation = ir::Relation {
        impl_: m
            .is_source
            .then(|| ir::RelationImpl::Source(Box::new(source))),
    };
    planus::Builder::new().finish(&relation, None).to_vec()
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call(name.to_owned(), args)
}

fn position() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..10, 1 => any::<u32>()]
}

fn lit() -> impl Strategy<Value = Lit> {
    let bytes = || prop::option::of(prop::collection::vec(any::<u8>(), 0..20));
    prop_oneof![
        any::<bool>().prop_map(Lit::Bool),
        any::<i8>().prop_map(Lit::Int8),
        any::<i32>().prop_map(Lit::Int32),
        strategies::int64().prop_map(Lit::Int64),
        any::<u64>().prop_map(Lit::UInt64),
        any::<u16>().prop_map(Lit::Float16),
        any::<f32>().prop_map(Lit::Float32),
        strategies::float().prop_map(Lit::Float64),
        prop::option::of(strategies::text()).prop_map(Lit::Text),
        bytes().prop_map(Lit::Binary),
        bytes().prop_map(Lit::Decimal),
        strategies::int64().prop_map(Lit::Date),
        strategies::int64().prop_map(Lit::Time),
        strategies::int64().prop_map(Lit::Timestamp),
        Just(Lit::Missing),
    ]
}

/// Any expression tree, names from [`FUNCTIONS`].
fn any_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        position().prop_map(Expr::Column),
        lit().prop_map(Expr::Literal),
        Just(Expr::Empty),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        (
            prop::sample::select(FUNCTIONS.to_vec()),
            prop::collection::vec(inner, 0..4),
        )
            .prop_map(|(name, args)| call(name, args))
    })
}

/// One term of an `or` group, mostly well-formed, nested in `and` (as BETWEEN is).
fn term() -> impl Strategy<Value = Expr> {
    let simple = prop_oneof![
        4 => (prop::sample::select(FUNCTIONS[..6].to_vec()), position(), lit())
            .prop_map(|(name, p, l)| call(name, vec![Expr::Column(p), Expr::Literal(l)])),
        2 => (prop::sample::select(vec!["is_null", "is_valid"]), position())
            .prop_map(|(name, p)| call(name, vec![Expr::Column(p)])),
        1 => (position(), strategies::text()).prop_map(|(p, t)| {
            call("match_substring", vec![Expr::Column(p), Expr::Literal(Lit::Text(Some(t)))])
        }),
        1 => any_expr(),
    ];
    simple.prop_recursive(2, 8, 2, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(|args| call("and", args))
    })
}

fn filter() -> impl Strategy<Value = Expr> {
    let group = prop::collection::vec(term(), 0..4).prop_map(|terms| call("or", terms));
    prop_oneof![
        6 => prop::collection::vec(group, 0..4).prop_map(|groups| call("and", groups)),
        1 => any_expr(),
    ]
}

/// The columns of `demo.sensors` with their types, in order.
fn sensors_fields() -> Vec<WireField> {
    let columns = [
        ("ts", 10),
        ("sensor_id", 0),
        ("region", 5),
        ("temperature", 3),
        ("humidity", 3),
        ("pressure", 3),
        ("status", 5),
    ];
    columns
        .into_iter()
        .map(|(name, kind)| WireField {
            name: Some(name.to_owned()),
            kind,
            children: Vec::new(),
        })
        .collect()
}

fn wire_field() -> impl Strategy<Value = WireField> {
    let leaf =
        (prop::option::of(strategies::column()), 0u8..14).prop_map(|(name, kind)| WireField {
            name,
            kind,
            children: Vec::new(),
        });
    leaf.prop_recursive(2, 6, 2, |inner| {
        (
            prop::option::of(strategies::column()),
            prop::collection::vec(inner, 0..3),
        )
            .prop_map(|(name, children)| WireField {
                name,
                kind: 11,
                children,
            })
    })
}

fn model() -> impl Strategy<Value = Model> {
    let schema = prop_oneof![
        3 => Just(Some(sensors_fields())),
        2 => prop::option::of(prop::collection::vec(wire_field(), 0..8)),
    ];
    let projection = prop::option::of(prop::collection::vec(position(), 0..8));
    (
        prop::bool::weighted(0.95),
        schema,
        projection,
        prop::option::of(filter()),
    )
        .prop_map(|(is_source, schema, projection, filter)| Model {
            is_source,
            schema,
            projection,
            filter,
        })
}

/// A body through the emulator's decoding and filter, evaluated on five sensor rows.
fn check_body(body: &[u8]) -> Result<(), TestCaseError> {
    let Ok(decoded) = relation::decode(body) else {
        return Ok(());
    };
    prop_assert!(decoded.positions().len() >= decoded.schema.len());
    let table = strategies::sensors_batch();
    let schema = table.schema();
    if let Ok(Some(predicate)) = emulator::filter::predicate(&decoded, &schema) {
        for column in predicate.columns() {
            prop_assert!(
                schema.field_with_name(column).is_ok(),
                "unknown column `{column}`"
            );
        }
        // May fail (an empty `or()`), must not panic.
        if let Ok(mask) = evaluate(&predicate, &table) {
            prop_assert_eq!(mask.len(), table.num_rows());
        }
    }
    Ok(())
}

fn check_authorization(value: &str) -> Result<(), TestCaseError> {
    if let Some(parsed) = parse_authorization(value) {
        prop_assert!(value.starts_with(ALGORITHM));
        prop_assert!(!parsed.signed_headers.is_empty());
        prop_assert!(!parsed.access_key.contains(['/', ',']));
        prop_assert!(!parsed.region.contains(['/', ',']));
        prop_assert!(!parsed.signature.contains(','));
    }
    Ok(())
}

fn auth_soup() -> impl Strategy<Value = String> {
    let heads = vec![ALGORITHM, "AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA25", ""];
    let parts = vec![
        "Credential=AK/20260101/us-east-1/s3/aws4_request",
        "Credential=",
        "Credential=a",
        "Credential=a/b",
        "Credential=a/b/c",
        "SignedHeaders=host;x-amz-date",
        "SignedHeaders=",
        "Signature=",
        "Signature=0f",
        ",",
        ", ",
        " ",
        "/",
        "=",
        ";",
        "é",
        "\0",
    ];
    (
        prop::sample::select(heads),
        prop::collection::vec(prop::sample::select(parts), 0..10),
    )
        .prop_map(|(head, parts)| format!("{head}{}", parts.concat()))
}

proptest! {
    #![proptest_config(config(REGRESSIONS))]

    #[test]
    fn body_noise(body in prop::collection::vec(any::<u8>(), 0..512)) {
        check_body(&body)?;
    }

    #[test]
    fn modelled_bodies(m in model()) {
        check_body(&encode(&m))?;
    }

    #[test]
    fn mutated_bodies(m in model(), edits in strategies::mutations()) {
        let mut body = encode(&m);
        strategies::mutate(&mut body, &edits);
        check_body(&body)?;
    }

    #[test]
    fn authorization_headers(text in any::<String>(), soup in auth_soup()) {
        check_authorization(&text)?;
        check_authorization(&soup)?;
    }

    #[test]
    fn authorization_round_trip(
        access_key in "[A-Za-z0-9_.-]{0,24}",
        secret_key in any::<String>(),
        region in "[a-z0-9-]{0,12}",
        path in any::<String>(),
        query in any::<String>(),
        amz_date in "[0-9]{8}T[0-9]{6}Z",
    ) {
        let req = RequestParts {
            method: "GET",
            host: "127.0.0.1:9090",
            path: &path,
            query: &query,
            payload_sha256: "UNSIGNED-PAYLOAD",
            amz_date: &amz_date,
            region: &region,
        };
        let creds = Credentials { access_key: access_key.clone(), secret_key: secret_key.clone() };
        let header = authorization(&creds, &req);
        let expected = ParsedAuthorization {
            access_key,
            region: region.clone(),
            signed_headers: vec!["host".to_owned(), "x-amz-date".to_owned()],
            signature: signature(&secret_key, &req),
        };
        prop_assert_eq!(parse_authorization(&header), Some(expected));
    }

    #[test]
    fn canonical_forms(text in any::<String>(), soup in "[a-z=&%/ ]{0,24}") {
        for input in [text.as_str(), soup.as_str()] {
            // The input is a raw query string as it arrives; only "no panic" is asked of it.
            let _ = canonical_query(input);
            let uri = canonical_uri(input);
            prop_assert!(uri.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~/%".contains(&b)));
        }
    }
}

#[test]
fn replay_corpus() {
    for (path, bytes) in corpus(TARGET) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = check_body(&bytes).and_then(|()| check_authorization(&text)) {
            panic!("{}: {e}", path.display());
        }
    }
}

#[test]
#[ignore = "writes fuzz/corpus/emulator_request/; run by hand when the seeds should change"]
fn write_seed_corpus() {
    let or = |terms| call("and", vec![call("or", terms)]);
    let cmp = |name, p, l| call(name, vec![Expr::Column(p), Expr::Literal(l)]);
    let between = call(
        "and",
        vec![
            cmp("greater_equal", 0, Lit::Timestamp(1_767_225_600_000_000)),
            cmp("less_equal", 0, Lit::Timestamp(1_767_312_000_000_000)),
        ],
    );
    let nested = WireField {
        name: Some("point".to_owned()),
        kind: 11,
        children: sensors_fields(),
    };
    let with = |schema, filter| Model {
        is_source: true,
        schema: Some(schema),
        projection: Some(vec![0, 1, 2]),
        filter: Some(filter),
    };
    let seeds = [
        (
            "compare_sensor_id.fb",
            with(sensors_fields(), or(vec![cmp("equal", 1, Lit::Int32(3))])),
        ),
        ("between_ts.fb", with(sensors_fields(), or(vec![between]))),
        (
            "is_null_or_substring.fb",
            with(
                sensors_fields(),
                or(vec![
                    call("is_null", vec![Expr::Column(4)]),
                    cmp("match_substring", 2, Lit::Text(Some("no".to_owned()))),
                ]),
            ),
        ),
        (
            "nested_position.fb",
            with(vec![nested], or(vec![cmp("less", 3, Lit::Float64(1.5))])),
        ),
        (
            "empty_filter.fb",
            with(sensors_fields(), call("and", Vec::new())),
        ),
        (
            "wide_decimal.fb",
            with(
                sensors_fields(),
                or(vec![cmp("equal", 3, Lit::Decimal(Some(vec![0xFF; 17])))]),
            ),
        ),
    ];
    for (name, m) in seeds {
        write_seed(TARGET, name, &encode(&m));
    }
}
