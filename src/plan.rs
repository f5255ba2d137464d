//! Scan planning (the "query optimizer"): how many splits, sub-splits and rows per sub-split
//! page a read uses, each with the reason it was chosen.
//!
//! The adaptive planner (`exec.planner = "adaptive"`) sizes splits by the rows left to read
//! after the storage's statistics pruned row groups (about `exec.rows_per_split` each), raises
//! a local read's count so that every core gets a share of a table large enough for it, and
//! cuts a LIMIT that fits one split to one split, one
//! sub-split and pages no larger than the limit. Sub-splits never outnumber a split's row
//! groups (an extra one would be an empty stream). The fixed planner uses the configured values
//! as they are. Hints override both, within the same bounds.

mod estimate;
mod kind;
mod rows;
mod sizing;

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

pub use self::{
    estimate::Estimate,
    kind::QueryKind,
    rows::{plan_rows, plan_rows_schema},
};
use crate::{
    backend::{FilterReport, ScanRequest, TableMeta, TableRef},
    config::{ExecConfig, PlannerMode},
    predicate::Predicate,
    proto,
};

/// What a caller wants read, and what the backend said about it.
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
    /// What the rows are for.
    pub kind: QueryKind,
    /// What the storage's statistics and pushdown make of the filter.
    pub filter: FilterReport,
    /// Healthy storage endpoints now; `None` for a backend without endpoints (local).
    pub healthy_endpoints: Option<u32>,
    /// Cores this process may use: local reads split no wider.
    pub cores: u32,
}

/// Cores this process may use, for [`ReadSpec::cores`].
pub fn available_cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}

/// What to read: the output of [`plan`].
#[derive(Debug, Clone)]
pub struct ScanPlan {
    /// The table.
    pub table: TableRef,
    /// Its metadata (from the catalog).
    pub meta: TableMeta,
    /// Projection, predicate and backend hints.
    pub request: ScanRequest,
    /// The schema of the batches this scan yields.
    pub output_schema: SchemaRef,
    /// Number of disjoint splits.
    pub num_splits: u32,
    /// Why the planner chose these numbers (`Explain`).
    pub choices: Arc<PlanChoices>,
}

/// One planned number and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice<T> {
    /// The number.
    pub value: T,
    /// Why, in a sentence an operator can act on.
    pub reason: String,
}

impl<T> Choice<T> {
    fn new(value: T, reason: impl Into<String>) -> Self {
        Self {
            value,
            reason: reason.into(),
        }
    }
}

/// Every choice of a plan with its reason, for `Explain`, the query log and tests.
#[derive(Debug, Clone)]
pub struct PlanChoices {
    /// The planner that chose.
    pub mode: PlannerMode,
    /// What the rows are for.
    pub kind: QueryKind,
    /// Disjoint splits.
    pub splits: Choice<u32>,
    /// Sub-splits per split.
    pub sub_splits: Choice<u32>,
    /// Rows per sub-split page.
    pub rows_per_sub_split: Choice<u64>,
    /// Row groups pruned, conjuncts pushed and left.
    pub filter: FilterReport,
    /// Rows the filter is expected to keep.
    pub estimate: Estimate,
    /// Healthy endpoints when planned (`None`: a local backend).
    pub healthy_endpoints: Option<u32>,
}

impl PlanChoices {
    /// Numbers given rather than chosen: `num_splits` splits of the whole table, one
    /// sub-split each (tests that build a [`ScanPlan`] by hand).
    pub fn given(num_splits: u32, meta: &TableMeta) -> Self {
        let given = "given";
        Self {
            mode: PlannerMode::Fixed,
            kind: QueryKind::Read,
            splits: Choice::new(num_splits, given),
            sub_splits: Choice::new(1, given),
            rows_per_sub_split: Choice::new(0, given),
            filter: FilterReport::unpruned(meta, None),
            estimate: Estimate {
                rows: meta.num_rows,
                reason: given.to_owned(),
            },
            healthy_endpoints: None,
        }
    }
}

/// Turns a read into a scan plan.
pub fn plan(spec: ReadSpec, config: &ExecConfig) -> ScanPlan {
    let hints = spec.hints.unwrap_or_default();
    let estimate = Estimate::of(&spec);
    let sized = sizing::Sizing {
        spec: &spec,
        config,
        hints: &hints,
    };
    let splits = sized.splits();
    let sub_splits = sized.sub_splits(splits.value);
    let rows_per_sub_split = sized.rows_per_sub_split();
    let output_schema: SchemaRef = match &spec.projection {
        Some(p) => Arc::new(
            spec.meta
                .schema
                .project(p)
                .unwrap_or_else(|_| spec.meta.schema.as_ref().clone()),
        ),
        None => Arc::clone(&spec.meta.schema),
    };
    let num_splits = splits.value;
    let request = ScanRequest {
        projection: spec.projection,
        predicate: spec.predicate,
        num_sub_splits: sub_splits.value,
        limit_rows_per_sub_split: rows_per_sub_split.value,
        priority: hints.priority,
        dictionary_columns: Vec::new(),
        endpoints: crate::backend::EndpointLog::default(),
    };
    ScanPlan {
        table: spec.table,
        meta: spec.meta,
        request,
        output_schema,
        num_splits,
        choices: Arc::new(PlanChoices {
            mode: config.planner,
            kind: spec.kind,
            splits,
            sub_splits,
            rows_per_sub_split,
            filter: spec.filter,
            estimate,
            healthy_endpoints: spec.healthy_endpoints,
        }),
    }
}

#[cfg(test)]
mod tests;
