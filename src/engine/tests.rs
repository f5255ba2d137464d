use std::{sync::Arc, time::Duration};

use arrow::{
    array::{
        ArrayRef, DictionaryArray, Float64Array, Int32Array, Int64Array, LargeStringArray,
        StringArray, StringViewArray, TimestampMicrosecondArray, TimestampMillisecondArray,
        TimestampNanosecondArray,
    },
    datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit},
    record_batch::RecordBatch,
    util::pretty::pretty_format_batches,
};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::*;

fn test_config(workers: usize, max_queue: usize) -> EngineConfig {
    EngineConfig {
        workers,
        threads_per_worker: 1,
        memory_limit: "1GB".to_owned(),
        max_queue,
        max_result_rows: 1_000_000,
        ..Default::default()
    }
}

fn int_input(values: &[i64]) -> EngineInput {
    int_input_with_nulls(&values.iter().copied().map(Some).collect::<Vec<_>>())
}

fn int_input_with_nulls(values: &[Option<i64>]) -> EngineInput {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(Int64Array::from(values.to_vec()))],
    )
    .unwrap();
    EngineInput::from_batches(schema, vec![batch])
}

async fn run_sql(
    pool: &EnginePool,
    input: EngineInput,
    sql: &str,
) -> Result<Vec<RecordBatch>, EngineError> {
    run_query(pool, input, EngineQuery::new(sql)).await
}

async fn run_query(
    pool: &EnginePool,
    input: EngineInput,
    query: EngineQuery,
) -> Result<Vec<RecordBatch>, EngineError> {
    pool.run(input, query, CancellationToken::new())
        .await?
        .collect()
        .await
}

fn table_text(batches: &[RecordBatch]) -> String {
    pretty_format_batches(batches).unwrap().to_string()
}

const LONG_QUERY: &str = "SELECT sum(a.range * b.range) FROM range(2000000) a, range(2000000) b";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_and_queries_with_params() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let query = EngineQuery {
        sql: "SELECT count(*) AS n, sum(x) AS s FROM t WHERE x > ?".to_owned(),
        params: vec![duckdb::types::Value::BigInt(1)],
        max_rows: None,
        input_reads: InputReads::Once,
    };
    let out = pool
        .run(int_input(&[1, 2, 3, 4]), query, CancellationToken::new())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(
        table_text(&out),
        "+---+---+\n| n | s |\n+---+---+\n| 3 | 9 |\n+---+---+"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normalizes_arrow_types() {
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new(
            "tz",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("+02:00".into())),
            true,
        ),
        Field::new("ms", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        Field::new(
            "d",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
        Field::new("l", DataType::LargeUtf8, true),
        Field::new("v", DataType::Utf8View, true),
        Field::new("f", DataType::Float64, true),
        Field::new("i", DataType::Int32, true),
    ]));
    let dict: DictionaryArray<Int32Type> = vec![Some("a"), None, Some("a")].into_iter().collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampNanosecondArray::from(vec![Some(1_500_000_000), None, Some(0)])
                .with_timezone("+02:00"),
        ),
        Arc::new(TimestampMillisecondArray::from(vec![
            Some(1_000),
            Some(2_500),
            None,
        ])),
        Arc::new(dict),
        Arc::new(LargeStringArray::from(vec![Some("x"), Some("y"), None])),
        Arc::new(StringViewArray::from(vec![
            Some("long string over twelve bytes"),
            None,
            Some("s"),
        ])),
        Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN)])),
        Arc::new(Int32Array::from(vec![Some(7), Some(-1), None])),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let out = run_sql(
        &pool,
        EngineInput::from_batches(schema, vec![batch]),
        "SELECT epoch_us(tz) AS tz, epoch_ms(ms) AS ms, d, l, v, f, i FROM t ORDER BY i NULLS LAST",
    )
    .await
    .unwrap();
    let expected = [
        "+---------+------+---+---+-------------------------------+-----+----+",
        "| tz      | ms   | d | l | v                             | f   | i  |",
        "+---------+------+---+---+-------------------------------+-----+----+",
        "|         | 2500 |   | y |                               |     | -1 |",
        "| 1500000 | 1000 | a | x | long string over twelve bytes | 1.5 | 7  |",
        "| 0       |      | a |   | s                             | NaN |    |",
        "+---------+------+---+---+-------------------------------+-----+----+",
    ];
    assert_eq!(table_text(&out), expected.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_refuses_files_extensions_and_settings() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    for sql in [
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "COPY (SELECT 1) TO '/tmp/vastgate-sandbox-test.csv'",
        "INSTALL json",
        "LOAD json",
        "SET threads = 8",
        "SET enable_external_access = true",
        "ATTACH '/tmp/vastgate-sandbox-test.db' AS other",
    ] {
        let result = run_sql(&pool, int_input(&[1]), sql).await;
        assert!(
            matches!(result, Err(EngineError::Sql(_))),
            "{sql} must be refused, got {result:?}"
        );
    }
    assert!(!std::path::Path::new("/tmp/vastgate-sandbox-test.csv").exists());
    // The worker is still usable.
    let out = run_sql(&pool, int_input(&[5]), "SELECT x FROM t")
        .await
        .unwrap();
    assert_eq!(out[0].num_rows(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_errors_are_reported_and_worker_survives() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let err = run_sql(&pool, int_input(&[1]), "SELECT nope FROM t")
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Sql(ref m) if m.contains("nope")),
        "{err}"
    );
    let out = run_sql(&pool, int_input(&[1, 2]), "SELECT count(*) FROM t")
        .await
        .unwrap();
    assert_eq!(out[0].num_rows(), 1);
}

/// For both input shapes (streamed into the query, materialized).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_errors_fail_the_request() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    for reads in [InputReads::Once, InputReads::Any] {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let good = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(vec![1, 2]))],
        )
        .unwrap();
        // One good batch first: the error arrives while DuckDB is already scanning.
        let batches = futures::stream::iter(vec![Ok(good), Err("split 3 failed".into())]).boxed();
        let query = EngineQuery {
            input_reads: reads,
            ..EngineQuery::new("SELECT sum(x) AS s FROM t")
        };
        let result = match pool
            .run(
                EngineInput { schema, batches },
                query,
                CancellationToken::new(),
            )
            .await
        {
            Ok(output) => output.collect().await,
            Err(err) => Err(err),
        };
        assert!(
            matches!(&result, Err(EngineError::Input(e)) if e.to_string().contains("split 3")),
            "{reads:?}: {result:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalesces_and_limits_rows() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let query = EngineQuery {
        sql: "SELECT range AS r FROM range(200000)".to_owned(),
        params: Vec::new(),
        max_rows: Some(150_000),
        input_reads: InputReads::Any,
    };
    let out = pool
        .run(int_input(&[1]), query, CancellationToken::new())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = out.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 150_000);
    assert!(sizes[0] >= TARGET_BATCH_ROWS, "{sizes:?}");
}

/// The pool's worker answers a new request correctly (after a cancelled one).
async fn assert_worker_serves_again(pool: &EnginePool) {
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        run_sql(pool, int_input(&[4, 5]), "SELECT sum(x) AS s FROM t"),
    )
    .await
    .expect("the worker is free again")
    .unwrap();
    assert_eq!(table_text(&out), "+---+\n| s |\n+---+\n| 9 |\n+---+");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_interrupts_a_long_query_and_frees_the_worker() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        canceller.cancel();
    });
    let started = std::time::Instant::now();
    let result = async {
        pool.run(int_input(&[1]), EngineQuery::new(LONG_QUERY), cancel)
            .await?
            .collect()
            .await
    }
    .await;
    assert!(matches!(result, Err(EngineError::Cancelled)), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_worker_serves_again(&pool).await;
}

/// For both input shapes (streamed into the query, materialized).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_input_is_still_arriving_frees_the_worker() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    for reads in [InputReads::Once, InputReads::Any] {
        cancel_while_input_arrives(&pool, reads).await;
    }
}

async fn cancel_while_input_arrives(pool: &EnginePool, reads: InputReads) {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let first = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(Int64Array::from(vec![1]))],
    )
    .unwrap();
    // A scan that delivers one batch and then never finishes.
    let batches = futures::stream::iter(vec![Ok(first)])
        .chain(futures::stream::pending())
        .boxed();
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        canceller.cancel();
    });
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        pool.run(
            EngineInput { schema, batches },
            EngineQuery {
                input_reads: reads,
                ..EngineQuery::new("SELECT count(*) FROM t")
            },
            cancel,
        ),
    )
    .await
    .expect("cancel stops the load");
    // The query starts while the input arrives, so the cancel shows in the result stream.
    let result = match result {
        Ok(output) => output.collect().await,
        Err(err) => Err(err),
    };
    assert!(
        matches!(result, Err(EngineError::Cancelled)),
        "{reads:?}: {result:?}"
    );
    assert_worker_serves_again(pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_output_frees_the_worker() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let output = pool
        .run(
            int_input(&[1]),
            EngineQuery::new(LONG_QUERY),
            CancellationToken::new(),
        )
        .await;
    drop(output);
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        run_sql(&pool, int_input(&[4]), "SELECT x FROM t"),
    )
    .await
    .expect("the worker was freed")
    .unwrap();
    assert_eq!(out[0].num_rows(), 1);
}

/// A client that stops reading (output full) but stays connected does not hold the worker
/// past a cancel: the worker stops waiting to send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_frees_a_worker_waiting_on_a_full_output() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let cancel = CancellationToken::new();
    let output = pool
        .run(
            int_input(&[1]),
            EngineQuery::new("SELECT range AS r FROM range(50000000)"),
            cancel.clone(),
        )
        .await
        .unwrap();
    // Nobody reads `output`: the worker fills it and waits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    cancel.cancel();
    assert_worker_serves_again(&pool).await;
    // Read late, the output ends in `Cancelled`, never as a complete (truncated) result.
    let late = output.collect().await;
    assert!(matches!(late, Err(EngineError::Cancelled)), "{late:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_is_overloaded() {
    let pool = EnginePool::new(&test_config(1, 1)).unwrap();
    let cancel = CancellationToken::new();
    let busy = {
        let pool = pool.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            pool.run(int_input(&[1]), EngineQuery::new(LONG_QUERY), cancel)
                .await?
                .collect()
                .await
        })
    };
    while pool.idle_workers() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let queued = {
        let pool = pool.clone();
        tokio::spawn(async move { run_sql(&pool, int_input(&[2]), "SELECT x FROM t").await })
    };
    while pool.queued() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused = run_sql(&pool, int_input(&[3]), "SELECT x FROM t").await;
    assert!(
        matches!(refused, Err(EngineError::Overloaded { queued: 1 })),
        "{refused:?}"
    );
    cancel.cancel();
    assert!(matches!(busy.await.unwrap(), Err(EngineError::Cancelled)));
    let out = queued.await.unwrap().unwrap();
    assert_eq!(table_text(&out), "+---+\n| x |\n+---+\n| 2 |\n+---+");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_see_their_own_t() {
    let pool = EnginePool::new(&test_config(2, 4)).unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    // Request A's input stays open while request B runs on the other worker.
    let (tx, rx) = futures::channel::mpsc::channel::<
        Result<RecordBatch, Box<dyn std::error::Error + Send + Sync>>,
    >(1);
    let a = {
        let pool = pool.clone();
        let input = EngineInput {
            schema: Arc::clone(&schema),
            batches: rx.boxed(),
        };
        tokio::spawn(async move {
            run_sql(&pool, input, "SELECT sum(x) AS s, count(*) AS n FROM t").await
        })
    };
    let mut tx = tx;
    let batch = |v: i64| {
        RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(vec![v]))],
        )
        .unwrap()
    };
    futures::SinkExt::send(&mut tx, Ok(batch(100)))
        .await
        .unwrap();
    let b = run_sql(
        &pool,
        int_input(&[1, 2]),
        "SELECT sum(x) AS s, count(*) AS n FROM t",
    )
    .await
    .unwrap();
    assert_eq!(
        table_text(&b),
        "+---+---+\n| s | n |\n+---+---+\n| 3 | 2 |\n+---+---+"
    );
    futures::SinkExt::send(&mut tx, Ok(batch(11)))
        .await
        .unwrap();
    drop(tx);
    let a = a.await.unwrap().unwrap();
    assert_eq!(
        table_text(&a),
        "+-----+---+\n| s   | n |\n+-----+---+\n| 111 | 2 |\n+-----+---+"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temp_tables_are_dropped_after_each_request() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    for _ in 0..3 {
        run_sql(&pool, int_input(&[1]), "SELECT * FROM t")
            .await
            .unwrap();
    }
    let out = run_sql(
        &pool,
        int_input(&[1]),
        "SELECT (SELECT count(*) FROM duckdb_tables()) AS tables, \
         (SELECT count(*) FROM duckdb_views() WHERE NOT internal) AS views",
    )
    .await
    .unwrap();
    // No table at all; the one view is the current request's input stream.
    assert_eq!(
        table_text(&out),
        "+--------+-------+\n| tables | views |\n+--------+-------+\n| 0      | 1     |\n+--------+-------+"
    );
}

/// The input stream is read by `SELECT *` only (engine/arrow_stream.rs): queries that use some
/// columns, in another order, or filtered on every type see the right values, whether the input
/// is streamed into their one scan (`InputReads::Once`) or materialized (`Any`, also for
/// queries reading `t` twice). A filter pushed into the stream's scan would be ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_over_the_input_stream_see_every_column() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let input = || {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Utf8, true),
            Field::new("c", DataType::Float64, true),
            Field::new(
                "d",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int32Array::from(vec![Some(1), Some(2), Some(3), None])),
                Arc::new(StringArray::from(vec![
                    Some("w"),
                    None,
                    Some("y"),
                    Some("a string longer than twelve bytes"),
                ])),
                Arc::new(Float64Array::from(vec![
                    Some(10.0),
                    Some(20.0),
                    Some(30.0),
                    None,
                ])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        Some(1_000_000),
                        Some(2_000_000),
                        None,
                        Some(4_000_000),
                    ])
                    .with_timezone("UTC"),
                ),
            ],
        )
        .unwrap();
        // Two batches: the stream's scan hands them to DuckDB's threads one by one.
        EngineInput::from_batches(schema, vec![batch.slice(0, 2), batch.slice(2, 2)])
    };
    let read_once = [
        ("SELECT sum(c)::VARCHAR AS v FROM t", "60.0"),
        ("SELECT b AS v FROM t WHERE a = 3", "y"),
        (
            "SELECT b AS v FROM t WHERE a IS NULL",
            "a string longer than twelve bytes",
        ),
        ("SELECT sum(a)::VARCHAR AS v FROM t WHERE b = 'w'", "1"),
        ("SELECT sum(a)::VARCHAR AS v FROM t WHERE b IS NULL", "2"),
        (
            "SELECT b AS v FROM t WHERE c IS NULL",
            "a string longer than twelve bytes",
        ),
        (
            "SELECT string_agg(a::VARCHAR, ',' ORDER BY a) AS v FROM t WHERE d >= TIMESTAMPTZ '1970-01-01 00:00:02+00'",
            "2",
        ),
        ("SELECT count(*)::VARCHAR AS v FROM t WHERE d IS NULL", "1"),
        (
            "SELECT string_agg(c::INT || ':' || a, ',' ORDER BY c DESC) AS v FROM t WHERE c > 15 AND a < 3",
            "20:2",
        ),
        (
            "WITH x AS (SELECT c, b FROM t WHERE b LIKE 'y%') SELECT b || c AS v FROM x",
            "y30.0",
        ),
        (
            "SELECT v FROM (SELECT b AS v, c FROM t WHERE b IS NOT NULL ORDER BY c DESC NULLS LAST LIMIT 2) ORDER BY c LIMIT 1",
            "w",
        ),
    ];
    let read_twice = [(
        "SELECT (SELECT max(b) FROM t WHERE a < 3) || '/' || (SELECT sum(a) FROM t WHERE a > 1) AS v",
        "w/5",
    )];
    let cases = read_once
        .iter()
        .flat_map(|case| [(case, InputReads::Once), (case, InputReads::Any)])
        .chain(read_twice.iter().map(|case| (case, InputReads::Any)));
    for (&(sql, expected), reads) in cases {
        let query = EngineQuery {
            input_reads: reads,
            ..EngineQuery::new(sql)
        };
        let out: Vec<RecordBatch> = pool
            .run(input(), query, CancellationToken::new())
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_or_else(|err| panic!("{sql} ({reads:?}): {err}"));
        let got = out[0]
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap_or_else(|| panic!("{sql}: not a string column"))
            .value(0)
            .to_owned();
        assert_eq!(got, expected, "{sql} ({reads:?})");
    }
}

/// A query declared to read its input once but reading it twice fails with the input's
/// own error instead of answering from an empty second scan; the worker serves again, and
/// the same query over the materialized input answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_input_read_twice_fails() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    // The recursive part runs its scan of `t` again in every iteration. (DuckDB shares plain
    // repeated scans on its own, as a common subplan.)
    let sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT max(x) FROM t)) \
               SELECT count(*) AS v FROM r";
    let query = EngineQuery::new(sql).reading_input_once();
    let result = match pool
        .run(int_input(&[1, 2, 3]), query, CancellationToken::new())
        .await
    {
        Ok(output) => output.collect().await,
        Err(err) => Err(err),
    };
    assert!(
        matches!(&result, Err(err) if err.to_string().contains("read twice")),
        "{result:?}"
    );
    assert_worker_serves_again(&pool).await;
    let out = run_sql(&pool, int_input(&[1, 2, 3]), sql).await.unwrap();
    assert_eq!(table_text(&out), "+---+\n| v |\n+---+\n| 3 |\n+---+");
}

/// `t` is the engine's input CTE: a query defining its own `t` gets a clear SQL error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cte_named_t_is_refused_as_a_duplicate() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let result = run_sql(
        &pool,
        int_input(&[1]),
        "WITH t AS (SELECT 42 AS x) SELECT x FROM t",
    )
    .await;
    assert!(
        matches!(&result, Err(EngineError::Sql(m)) if m.contains("Duplicate CTE name")),
        "{result:?}"
    );
    assert_worker_serves_again(&pool).await;
}

/// An input bigger than `engine.memory_limit` fails the request with OutOfMemory while the
/// input is still being read, and the worker serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_over_the_memory_limit_is_out_of_memory() {
    let config = EngineConfig {
        memory_limit: "64MB".to_owned(),
        ..test_config(1, 4)
    };
    let pool = EnginePool::new(&config).unwrap();
    // 40 batches of 64k rows × 64-byte strings: about 170 MB once materialized.
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
    let batches: Vec<RecordBatch> = (0..40)
        .map(|b| {
            let values: Vec<String> = (0..65_536).map(|i| format!("{b:08}-{i:055}")).collect();
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(StringArray::from(values))],
            )
            .unwrap()
        })
        .collect();
    let result = run_sql(
        &pool,
        EngineInput::from_batches(schema, batches),
        "SELECT count(DISTINCT s) FROM t",
    )
    .await;
    assert!(
        matches!(&result, Err(EngineError::OutOfMemory(_))),
        "{result:?}"
    );
    assert_worker_serves_again(&pool).await;
}

/// Small integer group columns reach the engine as 8-bit Arrow columns
/// (`analytics::narrowing`): for either input shape they group like the wide column they came
/// from (DuckDB's perfect-hash aggregate, which it picks for a type of 256 values).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_bit_inputs_group_like_wide_ones() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let sql = "SELECT x, count(*) AS n FROM t GROUP BY x ORDER BY x NULLS FIRST";
    let narrow_input = |array: ArrayRef| {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "x",
            array.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![array]).unwrap();
        EngineInput::from_batches(schema, vec![batch])
    };
    for reads in [InputReads::Once, InputReads::Any] {
        let query = EngineQuery {
            input_reads: reads,
            ..EngineQuery::new(sql)
        };
        let values = [
            Some(3),
            Some(255),
            None,
            Some(0),
            Some(3),
            Some(3),
            Some(255),
        ];
        let wide: Vec<Option<i64>> = values.iter().map(|v| v.map(i64::from)).collect();
        let wide = int_input_with_nulls(&wide);
        let plain = run_query(&pool, wide, query.clone()).await.unwrap();
        let unsigned = narrow_input(Arc::new(arrow::array::UInt8Array::from(values.to_vec())));
        let narrow = run_query(&pool, unsigned, query.clone()).await.unwrap();
        assert_eq!(table_text(&narrow), table_text(&plain));
        assert!(
            table_text(&narrow).contains("| 3   | 3 |"),
            "{}",
            table_text(&narrow)
        );

        let negative = [-128_i8, 127, -128];
        let wide: Vec<Option<i64>> = negative.iter().map(|v| Some(i64::from(*v))).collect();
        let plain = run_query(&pool, int_input_with_nulls(&wide), query.clone())
            .await
            .unwrap();
        let signed = narrow_input(Arc::new(arrow::array::Int8Array::from(negative.to_vec())));
        let narrow = run_query(&pool, signed, query).await.unwrap();
        assert_eq!(table_text(&narrow), table_text(&plain));
    }
}

fn named(name: &str, values: &[i64], reads: InputReads) -> NamedInput {
    NamedInput {
        name: name.to_owned(),
        input: int_input(values),
        reads,
    }
}

async fn run_many_sql(
    pool: &EnginePool,
    inputs: Vec<NamedInput>,
    sql: &str,
) -> Result<Vec<RecordBatch>, EngineError> {
    match pool
        .run_many(inputs, EngineQuery::new(sql), CancellationToken::new())
        .await
    {
        Ok(output) => output.collect().await,
        Err(err) => Err(err),
    }
}

/// Two streams read as two CTEs of one query (a join), materialized or streamed, with the
/// query's own WITH list after them; both views are gone afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_inputs_join_in_one_query() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    for reads in [InputReads::Any, InputReads::Once] {
        let out = run_many_sql(
            &pool,
            vec![
                named("a", &[1, 2, 3, 4, 5], InputReads::Any),
                named("b", &[3, 4, 5, 6, 7, 8], reads),
            ],
            "WITH both_sides AS (SELECT a.x FROM a JOIN b ON a.x = b.x) \
             SELECT count(*) AS n, sum(x) AS s FROM both_sides",
        )
        .await
        .unwrap();
        assert_eq!(
            table_text(&out),
            "+---+----+\n| n | s  |\n+---+----+\n| 3 | 12 |\n+---+----+",
            "{reads:?}"
        );
    }
    let out = run_sql(
        &pool,
        int_input(&[1]),
        "SELECT count(*) AS views FROM duckdb_views() WHERE NOT internal",
    )
    .await
    .unwrap();
    assert_eq!(
        table_text(&out),
        "+-------+\n| views |\n+-------+\n| 1     |\n+-------+"
    );
}

/// The second input's own error is what the query fails with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_in_the_second_input_fails_the_query_with_it() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let failing = NamedInput {
        name: "b".to_owned(),
        input: EngineInput {
            schema,
            batches: futures::stream::iter(vec![Err("split 2 of b failed".into())]).boxed(),
        },
        reads: InputReads::Any,
    };
    let result = run_many_sql(
        &pool,
        vec![named("a", &[1, 2], InputReads::Any), failing],
        "SELECT count(*) FROM a, b",
    )
    .await;
    assert!(
        matches!(&result, Err(EngineError::Input(e)) if e.to_string().contains("split 2 of b")),
        "{result:?}"
    );
    assert_worker_serves_again(&pool).await;
}

/// String dictionaries reach DuckDB as dictionaries: batches with different dictionaries (as
/// Parquet pages have), NULL keys and NULL values group as the strings they stand for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_dictionaries_group_as_their_values() {
    let pool = EnginePool::new(&test_config(1, 4)).unwrap();
    let data_type = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let schema = Arc::new(Schema::new(vec![Field::new("s", data_type, true)]));
    let first: DictionaryArray<Int32Type> = vec![Some("b"), Some("a"), None, Some("b")]
        .into_iter()
        .collect();
    // Another dictionary, in another order, with a NULL among its values.
    let keys = Int32Array::from(vec![Some(0), Some(2), Some(1), None]);
    let values = Arc::new(StringArray::from(vec![Some("a"), None, Some("c")]));
    let second = DictionaryArray::<Int32Type>::try_new(keys, values).unwrap();
    let batches = [first, second]
        .into_iter()
        .map(|column| RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(column)]).unwrap())
        .collect();
    let out = run_sql(
        &pool,
        EngineInput::from_batches(schema, batches),
        "SELECT s, count(*) AS n FROM t GROUP BY s ORDER BY s NULLS LAST",
    )
    .await
    .unwrap();
    let text = table_text(&out);
    for row in ["| a | 2 |", "| b | 2 |", "| c | 1 |", "|   | 3 |"] {
        assert!(text.contains(row), "{row} in\n{text}");
    }
}
