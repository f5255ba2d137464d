//! The pushable part of a [`Predicate`] as the compute-IR filter `and(or(..), ..)` (notes §4).
//!
//! Each top-level conjunct that is an OR of simple terms over one column (comparisons, IN,
//! BETWEEN, IS [NOT] NULL, prefix and substring matches) becomes one `or` group; anything
//! else (NOT, ORs across columns, NULL literals, unsupported types) is left out. What is
//! pushed never drops a matching row; the client applies the full predicate afterwards.

use arrow::{
    array::{Array, AsArray},
    datatypes::{
        DataType, Date32Type, Decimal128Type, Field, Float32Type, Float64Type, Int8Type, Int16Type,
        Int32Type, Int64Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
        Time64NanosecondType, TimeUnit, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
    },
};

use super::field_type::fb_type;
use crate::{
    predicate::{CompareOp, Predicate, Value},
    vast_protocol::wire::{arrow_fb as fb, ir},
};

/// Resolves a column name to its schema position and field in the queried schema.
pub(crate) type Resolve<'a> = dyn Fn(&str) -> Option<(u32, &'a Field)> + 'a;

fn expr(e: ir::ExpressionImpl) -> ir::Expression {
    ir::Expression { impl_: Some(e) }
}

fn call(name: &str, arguments: Vec<ir::Expression>) -> ir::Expression {
    expr(ir::ExpressionImpl::Call(Box::new(ir::Call {
        name: Some(name.to_owned()),
        arguments: Some(arguments),
        orderings: None,
    })))
}

fn field_ref(position: u32) -> ir::Expression {
    expr(ir::ExpressionImpl::FieldRef(Box::new(ir::FieldRef {
        ref_: Some(ir::Deref::FieldIndex(Box::new(ir::FieldIndex { position }))),
        relation_index: 0,
    })))
}

/// The literal `value` typed by `field` (the column), or `None` if it cannot be sent.
fn literal(value: &Value, field: &Field) -> Option<ir::Expression> {
    use ir::LiteralImpl as L;
    let a = &value.0;
    if a.len() != 1 || a.is_null(0) {
        return None;
    }
    let bytes = |b: &[u8]| b.iter().map(|x| x.cast_signed()).collect::<Vec<i8>>();
    let imp = match a.data_type() {
        DataType::Boolean => L::BooleanLiteral(Box::new(ir::BooleanLiteral {
            value: a.as_boolean().value(0),
        })),
        DataType::Int8 => L::Int8Literal(Box::new(ir::Int8Literal {
            value: a.as_primitive::<Int8Type>().value(0),
        })),
        DataType::Int16 => L::Int16Literal(Box::new(ir::Int16Literal {
            value: a.as_primitive::<Int16Type>().value(0),
        })),
        DataType::Int32 => L::Int32Literal(Box::new(ir::Int32Literal {
            value: a.as_primitive::<Int32Type>().value(0),
        })),
        DataType::Int64 => L::Int64Literal(Box::new(ir::Int64Literal {
            value: a.as_primitive::<Int64Type>().value(0),
        })),
        DataType::UInt8 => L::UInt8Literal(Box::new(ir::UInt8Literal {
            value: a.as_primitive::<UInt8Type>().value(0),
        })),
        DataType::UInt16 => L::UInt16Literal(Box::new(ir::UInt16Literal {
            value: a.as_primitive::<UInt16Type>().value(0),
        })),
        DataType::UInt32 => L::UInt32Literal(Box::new(ir::UInt32Literal {
            value: a.as_primitive::<UInt32Type>().value(0),
        })),
        DataType::UInt64 => L::UInt64Literal(Box::new(ir::UInt64Literal {
            value: a.as_primitive::<UInt64Type>().value(0),
        })),
        DataType::Float32 => L::Float32Literal(Box::new(ir::Float32Literal {
            value: a.as_primitive::<Float32Type>().value(0),
        })),
        DataType::Float64 => L::Float64Literal(Box::new(ir::Float64Literal {
            value: a.as_primitive::<Float64Type>().value(0),
        })),
        DataType::Utf8 => L::StringLiteral(Box::new(ir::StringLiteral {
            value: Some(a.as_string::<i32>().value(0).to_owned()),
        })),
        DataType::Binary => L::BinaryLiteral(Box::new(ir::BinaryLiteral {
            value: Some(bytes(a.as_binary::<i32>().value(0))),
        })),
        DataType::Decimal128(_, _) => L::DecimalLiteral(Box::new(ir::DecimalLiteral {
            value: Some(bytes(
                &a.as_primitive::<Decimal128Type>().value(0).to_le_bytes(),
            )),
        })),
        DataType::Date32 => L::DateLiteral(Box::new(ir::DateLiteral {
            value: i64::from(a.as_primitive::<Date32Type>().value(0)),
        })),
        DataType::Timestamp(_, _) => {
            let v = arrow::compute::cast(a, &DataType::Int64).ok()?;
            L::TimestampLiteral(Box::new(ir::TimestampLiteral {
                value: v.as_primitive::<Int64Type>().value(0),
            }))
        }
        DataType::Time32(TimeUnit::Second) => time(a.as_primitive::<Time32SecondType>().value(0)),
        DataType::Time32(TimeUnit::Millisecond) => {
            time(a.as_primitive::<Time32MillisecondType>().value(0))
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            time(a.as_primitive::<Time64MicrosecondType>().value(0))
        }
        DataType::Time64(TimeUnit::Nanosecond) => {
            time(a.as_primitive::<Time64NanosecondType>().value(0))
        }
        _ => return None,
    };
    Some(expr(ir::ExpressionImpl::Literal(Box::new(ir::Literal {
        impl_: Some(imp),
        type_: Some(Box::new(fb::Field {
            name: None,
            nullable: field.is_nullable(),
            type_: Some(fb_type(field).ok()?),
            ..Default::default()
        })),
    }))))
}

fn time(value: impl Into<i64>) -> ir::LiteralImpl {
    ir::LiteralImpl::TimeLiteral(Box::new(ir::TimeLiteral {
        value: value.into(),
    }))
}

fn string_literal(text: &str, field: &Field) -> Option<ir::Expression> {
    if field.data_type() != &DataType::Utf8 {
        return None;
    }
    let value = Value(std::sync::Arc::new(arrow::array::StringArray::from(vec![
        text,
    ])));
    literal(&value, field)
}

fn op_name(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "equal",
        CompareOp::Ne => "not_equal",
        CompareOp::Lt => "less",
        CompareOp::Le => "less_equal",
        CompareOp::Gt => "greater",
        CompareOp::Ge => "greater_equal",
    }
}

/// The smallest string above every string starting with `prefix`, if there is one.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The `or` entries of one conjunct over one column (`column` fixes the column), if pushable.
fn terms(
    p: &Predicate,
    resolve: &Resolve<'_>,
    column: &mut Option<String>,
) -> Option<Vec<ir::Expression>> {
    let mut target = |name: &str| -> Option<(ir::Expression, u32, Field)> {
        match column {
            Some(c) if c != name => return None,
            _ => *column = Some(name.to_owned()),
        }
        let (position, field) = resolve(name)?;
        Some((field_ref(position), position, field.clone()))
    };
    Some(match p {
        Predicate::Or(children) => {
            let mut out = Vec::new();
            for child in children {
                out.extend(terms(child, resolve, column)?);
            }
            out
        }
        Predicate::Compare { column, op, value } => {
            let (r, _, f) = target(column)?;
            vec![call(op_name(*op), vec![r, literal(value, &f)?])]
        }
        Predicate::In { column, values } => {
            let (_, pos, f) = target(column)?;
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(call("equal", vec![field_ref(pos), literal(v, &f)?]));
            }
            out
        }
        Predicate::Between { column, low, high } => {
            let (r, pos, f) = target(column)?;
            let lo = call("greater_equal", vec![r, literal(low, &f)?]);
            let hi = call("less_equal", vec![field_ref(pos), literal(high, &f)?]);
            vec![call("and", vec![lo, hi])]
        }
        Predicate::IsNull(c) => vec![call("is_null", vec![target(c)?.0])],
        Predicate::IsNotNull(c) => vec![call("is_valid", vec![target(c)?.0])],
        Predicate::Contains { column, pattern } => {
            let (r, _, f) = target(column)?;
            vec![call(
                "match_substring",
                vec![r, string_literal(pattern, &f)?],
            )]
        }
        Predicate::StartsWith { column, pattern } => {
            let (r, pos, f) = target(column)?;
            // Every non-NULL string starts with "": the SDK sends `is_valid` for it.
            if pattern.is_empty() {
                return Some(vec![call("is_valid", vec![r])]);
            }
            let lo = call("greater_equal", vec![r, string_literal(pattern, &f)?]);
            match prefix_upper_bound(pattern) {
                None => vec![lo],
                Some(upper) => {
                    let hi = call("less", vec![field_ref(pos), string_literal(&upper, &f)?]);
                    vec![call("and", vec![lo, hi])]
                }
            }
        }
        Predicate::And(_) | Predicate::Not(_) => return None,
    })
}

fn conjuncts<'a>(p: &'a Predicate, out: &mut Vec<&'a Predicate>) {
    match p {
        Predicate::And(children) => children.iter().for_each(|c| conjuncts(c, out)),
        other => out.push(other),
    }
}

/// The conjuncts of `predicate` that [`filter`] sends, and those it leaves to the client.
pub(crate) fn partition<'a>(
    predicate: &'a Predicate,
    resolve: &Resolve<'_>,
) -> (Vec<&'a Predicate>, Vec<&'a Predicate>) {
    let mut all = Vec::new();
    conjuncts(predicate, &mut all);
    all.into_iter()
        .partition(|c| terms(c, resolve, &mut None).is_some_and(|t| !t.is_empty()))
}

/// The filter expression to send (`and()` when nothing is pushable) and how many conjuncts
/// it holds.
pub(crate) fn filter(
    predicate: Option<&Predicate>,
    resolve: &Resolve<'_>,
) -> (ir::Expression, usize) {
    let mut all = Vec::new();
    if let Some(p) = predicate {
        conjuncts(p, &mut all);
    }
    let groups: Vec<ir::Expression> = all
        .into_iter()
        .filter_map(|c| terms(c, resolve, &mut None))
        .filter(|t| !t.is_empty())
        .map(|t| call("or", t))
        .collect();
    let n = groups.len();
    (call("and", groups), n)
}

#[cfg(test)]
mod tests;
