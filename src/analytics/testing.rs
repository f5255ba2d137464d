//! Test helpers: run a plan on a real engine over in-memory batches.

use std::sync::Arc;

use arrow::{
    array::{
        ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    },
    datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit},
};
use tokio_util::sync::CancellationToken;

use super::{Analytic, AnalyticsError};
use crate::{
    config::EngineConfig,
    engine::{EngineInput, EnginePool},
};

/// A one-worker engine for tests.
pub(crate) fn pool() -> EnginePool {
    EnginePool::new(&EngineConfig {
        workers: 1,
        threads_per_worker: 2,
        memory_limit: "2GB".to_owned(),
        max_queue: 8,
        max_result_rows: 1_000_000,
        ..Default::default()
    })
    .expect("engine")
}

/// Plans `req` on `batch`'s schema, loads only the planned columns, runs and decodes.
pub(crate) fn run<A: Analytic>(
    req: &A,
    batch: &RecordBatch,
) -> Result<A::Response, AnalyticsError> {
    run_many(req, batch.schema(), std::slice::from_ref(batch))
}

/// Like [`run`] over several batches.
pub(crate) fn run_many<A: Analytic>(
    req: &A,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<A::Response, AnalyticsError> {
    let plan = req.plan(&schema)?;
    let indices: Vec<usize> = plan
        .columns
        .iter()
        .map(|name| schema.index_of(name).expect("planned column exists"))
        .collect();
    let projected: Vec<RecordBatch> = batches
        .iter()
        .map(|b| b.project(&indices).expect("projection"))
        .collect();
    let projected_schema = Arc::new(schema.project(&indices).expect("projection"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let output = runtime.block_on(async {
        pool()
            .run(
                EngineInput::from_batches(projected_schema, projected),
                plan.query.clone(),
                CancellationToken::new(),
            )
            .await
            .unwrap_or_else(|err| panic!("engine failed: {err}\nSQL: {}", plan.query.sql))
            .collect()
            .await
            .unwrap_or_else(|err| panic!("engine failed: {err}\nSQL: {}", plan.query.sql))
    });
    req.decode(&output)
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
