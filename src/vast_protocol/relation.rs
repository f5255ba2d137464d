//! The `query_data` request body as data: the compute-IR `Relation{Source}` the SDK sends
//! (`docs/vast-protocol-notes.md` §4), decoded into plain Rust values. The emulator decodes
//! bodies with it; the golden test compares what the Rust client and the SDK send.

pub(crate) mod decode;

pub use decode::decode;

/// A node of the queried schema: name, type and children (struct fields, list item).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Field name (`item` for list children).
    pub name: String,
    /// Nullable flag.
    pub nullable: bool,
    /// The type, without children (see `children`).
    pub kind: NodeType,
    /// Child nodes.
    pub children: Vec<Node>,
}

/// The type of a schema node, as the compute-IR spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeType {
    /// Signed or unsigned integer of 8, 16, 32 or 64 bits.
    Int {
        /// Bits.
        bits: i32,
        /// Signed.
        signed: bool,
    },
    /// Floating point: 0 half, 1 single, 2 double.
    Float(u8),
    /// UTF-8 text.
    Utf8,
    /// Bytes.
    Binary,
    /// Boolean.
    Bool,
    /// Decimal.
    Decimal {
        /// Digits.
        precision: i32,
        /// Digits after the point.
        scale: i32,
        /// 128 or 256.
        bits: i32,
    },
    /// Date in days (0) or milliseconds (1).
    Date(u8),
    /// Timestamp in 0 s, 1 ms, 2 µs, 3 ns (no time zone on the wire).
    Timestamp(u8),
    /// Time of day with bit width and unit.
    Time {
        /// 32 or 64.
        bits: i32,
        /// 0 s, 1 ms, 2 µs, 3 ns.
        unit: u8,
    },
    /// Struct.
    Struct,
    /// List.
    List,
    /// Fixed-size list.
    FixedSizeList(i32),
    /// Map.
    Map,
    /// Fixed-size binary.
    FixedSizeBinary(i32),
    /// Anything else, by flatbuffers union name.
    Other(&'static str),
}

/// A literal of a filter term (typed by the column on the wire).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `BooleanLiteral`.
    Bool(bool),
    /// Any signed integer literal.
    Int(i64),
    /// Any unsigned integer literal.
    UInt(u64),
    /// `Float16Literal` bits.
    Float16(u16),
    /// `Float32Literal`.
    Float32(f32),
    /// `Float64Literal`.
    Float64(f64),
    /// `StringLiteral`.
    Utf8(String),
    /// `BinaryLiteral`.
    Binary(Vec<u8>),
    /// `DecimalLiteral`, little-endian two's complement.
    Decimal(i128),
    /// `DateLiteral` (days).
    Date(i64),
    /// `TimeLiteral` in the column's unit.
    Time(i64),
    /// `TimestampLiteral` in the column's unit.
    Timestamp(i64),
}

/// A comparison function of the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `equal`
    Equal,
    /// `not_equal`
    NotEqual,
    /// `less`
    Less,
    /// `less_equal`
    LessEqual,
    /// `greater`
    Greater,
    /// `greater_equal`
    GreaterEqual,
}

impl Comparison {
    /// The compute-IR function name.
    pub fn name(self) -> &'static str {
        match self {
            Comparison::Equal => "equal",
            Comparison::NotEqual => "not_equal",
            Comparison::Less => "less",
            Comparison::LessEqual => "less_equal",
            Comparison::Greater => "greater",
            Comparison::GreaterEqual => "greater_equal",
        }
    }

    /// The function of a compute-IR name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "equal" => Comparison::Equal,
            "not_equal" => Comparison::NotEqual,
            "less" => Comparison::Less,
            "less_equal" => Comparison::LessEqual,
            "greater" => Comparison::Greater,
            "greater_equal" => Comparison::GreaterEqual,
            _ => return None,
        })
    }
}

/// One disjunct of an `or` group.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// `fn(column, literal)`.
    Compare {
        /// Schema position of the column.
        position: u32,
        /// The function.
        op: Comparison,
        /// The literal.
        value: Literal,
    },
    /// `is_null(column)`.
    IsNull(u32),
    /// `is_valid(column)`.
    IsValid(u32),
    /// `match_substring(column, text)`.
    Substring {
        /// Schema position of the column.
        position: u32,
        /// The substring.
        pattern: String,
    },
    /// `and(...)` inside an `or` (between, startswith ranges).
    And(Vec<Term>),
}

/// A decoded `query_data` body.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    /// The queried schema: requested columns, then predicate-only columns.
    pub schema: Vec<Node>,
    /// Projected leaf positions (depth-first pre-order over `schema`).
    pub projection: Vec<u32>,
    /// The filter: AND of OR groups.
    pub filter: Vec<Vec<Term>>,
}

impl Relation {
    /// The top-level field of every schema position, with whether the position is that
    /// field itself (not a nested child).
    pub fn positions(&self) -> Vec<(usize, bool)> {
        fn walk(node: &Node, top: usize, is_top: bool, out: &mut Vec<(usize, bool)>) {
            out.push((top, is_top));
            for child in &node.children {
                walk(child, top, false, out);
            }
        }
        let mut out = Vec::new();
        for (i, node) in self.schema.iter().enumerate() {
            walk(node, i, true, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests;
