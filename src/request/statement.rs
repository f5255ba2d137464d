//! A Flight SQL statement run: every table it reads is scanned with the columns it needs and
//! the WHERE conjuncts that map to our filter pushed down, split-parallel through the
//! executor, and one DuckDB worker runs the statement over those streams.
//!
//! A plain scan (columns or `*` of one table, no parameters) whose whole WHERE was pushed
//! skips the engine: the backend's exact filter already is the WHERE, so the scan's batches,
//! renamed to the select list, are the result — as for a plain-Flight `Select`.

use std::sync::Arc;

use arrow::{
    array::{RecordBatch, RecordBatchOptions},
    datatypes::{DataType, Field, Schema, SchemaRef},
};
use futures::StreamExt;

use super::{
    read::{self, ReadArgs},
    run_error::{RunError, engine_error},
    select::{Batches, limit_rows, scan_splits},
    tracked::Tracked,
};
use crate::{
    backend::{TableMeta, TableRef},
    config::BackendKind,
    engine::{EngineInput, EngineQuery, INTERNAL_PREFIX, InputReads, NamedInput},
    error::Error,
    exec::ScanPlan,
    plan::QueryKind,
    proto,
    sql::{Statement, TableUse, pushed_filter, pushes_whole_where},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which part of a single-table scan to read: split `index` of `count` (one Flight endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SplitPart {
    pub(crate) index: u32,
    pub(crate) count: u32,
}

/// How a statement runs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StatementOptions {
    /// Read one split of the statement's one table only.
    pub(crate) part: Option<SplitPart>,
    /// Feed no rows: check the statement and yield its result schema.
    pub(crate) dry_run: bool,
}

/// A started statement: its result schema and batches, and the split count of its first
/// table's scan.
pub(crate) struct StartedStatement {
    pub(crate) schema: SchemaRef,
    pub(crate) batches: Batches,
    pub(crate) num_splits: u32,
}

/// Starts `statement` with `params` bound (a NULL is an unset literal; a dry run binds NULL
/// to every parameter).
pub(crate) async fn start_statement(
    tracked: &Tracked,
    statement: &Statement,
    params: &[proto::Literal],
    options: StatementOptions,
) -> Result<StartedStatement, Error> {
    if !options.dry_run && params.len() != statement.parameters() {
        return Err(Error::InvalidArgument(format!(
            "the statement takes {} parameter(s) but {} were bound",
            statement.parameters(),
            params.len()
        )));
    }
    if let Some(part) = options.part
        && (statement.tables.len() != 1 || part.index >= part.count)
    {
        return Err(Error::InvalidArgument(
            "this ticket reads a split of a statement that is not a single-table scan; \
             call GetFlightInfo again"
                .to_owned(),
        ));
    }
    if let Some(started) = start_plain_scan(tracked, statement, options).await? {
        return Ok(started);
    }
    let state = &tracked.state;
    let reads = if statement.reads_each_table_once() {
        InputReads::Once
    } else {
        InputReads::Any
    };
    let hints = split_hints(options);
    let mut described = Vec::with_capacity(statement.tables.len());
    for table in &statement.tables {
        let table_ref = table_ref(table);
        let (resolved, meta) = read::describe(tracked, Some(&table_ref), hints.as_ref()).await?;
        described.push((table_ref, resolved, meta));
    }
    // A WHERE the scan applies exactly is dropped from the engine's SQL, and with it the
    // columns only it reads. Not one with parameters: the engine binds them by position.
    let dropped: Vec<bool> = statement
        .tables
        .iter()
        .zip(&described)
        .map(|(table, (_, _, meta))| {
            !table.conjuncts_empty()
                && statement.is_whole_from(table)
                && pushes_whole_where(table, &meta.schema, &[])
        })
        .collect();
    let effective = if dropped.contains(&true) {
        statement.without_where(&dropped)?
    } else {
        statement.clone()
    };
    let mut inputs = Vec::with_capacity(statement.tables.len());
    let mut names = Vec::with_capacity(statement.tables.len());
    let mut num_splits = 1;
    let uses = statement.tables.iter().zip(&effective.tables);
    for (i, ((table, used), (table_ref, resolved, meta))) in uses.zip(described).enumerate() {
        let columns = used.columns(&meta.schema);
        let filter = pushed_filter(table, &meta.schema, params);
        if let Some(filter) = &filter {
            tracing::debug!(table = %table.name, ?filter, "statement filter pushed down");
        }
        let args = ReadArgs {
            table: Some(&table_ref),
            columns: &columns,
            filter: filter.as_ref(),
            hints: hints.as_ref(),
            // DuckDB runs the statement over the rows: sized like an analytic's read.
            kind: QueryKind::Aggregate,
            ..Default::default()
        };
        let mut plan = plan_part(tracked, resolved, meta, &args, options).await?;
        let schema = match state.config.backend.kind {
            BackendKind::Local => read_strings_as_dictionaries(&mut plan),
            BackendKind::Vast => Arc::clone(&plan.output_schema),
        };
        if i == 0 {
            num_splits = plan.num_splits;
        }
        let batches = if options.dry_run {
            futures::stream::empty().boxed()
        } else {
            let splits = match options.part {
                Some(part) => vec![part.index],
                None => (0..plan.num_splits).collect(),
            };
            state
                .executor
                .execute_splits(
                    plan,
                    splits,
                    tracked.cancel_token(),
                    Arc::clone(&tracked.query.scan),
                )
                .map(|item| item.map_err(|e| Box::new(e) as BoxError))
                .boxed()
        };
        let name = format!("{INTERNAL_PREFIX}_table_{i}");
        names.push(name.clone());
        inputs.push(NamedInput {
            name,
            input: EngineInput { schema, batches },
            reads,
        });
    }
    let sql = effective.over_inputs(&state.sql, &names)?;
    let params = if options.dry_run {
        vec![duckdb::types::Value::Null; statement.parameters()]
    } else {
        params.iter().map(engine_value).collect()
    };
    let query = EngineQuery {
        sql,
        params,
        max_rows: Some(state.config.engine.max_result_rows),
        input_reads: reads,
    };
    let output = state
        .engine
        .run_many(inputs, query, tracked.cancel_token())
        .await
        .map_err(|e| RunError::from_engine(&tracked.cancelled_reporter(), e).into_error())?;
    let schema = output.schema();
    let reason = tracked.cancelled_reporter();
    let batches = output
        .map(move |item| item.map_err(|e| engine_error(&reason, e)))
        .boxed();
    Ok(StartedStatement {
        schema,
        batches,
        num_splits,
    })
}

/// Asks the local backend for the string columns the filter does not read as dictionaries
/// (each Parquet page's dictionary and keys, instead of every string rebuilt) and returns the
/// scan's schema with them so: DuckDB groups and joins dictionary vectors several times faster
/// than plain strings (`benches/RESULTS.md`, Flight SQL). The engine casts a column that comes
/// otherwise, so this only ever costs speed.
fn read_strings_as_dictionaries(plan: &mut ScanPlan) -> SchemaRef {
    let filtered: Vec<String> = plan
        .request
        .predicate
        .as_ref()
        .map(|p| p.columns().into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    let mut fields = Vec::with_capacity(plan.output_schema.fields().len());
    for field in plan.output_schema.fields() {
        let index = plan.meta.schema.index_of(field.name()).ok();
        match index {
            Some(index)
                if field.data_type() == &DataType::Utf8 && !filtered.contains(field.name()) =>
            {
                plan.request.dictionary_columns.push(index);
                let dictionary =
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                fields.push(Arc::new(field.as_ref().clone().with_data_type(dictionary)));
            }
            _ => fields.push(Arc::clone(field)),
        }
    }
    Arc::new(Schema::new(fields))
}

/// The statement as a bare scan when it is one (see the module doc), else `None`.
async fn start_plain_scan(
    tracked: &Tracked,
    statement: &Statement,
    options: StatementOptions,
) -> Result<Option<StartedStatement>, Error> {
    let [table] = statement.tables.as_slice() else {
        return Ok(None);
    };
    if statement.parameters() > 0 || !statement.is_single_table_scan() {
        return Ok(None);
    }
    let table_ref = table_ref(table);
    let hints = split_hints(options);
    let (resolved, meta) = read::describe(tracked, Some(&table_ref), hints.as_ref()).await?;
    let Some(outputs) = statement.plain_projection(&meta.schema) else {
        return Ok(None);
    };
    if !pushes_whole_where(table, &meta.schema, &[]) {
        return Ok(None);
    }
    // Each column read once, in table order; the output picks and names them.
    let mut columns: Vec<String> = Vec::new();
    for field in meta.schema.fields() {
        if outputs.iter().any(|(column, _)| column == field.name()) {
            columns.push(field.name().clone());
        }
    }
    let filter = pushed_filter(table, &meta.schema, &[]);
    let args = ReadArgs {
        table: Some(&table_ref),
        columns: &columns,
        filter: filter.as_ref(),
        hints: hints.as_ref(),
        ..Default::default()
    };
    let plan = plan_part(tracked, resolved, meta, &args, options).await?;
    let scanned = Arc::clone(&plan.output_schema);
    let mut picks = Vec::with_capacity(outputs.len());
    let mut fields = Vec::with_capacity(outputs.len());
    for (column, name) in &outputs {
        let index = scanned
            .index_of(column)
            .map_err(|e| Error::Internal(format!("the scan lost column `{column}`: {e}")))?;
        picks.push(index);
        let field = scanned.field(index);
        fields.push(Field::new(
            name,
            field.data_type().clone(),
            field.is_nullable(),
        ));
    }
    let schema = Arc::new(Schema::new(fields));
    let num_splits = plan.num_splits;
    let batches = if options.dry_run {
        futures::stream::empty().boxed()
    } else {
        let splits = match options.part {
            Some(part) => vec![part.index],
            None => (0..plan.num_splits).collect(),
        };
        let out = Arc::clone(&schema);
        let max = tracked.state.config.engine.max_result_rows;
        let batches = scan_splits(tracked, plan, splits)
            .map(move |item| {
                let batch = item?;
                let columns = picks.iter().map(|&i| Arc::clone(batch.column(i))).collect();
                RecordBatch::try_new_with_options(
                    Arc::clone(&out),
                    columns,
                    &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
                )
                .map_err(|e| Error::Internal(format!("naming the result columns: {e}")))
            })
            .boxed();
        limit_rows(batches, max)
    };
    Ok(Some(StartedStatement {
        schema,
        batches,
        num_splits,
    }))
}

/// A statement's table as a request's table.
fn table_ref(table: &TableUse) -> proto::TableRef {
    proto::TableRef {
        bucket: table.name.bucket.clone(),
        schema: table.name.schema.clone(),
        table: table.name.table.clone(),
    }
}

/// The split count a ticket for one split was cut for, as planner hints.
fn split_hints(options: StatementOptions) -> Option<proto::QueryHints> {
    options.part.map(|part| proto::QueryHints {
        num_splits: part.count,
        ..Default::default()
    })
}

/// Plans a table's read; a ticket for one split must find the split count it was cut for.
async fn plan_part(
    tracked: &Tracked,
    table: TableRef,
    meta: TableMeta,
    args: &ReadArgs<'_>,
    options: StatementOptions,
) -> Result<ScanPlan, Error> {
    let plan = read::plan_read(tracked, table, meta, args).await?;
    match options.part {
        Some(part) if plan.num_splits != part.count => Err(Error::InvalidArgument(format!(
            "the table changed since GetFlightInfo ({} splits now, {} then); \
             call GetFlightInfo again",
            plan.num_splits, part.count
        ))),
        _ => Ok(plan),
    }
}

/// A bound parameter as DuckDB's value.
fn engine_value(literal: &proto::Literal) -> duckdb::types::Value {
    use duckdb::types::{TimeUnit, Value};
    use proto::literal::Value as Lit;
    match &literal.value {
        None => Value::Null,
        Some(Lit::BoolValue(v)) => Value::Boolean(*v),
        Some(Lit::IntValue(v)) => Value::BigInt(*v),
        Some(Lit::UintValue(v)) => Value::UBigInt(*v),
        Some(Lit::FloatValue(v)) => Value::Double(*v),
        Some(Lit::StringValue(v) | Lit::DecimalValue(v)) => Value::Text(v.clone()),
        Some(Lit::BinaryValue(v)) => Value::Blob(v.clone()),
        Some(Lit::DateValue(v)) => Value::Date32(*v),
        Some(Lit::TimestampValue(ts)) => Value::Timestamp(
            TimeUnit::Microsecond,
            ts.seconds
                .saturating_mul(1_000_000)
                .saturating_add(i64::from(ts.nanos / 1000)),
        ),
    }
}
