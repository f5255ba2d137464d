//! Split planning: how many disjoint splits a scan is cut into.
//!
//! The planner aims for `exec.rows_per_split` rows per split, never more splits than the table
//! has row groups (a split below a row group is empty), and at most `exec.max_splits`. A small
//! `limit` reads one split: parallel splits would only read rows that are thrown away. Hints
//! from the request override the choice within the same bounds.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use crate::{
    backend::{ScanRequest, TableMeta, TableRef},
    config::ExecConfig,
    exec::ScanPlan,
    predicate::Predicate,
    proto,
};

/// What a caller wants read.
#[derive(Debug, Clone)]
pub struct ReadSpec {
    /// The table.
    pub table: TableRef,
    /// Its metadata.
    pub meta: TableMeta,
    /// Column indexes in output order; `None` = all.
    pub projection: Option<Vec<usize>>,
    /// Validated filter.
    pub predicate: Option<Predicate>,
    /// Row limit (0 = none).
    pub limit: u64,
    /// Request hints.
    pub hints: Option<proto::QueryHints>,
}

/// Turns a read into a scan plan.
pub fn plan(spec: ReadSpec, config: &ExecConfig) -> ScanPlan {
    let hints = spec.hints.unwrap_or_default();
    let row_groups = spec.meta.num_row_groups.max(1);
    let bound = u64::from(config.max_splits).min(row_groups).max(1);
    let num_splits = if hints.num_splits > 0 {
        u64::from(hints.num_splits).min(bound)
    } else if spec.limit > 0 && spec.limit <= config.rows_per_split {
        1
    } else {
        spec.meta
            .num_rows
            .div_ceil(config.rows_per_split.max(1))
            .clamp(1, bound)
    };
    let output_schema: SchemaRef = match &spec.projection {
        Some(p) => Arc::new(
            spec.meta
                .schema
                .project(p)
                .unwrap_or_else(|_| spec.meta.schema.as_ref().clone()),
        ),
        None => Arc::clone(&spec.meta.schema),
    };
    ScanPlan {
        table: spec.table,
        meta: spec.meta,
        request: ScanRequest {
            projection: spec.projection,
            predicate: spec.predicate,
            num_sub_splits: nonzero(hints.num_sub_splits, config.num_sub_splits),
            limit_rows_per_sub_split: if hints.limit_rows_per_sub_split > 0 {
                hints.limit_rows_per_sub_split
            } else {
                config.limit_rows_per_sub_split
            },
            priority: hints.priority,
            dictionary_columns: Vec::new(),
            endpoints: crate::backend::EndpointLog::default(),
        },
        output_schema,
        // Bounded by `max_splits` (a u32) above.
        num_splits: u32::try_from(num_splits).unwrap_or(1),
    }
}

fn nonzero(hint: u32, default: u32) -> u32 {
    if hint > 0 { hint } else { default }
}

#[cfg(test)]
mod tests;
