//! Exact evaluation of a predicate on a record batch.

use std::sync::Arc;

use arrow::{
    array::{Array, ArrayRef, BooleanArray, Scalar, StringArray},
    compute::{
        and_kleene, cast,
        kernels::{cmp, comparison},
        not, or_kleene,
    },
    datatypes::DataType,
    error::ArrowError,
    record_batch::RecordBatch,
};

use super::{CompareOp, Predicate, Value};

/// The rows of `batch` that satisfy `predicate`: `true`, `false` or NULL (unknown, which a
/// filter treats as not matching, as SQL does).
pub fn evaluate(predicate: &Predicate, batch: &RecordBatch) -> Result<BooleanArray, ArrowError> {
    match predicate {
        Predicate::And(children) => fold(children, batch, and_kleene),
        Predicate::Or(children) => fold(children, batch, or_kleene),
        Predicate::Not(child) => not(&evaluate(child, batch)?),
        Predicate::Compare { column, op, value } => compare(&column_of(batch, column)?, *op, value),
        Predicate::In { column, values } => {
            let array = column_of(batch, column)?;
            let mut acc: Option<BooleanArray> = None;
            for value in values {
                let hit = compare(&array, CompareOp::Eq, value)?;
                acc = Some(match acc {
                    None => hit,
                    Some(prev) => or_kleene(&prev, &hit)?,
                });
            }
            acc.ok_or_else(|| ArrowError::InvalidArgumentError("empty IN list".to_owned()))
        }
        Predicate::Between { column, low, high } => {
            let array = column_of(batch, column)?;
            and_kleene(
                &compare(&array, CompareOp::Ge, low)?,
                &compare(&array, CompareOp::Le, high)?,
            )
        }
        Predicate::IsNull(column) => arrow::compute::is_null(&column_of(batch, column)?),
        Predicate::IsNotNull(column) => arrow::compute::is_not_null(&column_of(batch, column)?),
        Predicate::StartsWith { column, pattern } => {
            let array = column_of(batch, column)?;
            comparison::starts_with(&array, &pattern_scalar(pattern, array.data_type())?)
        }
        Predicate::Contains { column, pattern } => {
            let array = column_of(batch, column)?;
            comparison::contains(&array, &pattern_scalar(pattern, array.data_type())?)
        }
    }
}

fn fold(
    children: &[Predicate],
    batch: &RecordBatch,
    combine: fn(&BooleanArray, &BooleanArray) -> Result<BooleanArray, ArrowError>,
) -> Result<BooleanArray, ArrowError> {
    let mut acc: Option<BooleanArray> = None;
    for child in children {
        let mask = evaluate(child, batch)?;
        acc = Some(match acc {
            None => mask,
            Some(prev) => combine(&prev, &mask)?,
        });
    }
    acc.ok_or_else(|| ArrowError::InvalidArgumentError("empty and/or".to_owned()))
}

/// The column by name; dictionary columns are unpacked so kernels see plain values.
fn column_of(batch: &RecordBatch, name: &str) -> Result<ArrayRef, ArrowError> {
    let array = batch.column_by_name(name).ok_or_else(|| {
        ArrowError::SchemaError(format!("filter column `{name}` missing from the scan"))
    })?;
    match array.data_type() {
        DataType::Dictionary(_, value) => cast(array, value),
        _ => Ok(Arc::clone(array)),
    }
}

fn compare(array: &ArrayRef, op: CompareOp, value: &Value) -> Result<BooleanArray, ArrowError> {
    let scalar = Scalar::new(Arc::clone(&value.0));
    match op {
        CompareOp::Eq => cmp::eq(array, &scalar),
        CompareOp::Ne => cmp::neq(array, &scalar),
        CompareOp::Lt => cmp::lt(array, &scalar),
        CompareOp::Le => cmp::lt_eq(array, &scalar),
        CompareOp::Gt => cmp::gt(array, &scalar),
        CompareOp::Ge => cmp::gt_eq(array, &scalar),
    }
}

fn pattern_scalar(pattern: &str, data_type: &DataType) -> Result<Scalar<ArrayRef>, ArrowError> {
    let array: ArrayRef = Arc::new(StringArray::from(vec![pattern]));
    Ok(Scalar::new(cast(&array, data_type)?))
}
