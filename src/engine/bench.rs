//! Measures the three loading paths (run with `--ignored`; see `benches/RESULTS.md`): the
//! Arrow stream read by a query through the input CTE (with a `count(*)` over it), and the
//! Appender and `arrow()` table function each filling a table.

use std::{sync::Arc, time::Instant};

use arrow::{
    array::{
        ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    },
    datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit},
};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use tokio_util::sync::CancellationToken;

use super::{
    EngineError, EngineInput, EnginePool, EngineQuery, InputReads, arrow_stream,
    ingest::{self, LoadPath, TablePlan},
    sandbox,
    tests::test_config,
};

const BATCH_ROWS: usize = 65_536;

/// The demo `sensors` shape: ts, sensor_id, region, 3 doubles with ~5% NULLs, status.
pub(crate) fn sensor_batches(rows: usize, seed: u64) -> (SchemaRef, Vec<RecordBatch>) {
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new("sensor_id", DataType::Int32, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("temperature", DataType::Float64, true),
        Field::new("humidity", DataType::Float64, true),
        Field::new("pressure", DataType::Float64, true),
        Field::new("status", DataType::Utf8, true),
    ]));
    let regions = ["north", "south", "east", "west", "central"];
    let statuses = ["ok", "warning", "error"];
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = BATCH_ROWS.min(rows - start);
        let mut double = |base: f64, spread: f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter((0..n).map(|_| {
                (rng.random::<f64>() >= 0.05).then(|| base + spread * (rng.random::<f64>() - 0.5))
            })))
        };
        let temperature = double(20.0, 30.0);
        let humidity = double(50.0, 80.0);
        let pressure = double(1013.0, 40.0);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (start..start + n).map(|i| 1_700_000_000_000_000 + i as i64 * 1_000_000),
            )),
            Arc::new(Int32Array::from_iter_values(
                (start..start + n).map(|i| (i % 1000) as i32),
            )),
            Arc::new(StringArray::from_iter_values(
                (start..start + n).map(|i| regions[i % regions.len()]),
            )),
            temperature,
            humidity,
            pressure,
            Arc::new(StringArray::from_iter_values(
                (start..start + n).map(|i| statuses[(i / 7) % statuses.len()]),
            )),
        ];
        batches.push(RecordBatch::try_new(Arc::clone(&schema), columns).expect("valid batch"));
        start += n;
    }
    (schema, batches)
}

/// Seconds to load `batches` by `path`; `reads` decides the input CTE's shape for
/// [`LoadPath::ArrowStream`] (the other paths fill a table).
fn load_once(
    path: LoadPath,
    reads: InputReads,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> f64 {
    let database = sandbox::open_database(&test_config(1, 1)).expect("database");
    let conn = database.connect().expect("connection");
    let plan = TablePlan::new(schema).expect("plan");
    let started = Instant::now();
    match path {
        LoadPath::ArrowStream => {
            // The pool's path: the query reads the stream through the input CTE `t`.
            let mut loader = database.connect_raw().expect("raw connection");
            let (tx, rx) = tokio::sync::mpsc::channel(batches.len().max(1));
            for batch in batches {
                tx.try_send(Ok(batch.clone()))
                    .expect("channel sized for every batch");
            }
            drop(tx);
            let count: i64 = arrow_stream::query_over(
                &mut loader,
                "bench_stream",
                &plan,
                rx,
                &CancellationToken::new(),
                // Every column is converted either way (the stream's scan outputs all of
                // them); `Any` also copies them into the materialized CTE.
                &EngineQuery {
                    input_reads: reads,
                    ..EngineQuery::new("SELECT count(*) FROM t")
                },
                |sql| {
                    conn.query_row(sql, [], |row| row.get(0))
                        .map_err(|err| EngineError::internal("count", err))
                },
            )
            .expect("load");
            let seconds = started.elapsed().as_secs_f64();
            assert_eq!(count as usize, rows_of(batches));
            return seconds;
        }
        LoadPath::Appender | LoadPath::ArrowTableFunction => {
            if path == LoadPath::ArrowTableFunction {
                conn.register_table_function::<duckdb::vtab::arrow::ArrowVTab>("arrow")
                    .expect("register arrow()");
            }
            conn.execute_batch(&plan.create_sql("bench").expect("ddl"))
                .expect("create");
            let mut appender =
                (path == LoadPath::Appender).then(|| conn.appender("bench").expect("appender"));
            for batch in batches {
                ingest::append(&conn, appender.as_mut(), "bench", batch.clone()).expect("append");
            }
            if let Some(mut appender) = appender {
                appender.flush().expect("flush");
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let count: i64 = conn
        .query_row("SELECT count(*) FROM bench", [], |row| row.get(0))
        .expect("count");
    assert_eq!(count as usize, rows_of(batches));
    seconds
}

fn rows_of(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

#[test]
#[ignore = "benchmark: cargo test --release --lib -- --ignored --nocapture engine::bench"]
fn ingest_paths() {
    let rows: usize = std::env::var("VG_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let (schema, batches) = sensor_batches(rows, 42);
    let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
    println!("rows={rows} arrow_bytes={bytes}");
    let cases = [
        (LoadPath::ArrowStream, InputReads::Once),
        (LoadPath::ArrowStream, InputReads::Any),
        (LoadPath::Appender, InputReads::Any),
        (LoadPath::ArrowTableFunction, InputReads::Any),
    ];
    for (path, reads) in cases.into_iter().chain(cases) {
        let seconds = load_once(path, reads, &schema, &batches);
        let shape = match (path, reads) {
            (LoadPath::ArrowStream, InputReads::Once) => " (streamed into the query)",
            (LoadPath::ArrowStream, InputReads::Any) => " (materialized CTE)",
            _ => "",
        };
        println!(
            "{path:?}{shape}: {seconds:.3}s  {:.1} Mrows/s  {:.0} MB/s",
            rows as f64 / seconds / 1e6,
            bytes as f64 / seconds / 1e6
        );
    }
    // End to end through the pool: channel, pump, ingest, view, a trivial query.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let pool = EnginePool::new(&test_config(1, 1)).expect("pool");
        let started = Instant::now();
        let out = pool
            .run(
                EngineInput::from_batches(Arc::clone(&schema), batches.clone()),
                EngineQuery::new("SELECT count(*) FROM t").reading_input_once(),
                CancellationToken::new(),
            )
            .await
            .expect("run")
            .collect()
            .await
            .expect("collect");
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(out[0].num_rows(), 1);
        println!(
            "EnginePool::run (Arrow stream) + count(*): {seconds:.3}s  {:.1} Mrows/s",
            rows as f64 / seconds / 1e6
        );
    });
}
