//! Test helpers: run a plan on a real engine over in-memory batches.

use std::{collections::BTreeMap, sync::Arc};

use arrow::{
    array::{
        ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray,
        TimestampMicrosecondArray,
    },
    datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit},
};
use prost::Message;
use tokio_util::sync::CancellationToken;

use super::{
    Analytic, AnalyticPlan, AnalyticsError,
    group_codes::{CodeWidth, GroupCodes},
    narrowing::NarrowedGroups,
};
use crate::{
    config::EngineConfig,
    engine::{EngineInput, EnginePool},
};

/// A one-worker engine for tests with `threads` DuckDB threads.
fn pool_with_threads(threads: usize) -> EnginePool {
    EnginePool::new(&EngineConfig {
        workers: 1,
        threads_per_worker: threads,
        memory_limit: "2GB".to_owned(),
        max_queue: 8,
        max_result_rows: 1_000_000,
        ..Default::default()
    })
    .expect("engine")
}

/// A one-worker engine for tests.
pub(crate) fn pool() -> EnginePool {
    pool_with_threads(2)
}

/// Plans `req` on `batch`'s schema, loads only the planned columns, runs and decodes; the
/// response is what a client decodes from the wire.
pub(crate) fn run<A>(req: &A, batch: &RecordBatch) -> Result<A::Response, AnalyticsError>
where
    A: Analytic,
    A::Response: std::fmt::Debug + Message + Default,
{
    run_many(req, batch.schema(), std::slice::from_ref(batch))
}

/// Like [`run`] over several batches. When the plan allows group codes, the request is also
/// run with its groups coded — codes numbered against the string order, so the result's
/// groups must be put back in order — and both answers must be the same (both on one DuckDB
/// thread, so that sums add up in the same order). Likewise with its integer group columns
/// narrowed to 8 bits where the batches' values fit ([`NarrowedGroups`]).
pub(crate) fn run_many<A>(
    req: &A,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<A::Response, AnalyticsError>
where
    A: Analytic,
    A::Response: std::fmt::Debug + Message + Default,
{
    let plan = req.plan(&schema)?;
    let (projected_schema, projected) = planned_columns(&plan, &schema, batches);
    let answer = as_client(req, &execute(&pool(), &plan, &projected_schema, &projected));
    // 8-bit codes where the service would give them and they hold every value.
    let width = |column: &str| {
        let fits = distinct_strings(&projected, column).len() <= 256;
        if plan.eight_bit_groups && fits {
            CodeWidth::U8
        } else {
            CodeWidth::U32
        }
    };
    let codes = GroupCodes::new(&projected_schema, &plan.codable_groups, width)
        .expect("codable groups are string columns");
    if let Some(codes) = codes {
        let codes = codes.numbered_against_string_order(&projected);
        let coded: Vec<RecordBatch> = projected
            .iter()
            .map(|b| codes.encode(b.clone()).expect("coding"))
            .collect();
        let serial = pool_with_threads(1);
        let mut coded_plan = plan.clone();
        let coded_sql = coded_plan.use_coded_sql();
        let result = execute(&serial, &coded_plan, &codes.schema(), &coded);
        let rows: usize = result.iter().map(RecordBatch::num_rows).sum();
        assert!(
            coded_sql.is_none_or(|c| rows <= c.max_rows),
            "the coded result was cut short"
        );
        let with_codes = as_client(req, &codes.decode(result).expect("decoding codes"));
        let without = as_client(req, &execute(&serial, &plan, &projected_schema, &projected));
        // Compared as text: NaN (a group with one row) is not equal to itself.
        assert_eq!(
            format!("{with_codes:?}"),
            format!("{without:?}"),
            "group codes changed the answer"
        );
    }
    let narrowed = NarrowedGroups::new(
        &projected_schema,
        &plan.narrowable_groups,
        &int_ranges(&projected),
    )
    .filter(|_| plan.eight_bit_groups);
    if let Some(narrowed) = narrowed {
        let narrow_batches: Vec<RecordBatch> = projected
            .iter()
            .map(|b| narrowed.narrow(b.clone()).expect("values fit"))
            .collect();
        let serial = pool_with_threads(1);
        let narrow = as_client(
            req,
            &execute(&serial, &plan, &narrowed.schema(), &narrow_batches),
        );
        let plain = as_client(req, &execute(&serial, &plan, &projected_schema, &projected));
        assert_eq!(
            format!("{narrow:?}"),
            format!("{plain:?}"),
            "narrowing group columns changed the answer"
        );
    }
    answer
}

/// The distinct values of `column` in `batches` as text, in order (NULL aside).
pub(crate) fn distinct_strings(
    batches: &[RecordBatch],
    column: &str,
) -> std::collections::BTreeSet<String> {
    let mut values = std::collections::BTreeSet::new();
    for batch in batches {
        let Some(array) = batch.column_by_name(column) else {
            continue;
        };
        let strings = arrow::compute::cast(array, &DataType::Utf8).expect("strings");
        values.extend(
            strings
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_owned),
        );
    }
    values
}

/// The range of every integer column's values in `batches`, as Parquet statistics give it
/// (a column without values has none).
pub(crate) fn int_ranges(batches: &[RecordBatch]) -> BTreeMap<String, (i64, i64)> {
    let mut ranges = BTreeMap::new();
    let Some(first) = batches.first() else {
        return ranges;
    };
    for (index, field) in first.schema().fields().iter().enumerate() {
        if !field.data_type().is_integer() {
            continue;
        }
        for batch in batches {
            let values = arrow::compute::cast(batch.column(index), &DataType::Int64)
                .expect("integers fit i64 in tests");
            let values = values.as_primitive::<Int64Type>();
            if let (Some(lo), Some(hi)) = (arrow::compute::min(values), arrow::compute::max(values))
            {
                let range = ranges.entry(field.name().clone()).or_insert((lo, hi));
                *range = (range.0.min(lo), range.1.max(hi));
            }
        }
    }
    ranges
}

/// `req`'s response to `batches`, encoded and decoded again as a client would.
fn as_client<A>(req: &A, batches: &[RecordBatch]) -> Result<A::Response, AnalyticsError>
where
    A: Analytic,
    A::Response: Message + Default,
{
    let response = req.decode(batches)?;
    let wire = response.encode_to_vec();
    Ok(A::Response::decode(wire.as_slice()).expect("a response decodes"))
}

/// The raw result of `req`'s query over `batch` (what Flight streams), before decoding.
pub(crate) fn raw_result<A: Analytic>(req: &A, batch: &RecordBatch) -> Vec<RecordBatch> {
    let plan = req.plan(&batch.schema()).expect("plan");
    let (schema, projected) = planned_columns(&plan, &batch.schema(), std::slice::from_ref(batch));
    execute(&pool(), &plan, &schema, &projected)
}

/// The result of `plan`'s query over `batches` (any schema holding its columns).
pub(crate) fn run_plan(plan: &AnalyticPlan, batches: &[RecordBatch]) -> Vec<RecordBatch> {
    let Some(first) = batches.first() else {
        return Vec::new();
    };
    let (schema, projected) = planned_columns(plan, &first.schema(), batches);
    execute(&pool(), plan, &schema, &projected)
}

/// `batches` cut down to the columns `plan` scans, as the scan would deliver them.
fn planned_columns(
    plan: &AnalyticPlan,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> (SchemaRef, Vec<RecordBatch>) {
    let indices: Vec<usize> = plan
        .columns
        .iter()
        .map(|name| schema.index_of(name).expect("planned column exists"))
        .collect();
    let projected = batches
        .iter()
        .map(|b| b.project(&indices).expect("projection"))
        .collect();
    (
        Arc::new(schema.project(&indices).expect("projection")),
        projected,
    )
}

/// Runs `plan`'s query over `batches`, panicking with the SQL on an engine error.
fn execute(
    pool: &EnginePool,
    plan: &AnalyticPlan,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Vec<RecordBatch> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        pool.run(
            EngineInput::from_batches(Arc::clone(schema), batches.to_vec()),
            plan.query.clone(),
            CancellationToken::new(),
        )
        .await
        .unwrap_or_else(|err| panic!("engine failed: {err}\nSQL: {}", plan.query.sql))
        .collect()
        .await
        .unwrap_or_else(|err| panic!("engine failed: {err}\nSQL: {}", plan.query.sql))
    })
}

/// Column helpers for building test batches.
pub(crate) fn ts(micros: &[Option<i64>]) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(micros.to_vec()))
}

/// Doubles.
pub(crate) fn f64s(values: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

/// Integers.
pub(crate) fn i64s(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

/// Strings.
pub(crate) fn strs(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// A batch from named columns.
pub(crate) fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("batch")
}

/// An empty batch with a ts/g/v schema.
pub(crate) fn empty_tgv() -> RecordBatch {
    RecordBatch::new_empty(Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new("g", DataType::Utf8, true),
        Field::new("v", DataType::Float64, true),
    ])))
}

/// Asserts two doubles agree to a relative tolerance.
#[track_caller]
pub(crate) fn close(actual: f64, expected: f64) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance || (actual.is_nan() && expected.is_nan()),
        "{actual} != {expected}"
    );
}

/// Group values as plain strings (NULL shown as `∅`).
pub(crate) fn group_text(group: Option<&crate::proto::Group>) -> String {
    let Some(group) = group else {
        return "<none>".to_owned();
    };
    group
        .values
        .iter()
        .zip(&group.is_null)
        .map(|(v, null)| if *null { "∅".to_owned() } else { v.clone() })
        .collect::<Vec<_>>()
        .join("|")
}
