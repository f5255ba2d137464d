//! The `query_data` request body: a compute-IR `Relation{Source}` (notes §4) with the queried
//! schema, the pushed-down filter in AND-of-ORs form and the projected leaf positions.

use arrow::datatypes::Field;

use super::{field_type::fb_type, pushdown};
use crate::{
    backend::BackendError,
    predicate::Predicate,
    vast_protocol::wire::{arrow_fb as fb, ir},
};

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
    use arrow::datatypes::{DataType, TimeUnit};

    use super::*;
    use crate::vast_protocol::relation::{self, NodeType};

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
