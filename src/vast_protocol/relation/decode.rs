//! Flatbuffer bytes → [`Relation`].

use planus::ReadAsRoot;

use super::{Comparison, Literal, Node, NodeType, Relation, Term};
use crate::vast_protocol::wire::{arrow_fb as fb, ir};

/// What is wrong with a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query_data body: {0}")]
pub struct DecodeError(pub String);

fn err(message: impl Into<String>) -> DecodeError {
    DecodeError(message.into())
}

impl From<planus::Error> for DecodeError {
    fn from(e: planus::Error) -> Self {
        DecodeError(format!("malformed flatbuffer: {e}"))
    }
}

/// Decodes a `query_data` request body.
pub fn decode(body: &[u8]) -> Result<Relation, DecodeError> {
    let relation = ir::RelationRef::read_as_root(body)?;
    let source = match relation.impl_()? {
        Some(ir::RelationImplRef::Source(source)) => source,
        _ => return Err(err("the relation is not a Source")),
    };
    let schema = source
        .schema()?
        .ok_or_else(|| err("Source has no schema"))?;
    let mut nodes = Vec::new();
    if let Some(fields) = schema.fields()? {
        for field in fields.iter() {
            nodes.push(node(field?)?);
        }
    }
    let mut projection = Vec::new();
    if let Some(positions) = source.projection()? {
        for p in positions.iter() {
            projection.push(p?.position()?);
        }
    }
    let filter = match source.filter()? {
        None => Vec::new(),
        Some(expr) => conjunction(expr)?,
    };
    Ok(Relation {
        schema: nodes,
        projection,
        filter,
    })
}

pub(crate) fn node(field: fb::FieldRef<'_>) -> Result<Node, DecodeError> {
    let kind = match field.type_()? {
        None => return Err(err("a schema field has no type")),
        Some(t) => node_type(t)?,
    };
    let mut children = Vec::new();
    if let Some(list) = field.children()? {
        for child in list.iter() {
            children.push(node(child?)?);
        }
    }
    Ok(Node {
        name: field.name()?.unwrap_or("").to_owned(),
        nullable: field.nullable()?,
        kind,
        children,
    })
}

fn node_type(t: fb::TypeRef<'_>) -> Result<NodeType, DecodeError> {
    Ok(match t {
        fb::TypeRef::Int(i) => NodeType::Int {
            bits: i.bit_width()?,
            signed: i.is_signed()?,
        },
        fb::TypeRef::FloatingPoint(f) => NodeType::Float(f.precision()? as u8),
        fb::TypeRef::Utf8(_) => NodeType::Utf8,
        fb::TypeRef::Binary(_) => NodeType::Binary,
        fb::TypeRef::Bool(_) => NodeType::Bool,
        fb::TypeRef::Decimal(d) => NodeType::Decimal {
            precision: d.precision()?,
            scale: d.scale()?,
            bits: d.bit_width()?,
        },
        fb::TypeRef::Date(d) => NodeType::Date(d.unit()? as u8),
        fb::TypeRef::Timestamp(ts) => NodeType::Timestamp(ts.unit()? as u8),
        fb::TypeRef::Time(ti) => NodeType::Time {
            bits: ti.bit_width()?,
            unit: ti.unit()? as u8,
        },
        fb::TypeRef::Struct(_) => NodeType::Struct,
        fb::TypeRef::List(_) => NodeType::List,
        fb::TypeRef::FixedSizeList(l) => NodeType::FixedSizeList(l.list_size()?),
        fb::TypeRef::Map(_) => NodeType::Map,
        fb::TypeRef::FixedSizeBinary(b) => NodeType::FixedSizeBinary(b.byte_width()?),
        fb::TypeRef::Null(_) => NodeType::Other("Null"),
        fb::TypeRef::Interval(_) => NodeType::Other("Interval"),
        fb::TypeRef::Union(_) => NodeType::Other("Union"),
        fb::TypeRef::Duration(_) => NodeType::Other("Duration"),
        fb::TypeRef::LargeBinary(_) => NodeType::Other("LargeBinary"),
        fb::TypeRef::LargeUtf8(_) => NodeType::Other("LargeUtf8"),
        fb::TypeRef::LargeList(_) => NodeType::Other("LargeList"),
    })
}

/// A call's name and arguments.
fn call(expr: ir::ExpressionRef<'_>) -> Result<(String, Vec<ir::ExpressionRef<'_>>), DecodeError> {
    match expr.impl_()? {
        Some(ir::ExpressionImplRef::Call(c)) => {
            let name = c.name()?.unwrap_or("").to_owned();
            let mut args = Vec::new();
            if let Some(list) = c.arguments()? {
                for a in list.iter() {
                    args.push(a?);
                }
            }
            Ok((name, args))
        }
        _ => Err(err("expected a function call")),
    }
}

fn conjunction(expr: ir::ExpressionRef<'_>) -> Result<Vec<Vec<Term>>, DecodeError> {
    let (name, args) = call(expr)?;
    if name != "and" {
        return Err(err(format!(
            "the filter must be and(or(..)..), not `{name}`"
        )));
    }
    let mut groups = Vec::with_capacity(args.len());
    for arg in args {
        let (name, terms) = call(arg)?;
        if name != "or" {
            return Err(err(format!("each conjunct must be or(..), not `{name}`")));
        }
        groups.push(terms.into_iter().map(term).collect::<Result<_, _>>()?);
    }
    Ok(groups)
}

fn term(expr: ir::ExpressionRef<'_>) -> Result<Term, DecodeError> {
    let (name, args) = call(expr)?;
    if name == "and" {
        return Ok(Term::And(
            args.into_iter().map(term).collect::<Result<_, _>>()?,
        ));
    }
    let column = match args.first() {
        Some(first) => position(*first)?,
        None => return Err(err(format!("`{name}` has no arguments"))),
    };
    let literal = match args.get(1) {
        Some(second) => Some(literal(*second)?),
        None => None,
    };
    match (name.as_str(), literal) {
        ("is_null", None) => Ok(Term::IsNull(column)),
        ("is_valid", None) => Ok(Term::IsValid(column)),
        ("match_substring", Some(Literal::Utf8(pattern))) => Ok(Term::Substring {
            position: column,
            pattern,
        }),
        (other, Some(value)) => match Comparison::from_name(other) {
            Some(op) => Ok(Term::Compare {
                position: column,
                op,
                value,
            }),
            None => Err(err(format!("unsupported function `{other}`"))),
        },
        (other, None) => Err(err(format!("`{other}` needs a literal argument"))),
    }
}

fn position(expr: ir::ExpressionRef<'_>) -> Result<u32, DecodeError> {
    match expr.impl_()? {
        Some(ir::ExpressionImplRef::FieldRef(f)) => match f.ref_()? {
            Some(ir::DerefRef::FieldIndex(i)) => Ok(i.position()?),
            _ => Err(err("a field reference must be a FieldIndex")),
        },
        _ => Err(err("the first argument must be a column")),
    }
}

fn bytes(values: &[i8]) -> Vec<u8> {
    values.iter().map(|b| *b as u8).collect()
}

fn literal(expr: ir::ExpressionRef<'_>) -> Result<Literal, DecodeError> {
    let lit = match expr.impl_()? {
        Some(ir::ExpressionImplRef::Literal(l)) => l,
        _ => return Err(err("the second argument must be a literal")),
    };
    use ir::LiteralImplRef as L;
    Ok(
        match lit.impl_()?.ok_or_else(|| err("a literal has no value"))? {
            L::BooleanLiteral(v) => Literal::Bool(v.value()?),
            L::Int8Literal(v) => Literal::Int(v.value()?.into()),
            L::Int16Literal(v) => Literal::Int(v.value()?.into()),
            L::Int32Literal(v) => Literal::Int(v.value()?.into()),
            L::Int64Literal(v) => Literal::Int(v.value()?),
            L::UInt8Literal(v) => Literal::UInt(v.value()?.into()),
            L::UInt16Literal(v) => Literal::UInt(v.value()?.into()),
            L::UInt32Literal(v) => Literal::UInt(v.value()?.into()),
            L::UInt64Literal(v) => Literal::UInt(v.value()?),
            L::Float16Literal(v) => Literal::Float16(v.value()?),
            L::Float32Literal(v) => Literal::Float32(v.value()?),
            L::Float64Literal(v) => Literal::Float64(v.value()?),
            L::StringLiteral(v) => Literal::Utf8(v.value()?.unwrap_or("").to_owned()),
            L::BinaryLiteral(v) => Literal::Binary(v.value()?.map(bytes).unwrap_or_default()),
            L::DecimalLiteral(v) => {
                let raw = v.value()?.map(bytes).unwrap_or_default();
                if raw.len() > 16 {
                    return Err(err(
                        "decimal literals wider than 128 bits are not supported",
                    ));
                }
                // Little-endian two's complement, sign-extended to 16 bytes.
                let fill = if raw.last().is_some_and(|b| b & 0x80 != 0) {
                    0xFF
                } else {
                    0
                };
                let mut le = [fill; 16];
                le[..raw.len()].copy_from_slice(&raw);
                Literal::Decimal(i128::from_le_bytes(le))
            }
            L::DateLiteral(v) => Literal::Date(v.value()?),
            L::TimeLiteral(v) => Literal::Time(v.value()?),
            L::TimestampLiteral(v) => Literal::Timestamp(v.value()?),
            _ => return Err(err("unsupported literal type")),
        },
    )
}
