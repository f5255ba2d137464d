//! `--explain`: a plan as rows of (item, value, why), which reads in a terminal and stays
//! one row per fact in CSV and JSON.

use std::sync::Arc;

use arrow::{
    array::{ArrayRef, StringArray},
    datatypes::{DataType, Field, Schema},
    record_batch::RecordBatch,
};

use super::{Failure, render::Rendered};
use crate::proto;

pub(super) fn rows(plan: &proto::ExplainResponse) -> Result<Rendered, Failure> {
    let table = plan.table.as_ref().map_or_else(String::new, |t| {
        [t.bucket.as_str(), t.schema.as_str(), t.table.as_str()]
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(".")
    });
    let choice = |c: &Option<proto::PlanChoice>| {
        c.as_ref().map_or((String::new(), String::new()), |c| {
            (c.value.to_string(), c.reason.clone())
        })
    };
    let or_none = |text: &str| {
        if text.is_empty() {
            "(none)".to_owned()
        } else {
            text.to_owned()
        }
    };
    let mut facts: Vec<(&str, String, String)> = vec![
        (
            "table",
            table,
            format!("{} rows, {} bytes", plan.table_rows, plan.table_bytes),
        ),
        ("query kind", plan.query_kind.clone(), String::new()),
        ("planner", plan.planner.clone(), "exec.planner".to_owned()),
    ];
    for (item, c) in [
        ("splits", &plan.splits),
        ("sub-splits", &plan.sub_splits),
        ("rows per sub-split", &plan.rows_per_sub_split),
    ] {
        let (value, why) = choice(c);
        facts.push((item, value, why));
    }
    facts.extend([
        ("columns", plan.columns.join(", "), String::new()),
        (
            "pushed filter",
            or_none(&plan.pushed_filter),
            "the storage evaluates it".to_owned(),
        ),
        (
            "residual filter",
            or_none(&plan.residual_filter),
            "only vastgate evaluates it (it re-applies the whole filter to every batch)".to_owned(),
        ),
        (
            "row groups pruned",
            format!("{} of {}", plan.row_groups_pruned, plan.row_groups),
            "statistics prove them empty".to_owned(),
        ),
        ("rows to scan", plan.rows_to_scan.to_string(), String::new()),
        (
            "estimated rows",
            plan.estimated_rows.to_string(),
            plan.estimate_reason.clone(),
        ),
        (
            "healthy endpoints",
            plan.healthy_endpoints.to_string(),
            String::new(),
        ),
        ("metadata cache", plan.metadata_cache.clone(), String::new()),
    ]);
    if !plan.engine_sql.is_empty() {
        facts.push((
            "engine sql",
            plan.engine_sql.clone(),
            "DuckDB over the scanned rows `t`".to_owned(),
        ));
    }
    let column = |values: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(values)) };
    let items = facts.iter().map(|f| f.0).collect();
    let values = facts.iter().map(|f| f.1.as_str()).collect();
    let whys = facts.iter().map(|f| f.2.as_str()).collect();
    let schema = Schema::new(
        ["item", "value", "why"]
            .map(|n| Field::new(n, DataType::Utf8, false))
            .to_vec(),
    );
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![column(items), column(values), column(whys)],
    )
    .map_err(|e| Failure::new(tonic::Code::Internal, format!("printing the plan: {e}")))?;
    Ok(Rendered {
        batch,
        notes: Vec::new(),
    })
}
