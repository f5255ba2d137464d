//! Readable column names for an analytic's raw result, as Flight hands it to data tools.
//!
//! The SQL of each analytic names its outputs `__…` so they cannot collide with the table's
//! columns, and the typed decoders read them by those names. A Flight client gets the same
//! rows under the names of the typed response instead: group columns under their own names,
//! `__n` as `n`, `__q` as `values`, a WindowAggregate's `__a0` as `avg_temperature`, and so on.
//! A name that is already taken (a group column called `n`) keeps its internal name.

use std::{collections::HashSet, sync::Arc};

use arrow::{
    datatypes::{Field, Schema, SchemaRef},
    error::ArrowError,
    record_batch::{RecordBatch, RecordBatchOptions},
};

use super::{correlation, window};
use crate::proto::{self, flight_command::Command};

/// `schema` (an analytic's raw result for `command`) with readable column names.
pub fn public_schema(command: &Command, schema: &Schema) -> SchemaRef {
    let groups = group_by(command);
    let mut taken: HashSet<String> = HashSet::new();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            let internal = field.name();
            let public = group_name(internal, groups)
                .or_else(|| output_name(command, internal))
                .unwrap_or_else(|| internal.clone());
            let name = if taken.contains(&public) {
                internal.clone()
            } else {
                public
            };
            taken.insert(name.clone());
            field.as_ref().clone().with_name(name)
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` under `schema` (from [`public_schema`]; same columns, other names).
pub fn rename(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let rows = batch.num_rows();
    RecordBatch::try_new_with_options(
        Arc::clone(schema),
        batch.columns().to_vec(),
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
}

fn group_by(command: &Command) -> &[String] {
    match command {
        Command::MovingAverage(r) => &r.group_by,
        Command::Trend(r) => &r.group_by,
        Command::DetectAnomalies(r) => &r.group_by,
        Command::WindowAggregate(r) => &r.group_by,
        Command::Percentiles(r) => &r.group_by,
        Command::Correlation(r) => &r.group_by,
        Command::Histogram(r) => &r.group_by,
        Command::TopN(r) => &r.group_by,
        Command::Sql(_) | Command::Select(_) => &[],
    }
}

/// `__g{i}` → the i-th group column.
fn group_name(internal: &str, groups: &[String]) -> Option<String> {
    let index: usize = internal.strip_prefix("__g")?.parse().ok()?;
    groups.get(index).cloned()
}

/// The response's name for an analytic's output column.
fn output_name(command: &Command, internal: &str) -> Option<String> {
    let fixed = match (command, internal) {
        (Command::Sql(_) | Command::Select(_), _) => return None,
        (Command::MovingAverage(_), "__t") | (Command::DetectAnomalies(_), "__t") => "time_us",
        (Command::MovingAverage(_), "__v") | (Command::DetectAnomalies(_), "__v") => "value",
        (Command::MovingAverage(_), "__avg") => "average",
        (Command::Trend(_), "__slope") => "slope_per_second",
        (Command::Trend(_), "__intercept") => "intercept",
        (Command::Trend(_), "__r2") => "r_squared",
        (Command::Trend(_) | Command::Percentiles(_), "__n") => "n",
        (Command::DetectAnomalies(_), "__z") => "z_score",
        (Command::DetectAnomalies(_), "__kind") => "is_summary",
        (Command::DetectAnomalies(_), "__rank") => "group_rank",
        (Command::DetectAnomalies(_), "__n") => "rows_examined",
        (Command::Percentiles(_), "__q") => "values",
        (Command::Histogram(_), "__idx") => "bin",
        (Command::Histogram(_), "__c") => "count",
        (Command::Histogram(_), "__lo") => "min",
        (Command::Histogram(_), "__hi") => "max",
        (Command::TopN(_), "__v") => "value",
        (Command::WindowAggregate(_), "__b") => "start_us",
        (Command::WindowAggregate(r), name) => return window_name(r, name),
        (Command::Correlation(r), name) => return correlation_name(r, name),
        _ => return None,
    };
    Some(fixed.to_owned())
}

/// `__a{k}` → `{function}_{column}` of the k-th output, as the typed response keys it.
fn window_name(req: &proto::WindowAggregateRequest, internal: &str) -> Option<String> {
    let k: usize = internal.strip_prefix("__a")?.parse().ok()?;
    let outputs = window::outputs(req).ok()?;
    let (function, column) = outputs.get(k)?;
    Some(format!("{function}_{column}"))
}

/// `__r{k}` / `__n{k}` → `r_{x}_{y}` / `n_{x}_{y}` of the k-th pair.
fn correlation_name(req: &proto::CorrelationRequest, internal: &str) -> Option<String> {
    let (prefix, k) = internal
        .strip_prefix("__r")
        .map(|k| ("r", k))
        .or_else(|| internal.strip_prefix("__n").map(|k| ("n", k)))?;
    let k: usize = k.parse().ok()?;
    let (i, j) = correlation::pairs(req.columns.len()).nth(k)?;
    Some(format!("{prefix}_{}_{}", req.columns[i], req.columns[j]))
}

#[cfg(test)]
mod tests;
