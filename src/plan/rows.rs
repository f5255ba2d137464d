//! A plan as rows of (table, item, value, why): what `vastgate client --explain` prints and
//! what `EXPLAIN` returns through the `Sql` RPC and Flight SQL, one block of rows per scan.

use std::sync::Arc;

use arrow::{
    array::{ArrayRef, StringArray},
    datatypes::{DataType, Field, Schema, SchemaRef},
    error::ArrowError,
    record_batch::RecordBatch,
};

use crate::proto;

/// The schema of [`plan_rows`].
pub fn plan_rows_schema() -> SchemaRef {
    Arc::new(Schema::new(
        ["table", "item", "value", "why"]
            .map(|n| Field::new(n, DataType::Utf8, false))
            .to_vec(),
    ))
}

/// The plans of a query's scans, one row per fact.
pub fn plan_rows(plans: &[proto::ExplainResponse]) -> Result<RecordBatch, ArrowError> {
    let mut facts: Vec<(String, &'static str, String, String)> = Vec::new();
    for plan in plans {
        let (table, rows) = facts_of(plan);
        facts.extend(
            rows.into_iter()
                .map(|(item, value, why)| (table.clone(), item, value, why)),
        );
    }
    let column = |values: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(values)) };
    RecordBatch::try_new(
        plan_rows_schema(),
        vec![
            column(facts.iter().map(|f| f.0.as_str()).collect()),
            column(facts.iter().map(|f| f.1).collect()),
            column(facts.iter().map(|f| f.2.as_str()).collect()),
            column(facts.iter().map(|f| f.3.as_str()).collect()),
        ],
    )
}

type Fact = (&'static str, String, String);

fn facts_of(plan: &proto::ExplainResponse) -> (String, Vec<Fact>) {
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
    let mut facts: Vec<Fact> = vec![
        (
            "table",
            table.clone(),
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
    if !plan.partial_cache.is_empty() {
        facts.push((
            "partial cache",
            format!(
                "{} of {} buckets cached",
                plan.partial_buckets_cached, plan.partial_buckets
            ),
            plan.partial_cache.clone(),
        ));
    }
    if !plan.engine_sql.is_empty() {
        facts.push((
            "engine sql",
            plan.engine_sql.clone(),
            "DuckDB over the scanned rows `t`".to_owned(),
        ));
    }
    (table, facts)
}
