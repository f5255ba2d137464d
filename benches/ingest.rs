//! How batches reach DuckDB: the pool's Arrow stream (streamed into the query, or collected
//! in a materialized CTE) against duckdb-rs' two table-filling paths, the `Appender` and the
//! `arrow()` table function, on the demo `sensors` shape held in memory.
//!
//! `cargo bench --bench ingest`; `VG_BENCH_ROWS` sets the rows (default 5M). Each path runs
//! twice, one worker with one thread.

use std::{sync::Arc, time::Instant};

use arrow::{
    array::{
        ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    },
    datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit},
};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use tokio_util::sync::CancellationToken;
use vastgate::{
    config::EngineConfig,
    engine::{EngineInput, EnginePool, EngineQuery, InputReads},
};

const BATCH_ROWS: usize = 65_536;

/// The same columns as the `sensors` batches, as a DuckDB table.
const SENSORS_DDL: &str = "CREATE TABLE bench (ts TIMESTAMP, sensor_id INTEGER, region VARCHAR, \
     temperature DOUBLE, humidity DOUBLE, pressure DOUBLE, status VARCHAR)";

fn main() {
    let rows: usize = std::env::var("VG_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let (schema, batches) = sensor_batches(rows, 42);
    let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
    println!("rows={rows} arrow_bytes={bytes}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for _ in 0..2 {
        for (label, reads) in [
            ("pool, Arrow stream into the query", InputReads::Once),
            (
                "pool, Arrow stream into a materialized CTE",
                InputReads::Any,
            ),
        ] {
            let seconds = runtime.block_on(through_pool(&schema, &batches, reads));
            report(label, seconds, rows, bytes);
        }
        report("Appender", appender(&batches), rows, bytes);
        report(
            "arrow() table function",
            table_function(&batches),
            rows,
            bytes,
        );
    }
}

fn report(label: &str, seconds: f64, rows: usize, bytes: usize) {
    println!(
        "{label}: {seconds:.3}s  {:.1} Mrows/s  {:.0} MB/s",
        rows as f64 / seconds / 1e6,
        bytes as f64 / seconds / 1e6
    );
}

/// Seconds for the pool to run `count(*)` over the batches (channel, Arrow stream, query).
async fn through_pool(schema: &SchemaRef, batches: &[RecordBatch], reads: InputReads) -> f64 {
    let config = EngineConfig {
        workers: 1,
        threads_per_worker: 1,
        memory_limit: "4GB".to_owned(),
        ..Default::default()
    };
    let pool = EnginePool::new(&config).expect("pool");
    let query = EngineQuery {
        input_reads: reads,
        ..EngineQuery::new("SELECT count(*) FROM t")
    };
    let input = EngineInput::from_batches(Arc::clone(schema), batches.to_vec());
    let started = Instant::now();
    let out = pool
        .run(input, query, CancellationToken::new())
        .await
        .expect("run")
        .collect()
        .await
        .expect("collect");
    let seconds = started.elapsed().as_secs_f64();
    let count = out[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .expect("count(*) is BIGINT")
        .value(0);
    assert_eq!(count as usize, rows_of(batches));
    seconds
}

/// Seconds to fill a table with duckdb-rs' `Appender::append_record_batch`.
fn appender(batches: &[RecordBatch]) -> f64 {
    let conn = connection();
    let started = Instant::now();
    let mut appender = conn.appender("bench").expect("appender");
    for batch in batches {
        appender.append_record_batch(batch.clone()).expect("append");
    }
    appender.flush().expect("flush");
    drop(appender);
    let seconds = started.elapsed().as_secs_f64();
    check_count(&conn, batches);
    seconds
}

/// Seconds to fill a table with `INSERT … SELECT * FROM arrow(?)`, one batch at a time.
fn table_function(batches: &[RecordBatch]) -> f64 {
    let conn = connection();
    conn.register_table_function::<duckdb::vtab::arrow::ArrowVTab>("arrow")
        .expect("register arrow()");
    let started = Instant::now();
    for batch in batches {
        let registration = duckdb::vtab::arrow::ArrowBatchRegistration::new(batch.clone());
        conn.execute("INSERT INTO bench SELECT * FROM arrow(?)", [&registration])
            .expect("insert");
    }
    let seconds = started.elapsed().as_secs_f64();
    check_count(&conn, batches);
    seconds
}

fn connection() -> duckdb::Connection {
    let config = duckdb::Config::default().threads(1).expect("threads");
    let conn = duckdb::Connection::open_in_memory_with_flags(config).expect("database");
    conn.execute_batch(SENSORS_DDL).expect("create");
    conn
}

fn check_count(conn: &duckdb::Connection, batches: &[RecordBatch]) {
    let count: i64 = conn
        .query_row("SELECT count(*) FROM bench", [], |row| row.get(0))
        .expect("count");
    assert_eq!(count as usize, rows_of(batches));
}

fn rows_of(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// The demo `sensors` shape: ts, sensor_id, region, 3 doubles with ~5% NULLs, status.
fn sensor_batches(rows: usize, seed: u64) -> (SchemaRef, Vec<RecordBatch>) {
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
