//! The decoded compute-IR filter → a [`Predicate`] over the table's own columns, with every
//! literal converted to its column's exact Arrow type.

use std::sync::Arc;

use arrow::{
    array::{
        ArrayRef, BinaryArray, BooleanArray, Decimal128Array, Float32Array, Float64Array,
        Int32Array, Int64Array, StringArray, UInt64Array,
    },
    compute::{CastOptions, cast_with_options},
    datatypes::{DataType, Schema},
};

use super::call::S3Error;
use crate::{
    predicate::{CompareOp, Predicate, Value},
    vast_protocol::relation::{Comparison, Literal, Relation, Term},
};

/// The filter of `relation` over `table` (the table's schema), or `None` for `and()`.
pub(crate) fn predicate(relation: &Relation, table: &Schema) -> Result<Option<Predicate>, S3Error> {
    if relation.filter.is_empty() {
        return Ok(None);
    }
    let positions = relation.positions();
    let column = |position: u32| -> Result<(String, DataType), S3Error> {
        let (top, is_top) = positions.get(position as usize).copied().ok_or_else(|| {
            S3Error::bad_request(format!("filter position {position} is outside the schema"))
        })?;
        if !is_top {
            return Err(S3Error::bad_request(
                "the emulator filters top-level columns only (no nested paths)",
            ));
        }
        let name = relation.schema[top].name.clone();
        let field = table
            .field_with_name(&name)
            .map_err(|_| S3Error::bad_request(format!("no column `{name}`")))?;
        Ok((name, field.data_type().clone()))
    };
    let mut groups = Vec::with_capacity(relation.filter.len());
    for group in &relation.filter {
        let terms = group
            .iter()
            .map(|t| term(t, &column))
            .collect::<Result<Vec<_>, _>>()?;
        groups.push(Predicate::Or(terms));
    }
    Ok(Some(Predicate::And(groups)))
}

fn term(
    t: &Term,
    column: &impl Fn(u32) -> Result<(String, DataType), S3Error>,
) -> Result<Predicate, S3Error> {
    Ok(match t {
        Term::And(children) => Predicate::And(
            children
                .iter()
                .map(|c| term(c, column))
                .collect::<Result<_, _>>()?,
        ),
        Term::IsNull(p) => Predicate::IsNull(column(*p)?.0),
        Term::IsValid(p) => Predicate::IsNotNull(column(*p)?.0),
        Term::Substring { position, pattern } => Predicate::Contains {
            column: column(*position)?.0,
            pattern: pattern.clone(),
        },
        Term::Compare {
            position,
            op,
            value,
        } => {
            let (name, data_type) = column(*position)?;
            Predicate::Compare {
                column: name.clone(),
                op: match op {
                    Comparison::Equal => CompareOp::Eq,
                    Comparison::NotEqual => CompareOp::Ne,
                    Comparison::Less => CompareOp::Lt,
                    Comparison::LessEqual => CompareOp::Le,
                    Comparison::Greater => CompareOp::Gt,
                    Comparison::GreaterEqual => CompareOp::Ge,
                },
                value: Value(literal_array(value, &data_type).map_err(|m| {
                    S3Error::bad_request(format!("literal for column `{name}`: {m}"))
                })?),
            }
        }
    })
}

/// A one-element array of `data_type` holding `value`.
pub(super) fn literal_array(value: &Literal, data_type: &DataType) -> Result<ArrayRef, String> {
    let source: ArrayRef = match (value, data_type) {
        (Literal::Bool(v), _) => Arc::new(BooleanArray::from(vec![*v])),
        (Literal::Int(v), _) => Arc::new(Int64Array::from(vec![*v])),
        (Literal::UInt(v), _) => Arc::new(UInt64Array::from(vec![*v])),
        (Literal::Float32(v), _) => Arc::new(Float32Array::from(vec![*v])),
        (Literal::Float64(v), _) => Arc::new(Float64Array::from(vec![*v])),
        (Literal::Utf8(v), _) => Arc::new(StringArray::from(vec![v.as_str()])),
        (Literal::Binary(v), _) => Arc::new(BinaryArray::from(vec![v.as_slice()])),
        (Literal::Decimal(v), DataType::Decimal128(p, s)) => Arc::new(
            Decimal128Array::from(vec![*v])
                .with_precision_and_scale(*p, *s)
                .map_err(|e| e.to_string())?,
        ),
        (Literal::Date(v), DataType::Date32) | (Literal::Time(v), DataType::Time32(_)) => {
            let v = i32::try_from(*v).map_err(|_| format!("{v} does not fit 32 bits"))?;
            Arc::new(Int32Array::from(vec![v]))
        }
        (Literal::Date(v) | Literal::Time(v) | Literal::Timestamp(v), _) => {
            Arc::new(Int64Array::from(vec![*v]))
        }
        (other, dt) => return Err(format!("a {other:?} literal does not fit a {dt} column")),
    };
    if source.data_type() == data_type {
        return Ok(source);
    }
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(&source, data_type, &strict)
        .map_err(|e| format!("cannot convert {value:?} to {data_type}: {e}"))
}
