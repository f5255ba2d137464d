//! The `query_data` request body: a compute-IR `Relation{Source}` (notes §4) with the queried
//! schema, the pushed-down filter in AND-of-ORs form and the projected leaf positions.

use arrow::datatypes::{DataType, Field, TimeUnit};

use super::{
    pushdown,
    wire::{arrow_fb as fb, ir},
};
use crate::{backend::BackendError, predicate::Predicate};

/// A flat (leaf) column's compute-IR type, or an error for types the client does not send.
pub(crate) fn fb_type(field: &Field) -> Result<fb::Type, BackendError> {
    let unit = |u: &TimeUnit| match u {
        TimeUnit::Second => fb::TimeUnit::Second,
        TimeUnit::Millisecond => fb::TimeUnit::Millisecond,
        TimeUnit::Microsecond => fb::TimeUnit::Microsecond,
        TimeUnit::Nanosecond => fb::TimeUnit::Nanosecond,
    };
    let int = |bit_width: i32, is_signed: bool| {
        fb::Type::Int(Box::new(fb::Int {
            bit_width,
            is_signed,
        }))
    };
    let float = |precision| fb::Type::FloatingPoint(Box::new(fb::FloatingPoint { precision }));
    Ok(match field.data_type() {
        DataType::Int8 => int(8, true),
        DataType::Int16 => int(16, true),
        DataType::Int32 => int(32, true),
        DataType::Int64 => int(64, true),
        DataType::UInt8 => int(8, false),
        DataType::UInt16 => int(16, false),
        DataType::UInt32 => int(32, false),
        DataType::UInt64 => int(64, false),
        DataType::Float16 => float(fb::Precision::Half),
        DataType::Float32 => float(fb::Precision::Single),
        DataType::Float64 => float(fb::Precision::Double),
        DataType::Utf8 => fb::Type::Utf8(Box::new(fb::Utf8 {})),
        DataType::Binary => fb::Type::Binary(Box::new(fb::Binary {})),
        DataType::Boolean => fb::Type::Bool(Box::new(fb::Bool {})),
        DataType::Decimal128(precision, scale) => fb::Type::Decimal(Box::new(fb::Decimal {
            precision: i32::from(*precision),
            scale: i32::from(*scale),
            bit_width: 128,
        })),
        DataType::Date32 => fb::Type::Date(Box::new(fb::Date {
            unit: fb::DateUnit::Day,
        })),
        // The SDK never writes the time zone.
        DataType::Timestamp(u, _) => fb::Type::Timestamp(Box::new(fb::Timestamp {
            unit: unit(u),
            timezone: None,
        })),
        DataType::Time32(u) => fb::Type::Time(Box::new(fb::Time {
            unit: unit(u),
            bit_width: 32,
        })),
        DataType::Time64(u) => fb::Type::Time(Box::new(fb::Time {
            unit: unit(u),
            bit_width: 64,
        })),
        other => {
            return Err(BackendError::Unsupported(format!(
                "column `{}`: type {other} cannot be read over the VAST protocol by vastgate \
                 (flat columns only)",
                field.name()
            )));
        }
    })
}

/// The body of a `query_data` request reading `fields` (all projected, in order) with the
/// pushable part of `predicate` as its filter, and how many conjuncts were pushed. The client
/// still applies the exact predicate to what comes back.
pub(crate) fn query_body(
    fields: &[&Field],
    predicate: Option<&Predicate>,
) -> Result<(Vec<u8>, usize), BackendError> {
    let mut schema_fields = Vec::with_capacity(fields.len());
    for field in fields {
        schema_fields.push(fb::Field {
            name: Some(field.name().clone()),
            nullable: field.is_nullable(),
            type_: Some(fb_type(field)?),
            ..Default::default()
        });
    }
    // Flat columns only: column i is schema node i and its own single leaf.
    let projection = (0..fields.len())
        .map(|i| ir::FieldIndex {
            position: u32::try_from(i).unwrap_or(u32::MAX),
        })
        .collect();
    let resolve = |name: &str| {
        let i = fields.iter().position(|f| f.name() == name)?;
        Some((u32::try_from(i).ok()?, fields[i]))
    };
    let (filter, pushed) = pushdown::filter(predicate, &resolve);
    let relation = ir::Relation {
        impl_: Some(ir::RelationImpl::Source(Box::new(ir::Source {
            id: None,
            name: Some(String::new()),
            filter: Some(Box::new(filter)),
            schema: Some(Box::new(fb::Schema {
                fields: Some(schema_fields),
                ..Default::default()
            })),
            projection: Some(projection),
        }))),
    };
    Ok((
        planus::Builder::new().finish(&relation, None).to_vec(),
        pushed,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::vast::relation::{self, NodeType};

    #[test]
    fn body_decodes_to_the_queried_schema() {
        let a = Field::new("a", DataType::Int32, false);
        let b = Field::new(
            "b",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        );
        let (body, pushed) = query_body(&[&a, &b], None).unwrap();
        assert_eq!(pushed, 0);
        let rel = relation::decode(&body).unwrap();
        assert_eq!(rel.schema.len(), 2);
        assert_eq!(rel.schema[0].name, "a");
        assert_eq!(
            rel.schema[0].kind,
            NodeType::Int {
                bits: 32,
                signed: true
            }
        );
        assert_eq!(rel.schema[1].kind, NodeType::Timestamp(2));
        assert_eq!(rel.projection, vec![0, 1]);
        assert!(rel.filter.is_empty());
    }
}
