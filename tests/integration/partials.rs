//! Incremental analytics: answers from cached partial states equal the uncached answers —
//! cold, warm, with a sliding window, after a new file lands in a table folder, after
//! invalidation, over VAST emulators, and across two `vastgate serve` processes sharing a
//! real `redis-server` (which also goes down and comes back).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tonic::transport::Channel;
use vastgate::proto::{
    self, CompareOp, Filter, admin_service_client::AdminServiceClient,
    analytics_service_client::AnalyticsServiceClient, literal::Value as Lit,
};

use crate::{
    harness::{TestServer, data_dir, query_id},
    query::{and, cmp},
    vast_sdk::Emulator,
};

const MINUTE: i64 = 60;
/// The demo data's first timestamp, in seconds.
const START: i64 = vastgate::gen_data::START_MICROS / 1_000_000;
const UNCACHED: &str = "[cache.partials]\nenabled = false\n";

fn ts(seconds: i64) -> Lit {
    Lit::TimestampValue(prost_types::Timestamp { seconds, nanos: 0 })
}

/// `ts` in [from, from + 3 days + 20 min) and `humidity > 40`.
fn window(from: i64) -> Option<Filter> {
    Some(and(vec![
        cmp("ts", CompareOp::Ge, ts(from)),
        cmp("humidity", CompareOp::Gt, Lit::FloatValue(40.0)),
        cmp("ts", CompareOp::Lt, ts(from + 3 * 24 * 3600 + 20 * MINUTE)),
    ]))
}

fn table(name: &str) -> Option<proto::TableRef> {
    Some(proto::TableRef {
        bucket: String::new(),
        schema: "demo".into(),
        table: name.into(),
    })
}

/// Hourly count, avg, max, stddev and p95 of temperature by region over one window.
fn window_aggregate(name: &str, from: i64) -> proto::WindowAggregateRequest {
    proto::WindowAggregateRequest {
        table: table(name),
        filter: window(from),
        group_by: vec!["region".into()],
        time_column: "ts".into(),
        interval: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        value_columns: vec!["temperature".into()],
        functions: ["count", "avg", "max", "stddev", "p95"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    }
}

/// The cached analytics over one window, as text with rounded values, so answers
/// computed in another order of additions compare equal.
async fn answers(client: &mut AnalyticsServiceClient<Channel>, name: &str, from: i64) -> Answers {
    let filter = window(from);
    let window_agg = client
        .window_aggregate(window_aggregate(name, from))
        .await
        .expect("WindowAggregate");
    let id = query_id(&window_agg);
    let trend = client
        .trend(proto::TrendRequest {
            table: table(name),
            filter: filter.clone(),
            group_by: vec!["region".into()],
            time_column: "ts".into(),
            value_column: "temperature".into(),
            ..Default::default()
        })
        .await
        .expect("Trend")
        .into_inner();
    let correlation = client
        .correlation(proto::CorrelationRequest {
            table: table(name),
            filter: filter.clone(),
            group_by: vec!["region".into()],
            columns: vec!["temperature".into(), "humidity".into(), "pressure".into()],
            ..Default::default()
        })
        .await
        .expect("Correlation")
        .into_inner();
    let histogram = client
        .histogram(proto::HistogramRequest {
            table: table(name),
            filter: filter.clone(),
            group_by: vec!["region".into()],
            value_column: "temperature".into(),
            edges: vec![0.0, 10.0, 15.0, 20.0, 30.0],
            ..Default::default()
        })
        .await
        .expect("Histogram")
        .into_inner();
    let top = client
        .top_n(proto::TopNRequest {
            table: table(name),
            filter,
            group_by: vec!["sensor_id".into()],
            value_column: "temperature".into(),
            function: "avg".into(),
            n: 5,
            ..Default::default()
        })
        .await
        .expect("TopN")
        .into_inner();
    let buckets = window_agg.into_inner().buckets;
    assert!(
        buckets.len() > 100,
        "a real answer: {} buckets",
        buckets.len()
    );
    Answers {
        window_query: id,
        text: vec![
            buckets
                .iter()
                .map(|b| {
                    let values: Vec<String> = b
                        .values
                        .iter()
                        .map(|(k, v)| format!("{k}={}", round(*v)))
                        .collect();
                    format!("{:?} {:?} {}", b.group, b.start, values.join(","))
                })
                .collect::<Vec<_>>()
                .join("\n"),
            trend
                .trends
                .iter()
                .map(|t| {
                    format!(
                        // The intercept (at epoch 0) magnifies the last bits of the slope.
                        "{:?} slope={:.6e} intercept={:.6e} r2={:.6e} n={}",
                        t.group, t.slope_per_second, t.intercept, t.r_squared, t.n
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            top.rows
                .iter()
                .map(|r| format!("{:?} {} {}", r.group, round(r.value), r.rank))
                .collect::<Vec<_>>()
                .join("\n"),
            correlation
                .pairs
                .iter()
                .map(|p| format!("{:?} {}~{} r={:.6e} n={}", p.group, p.x, p.y, p.r, p.n))
                .collect::<Vec<_>>()
                .join("\n"),
            format!("{:?}", histogram.histograms),
        ],
    }
}

/// Asserts two answers are the same, showing the first lines that differ.
#[track_caller]
fn same(actual: &[String], expected: &[String], what: &str) {
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let (a_lines, e_lines): (Vec<&str>, Vec<&str>) = (a.lines().collect(), e.lines().collect());
        if let Some(at) =
            (0..a_lines.len().max(e_lines.len())).find(|&l| a_lines.get(l) != e_lines.get(l))
        {
            panic!(
                "{what}: answer {i} differs at line {at} of {}/{}:\n  got      {:?}\n  expected {:?}",
                a_lines.len(),
                e_lines.len(),
                a_lines.get(at),
                e_lines.get(at)
            );
        }
    }
    assert_eq!(actual.len(), expected.len());
}

fn round(v: f64) -> String {
    format!("{v:.6}")
}

struct Answers {
    window_query: String,
    text: Vec<String>,
}

async fn stats(admin: &mut AdminServiceClient<Channel>) -> proto::CacheStatsResponse {
    admin
        .cache_stats(proto::CacheStatsRequest {})
        .await
        .expect("CacheStats")
        .into_inner()
}

async fn rows_scanned(admin: &mut AdminServiceClient<Channel>, query_id: &str) -> u64 {
    admin
        .get_query(proto::GetQueryRequest {
            query_id: query_id.to_owned(),
        })
        .await
        .expect("GetQuery")
        .into_inner()
        .query
        .expect("query")
        .rows_scanned
}

/// A data folder whose `demo.readings` is a folder table holding one file.
fn folder_table() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let readings = dir.path().join("demo/readings");
    std::fs::create_dir_all(&readings).expect("table folder");
    std::fs::copy(
        data_dir().join("demo/sensors.parquet"),
        readings.join("part-0.parquet"),
    )
    .expect("copy");
    dir
}

#[tokio::test]
async fn cached_answers_equal_uncached_cold_warm_sliding_appended_and_invalidated() {
    let dir = folder_table();
    let cached = TestServer::over(dir.path(), "").await;
    let plain = TestServer::over(dir.path(), UNCACHED).await;
    let (mut client, mut reference) = (cached.analytics().await, plain.analytics().await);
    let mut admin = cached.admin().await;
    let from = START + 90 * MINUTE;

    let cold = answers(&mut client, "readings", from).await;
    same(
        &cold.text,
        &answers(&mut reference, "readings", from).await.text,
        "cold",
    );
    let after_cold = stats(&mut admin).await;
    assert_eq!(after_cold.partial_hits, 0);
    assert!(after_cold.partial_misses > 0 && after_cold.partial_entries > 0);
    let cold_rows = rows_scanned(&mut admin, &cold.window_query).await;

    // The window slides by a minute at a time: only the edges are read again.
    for slide in 1..=3 {
        let warm = answers(&mut client, "readings", from + slide * MINUTE).await;
        let expected = answers(&mut reference, "readings", from + slide * MINUTE).await;
        same(&warm.text, &expected.text, &format!("slide {slide}"));
        let warm_rows = rows_scanned(&mut admin, &warm.window_query).await;
        assert!(
            warm_rows * 20 < cold_rows,
            "warm scanned {warm_rows} rows, cold {cold_rows}"
        );
    }
    let after_warm = stats(&mut admin).await;
    assert!(after_warm.partial_hits > 0 && after_warm.rows_not_scanned > 0);

    // A new file in the table folder: the table's data version changes, nothing stale is used.
    std::fs::copy(
        data_dir().join("demo/sensors.parquet"),
        dir.path().join("demo/readings/part-1.parquet"),
    )
    .expect("append a file");
    let appended = answers(&mut client, "readings", from + 3 * MINUTE).await;
    let expected = answers(&mut reference, "readings", from + 3 * MINUTE).await;
    same(&appended.text, &expected.text, "appended");
    assert_ne!(appended.text, cold.text, "the new file's rows count");

    // InvalidateCache drops the table's states; the next answer is computed anew, and equal.
    let dropped = admin
        .invalidate_cache(proto::InvalidateCacheRequest {
            table: table("readings"),
        })
        .await
        .expect("InvalidateCache")
        .into_inner();
    assert!(dropped.partials_invalidated > 0);
    assert_eq!(stats(&mut admin).await.partial_entries, 0);
    let misses = stats(&mut admin).await.partial_misses;
    let again = answers(&mut client, "readings", from + 3 * MINUTE).await;
    same(&again.text, &appended.text, "after invalidation");
    assert!(stats(&mut admin).await.partial_misses > misses);

    // A file whose rows lie in one hour of the window: only that hour's buckets (and the
    // edges) are read again; every other bucket's data version is unchanged.
    let hour = (from + 24 * 3600).div_euclid(3600) * 3600;
    write_slice(
        &data_dir().join("demo/sensors.parquet"),
        &dir.path().join("demo/readings/part-2.parquet"),
        (hour, hour + 3600),
    );
    let late = answers(&mut client, "readings", from + 3 * MINUTE).await;
    let expected = answers(&mut reference, "readings", from + 3 * MINUTE).await;
    same(&late.text, &expected.text, "a file with one hour of rows");
    assert_ne!(late.text, again.text, "the new hour's rows count");
    let late_rows = rows_scanned(&mut admin, &late.window_query).await;
    assert!(
        late_rows * 10 < 2 * cold_rows,
        "after a one-hour file, scanned {late_rows} rows of ~{} in the window",
        2 * cold_rows
    );
}

/// Writes the rows of `source` whose `ts` lies in `[from, to)` seconds to `target`, in the
/// source's schema.
fn write_slice(source: &Path, target: &Path, (from, to): (i64, i64)) {
    use arrow::{
        array::{Scalar, TimestampMicrosecondArray},
        compute::{and, filter_record_batch, kernels::cmp},
    };
    use parquet::arrow::{ArrowWriter, arrow_reader::ParquetRecordBatchReaderBuilder};
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(source).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let schema = arrow::record_batch::RecordBatchReader::schema(&reader);
    let tmp = target.with_extension("tmp");
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&tmp).unwrap(), schema, None).unwrap();
    let bound = |seconds: i64| {
        Scalar::new(TimestampMicrosecondArray::from(vec![seconds * 1_000_000]).with_timezone("UTC"))
    };
    for batch in reader {
        let batch = batch.unwrap();
        let ts = batch.column_by_name("ts").unwrap();
        let keep = and(
            &cmp::gt_eq(ts, &bound(from)).unwrap(),
            &cmp::lt(ts, &bound(to)).unwrap(),
        )
        .unwrap();
        writer
            .write(&filter_record_batch(&batch, &keep).unwrap())
            .unwrap();
    }
    writer.close().unwrap();
    std::fs::rename(&tmp, target).unwrap();
}

async fn explain(
    server: &TestServer,
    request: proto::WindowAggregateRequest,
) -> proto::ExplainResponse {
    server
        .query()
        .await
        .explain(proto::ExplainRequest {
            query: Some(proto::explain_request::Query::WindowAggregate(request)),
        })
        .await
        .expect("Explain")
        .into_inner()
}

#[tokio::test]
async fn explain_says_what_the_partial_cache_does() {
    let dir = folder_table();
    let cached = TestServer::over(dir.path(), "").await;
    let plain = TestServer::over(dir.path(), UNCACHED).await;
    let from = START + 90 * MINUTE;
    // 3 days and 20 minutes from 01:30: 71 whole hours inside the range.
    let before = explain(&cached, window_aggregate("readings", from)).await;
    assert!(before.partial_cache.starts_with("used"), "{before:?}");
    assert_eq!(
        (before.partial_buckets, before.partial_buckets_cached),
        (71, 0)
    );

    answers(&mut cached.analytics().await, "readings", from).await;
    let after = explain(&cached, window_aggregate("readings", from + MINUTE)).await;
    assert_eq!(
        (after.partial_buckets, after.partial_buckets_cached),
        (71, 71)
    );
    // The scan left is the edges: a gap term excludes the cached hours (the local backend
    // prunes with it; nothing is "pushed" to a storage server there).
    let filter = format!("{} | {}", after.pushed_filter, after.residual_filter);
    assert!(filter.contains(" OR "), "{filter}");
    assert!(!before.residual_filter.contains(" OR "), "{before:?}");
    assert!(
        after.engine_sql.contains("__k"),
        "the state query: {}",
        after.engine_sql
    );

    let mut bypass = window_aggregate("readings", from);
    bypass.hints = Some(proto::QueryHints {
        bypass_cache: true,
        ..Default::default()
    });
    assert!(
        explain(&cached, bypass)
            .await
            .partial_cache
            .starts_with("bypassed")
    );
    assert!(
        explain(&plain, window_aggregate("readings", from))
            .await
            .partial_cache
            .starts_with("off")
    );
    let mut no_range = window_aggregate("readings", from);
    no_range.filter = None;
    let unbounded = explain(&cached, no_range).await;
    assert!(
        unbounded.partial_cache.starts_with("not used"),
        "{unbounded:?}"
    );
    assert_eq!(unbounded.partial_buckets, 0);
}

#[tokio::test]
async fn cached_answers_equal_uncached_over_vast_emulators() {
    let emulator = Emulator::start(data_dir()).await;
    // Demo data is from January 2026: its buckets are long closed.
    let cached = TestServer::with_vast(&[&emulator.url], "").await;
    let plain = TestServer::with_vast(&[&emulator.url], UNCACHED).await;
    let (mut client, mut reference) = (cached.analytics().await, plain.analytics().await);
    let mut admin = cached.admin().await;
    let from = START + 5 * 24 * 3600 + 7 * MINUTE;
    let cold = answers(&mut client, "sensors", from).await;
    same(
        &cold.text,
        &answers(&mut reference, "sensors", from).await.text,
        "cold",
    );
    let cold_rows = rows_scanned(&mut admin, &cold.window_query).await;
    let warm = answers(&mut client, "sensors", from + MINUTE).await;
    same(
        &warm.text,
        &answers(&mut reference, "sensors", from + MINUTE).await.text,
        "warm",
    );
    let warm_rows = rows_scanned(&mut admin, &warm.window_query).await;
    assert!(
        warm_rows * 20 < cold_rows,
        "warm {warm_rows} rows, cold {cold_rows}"
    );

    // With every bucket younger than immutable_after, VAST buckets are never cached.
    let never = TestServer::with_vast(
        &[&emulator.url],
        "[cache.partials]\nimmutable_after = \"100000d\"\n",
    )
    .await;
    let mut never_client = never.analytics().await;
    answers(&mut never_client, "sensors", from).await;
    let again = answers(&mut never_client, "sensors", from + MINUTE).await;
    same(&again.text, &warm.text, "never cached");
    let mut never_admin = never.admin().await;
    let s = stats(&mut never_admin).await;
    assert_eq!((s.partial_hits, s.partial_entries), (0, 0));
}

// ---------------------------------------------------------------------------------------
// Two replicas and a real Redis.

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_server(port: u16, dir: &Path) -> Process {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (Debian package `redis-server`; .ci/run installs it)");
    Process(child)
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (Debian package `redis-tools`)");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn wait_for(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `vastgate serve` over `data` sharing partial states through Redis on `redis_port`.
struct Replica {
    _process: Process,
    grpc: String,
}

impl Replica {
    async fn start(data: &Path, redis_port: u16, log: PathBuf) -> Self {
        let (grpc, http) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_vastgate"))
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--grpc-listen", &format!("127.0.0.1:{grpc}")])
            .args(["--http-listen", &format!("127.0.0.1:{http}")])
            .env(
                "VASTGATE__CACHE__SHARED__REDIS_URL",
                format!("redis://127.0.0.1:{redis_port}/0"),
            )
            .env("VASTGATE__CACHE__SHARED__TIMEOUT", "300ms")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("spawn vastgate serve");
        let replica = Self {
            _process: Process(child),
            grpc: format!("http://127.0.0.1:{grpc}"),
        };
        let url = replica.grpc.clone();
        wait_for("the replica to listen", async || {
            Channel::from_shared(url.clone())
                .unwrap()
                .connect()
                .await
                .is_ok()
        })
        .await;
        replica
    }

    async fn analytics(&self) -> AnalyticsServiceClient<Channel> {
        AnalyticsServiceClient::connect(self.grpc.clone())
            .await
            .expect("connect")
    }

    async fn admin(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::connect(self.grpc.clone())
            .await
            .expect("connect")
    }
}

#[tokio::test]
async fn two_replicas_share_states_and_invalidations_through_redis() {
    let dir = folder_table();
    let redis_dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut redis = redis_server(port, redis_dir.path());
    wait_for("redis-server", async || {
        redis_cli(port, &["ping"]) == "PONG"
    })
    .await;
    let a = Replica::start(dir.path(), port, dir.path().join("a.log")).await;
    let b = Replica::start(dir.path(), port, dir.path().join("b.log")).await;
    let plain = TestServer::over(dir.path(), UNCACHED).await;
    let mut reference = plain.analytics().await;
    let (mut client_a, mut client_b) = (a.analytics().await, b.analytics().await);
    let (mut admin_a, mut admin_b) = (a.admin().await, b.admin().await);
    let from = START + 24 * 3600 + 13 * MINUTE;
    let expected = answers(&mut reference, "readings", from).await.text;

    // A computes; its states reach Redis; B answers from them without scanning the range.
    let cold = answers(&mut client_a, "readings", from).await;
    same(&cold.text, &expected, "A cold");
    wait_for("A's states in Redis", async || {
        redis_cli(port, &["dbsize"]).parse::<u64>().unwrap_or(0) > 0
    })
    .await;
    let shared = answers(&mut client_b, "readings", from).await;
    same(&shared.text, &expected, "B from Redis");
    let b_stats = stats(&mut admin_b).await;
    assert!(b_stats.partial_shared_hits > 0, "{b_stats:?}");
    let (cold_rows, shared_rows) = (
        rows_scanned(&mut admin_a, &cold.window_query).await,
        rows_scanned(&mut admin_b, &shared.window_query).await,
    );
    assert!(
        shared_rows * 20 < cold_rows,
        "B scanned {shared_rows}, A {cold_rows}"
    );

    // InvalidateCache on A empties Redis and, by pub/sub, B's memory.
    admin_a
        .invalidate_cache(proto::InvalidateCacheRequest {
            table: table("readings"),
        })
        .await
        .expect("InvalidateCache");
    assert_eq!(redis_cli(port, &["dbsize"]), "0");
    wait_for("B to drop its states", async || {
        stats(&mut admin_b).await.partial_entries == 0
    })
    .await;

    // States that do not check out are ignored and computed again, never trusted.
    answers(&mut client_b, "readings", from).await;
    wait_for("B's states in Redis", async || {
        redis_cli(port, &["dbsize"]).parse::<u64>().unwrap_or(0) > 0
    })
    .await;
    let keys = redis_cli(port, &["--scan", "--pattern", "vastgate:partials:*"]);
    for (i, key) in keys.lines().enumerate() {
        let garbage = if i % 2 == 0 {
            "VGPS\u{1}garbage"
        } else {
            "not a state"
        };
        redis_cli(port, &["set", key, garbage]);
    }
    let hits_before = stats(&mut admin_a).await.partial_shared_hits;
    let recomputed = answers(&mut client_a, "readings", from).await;
    same(&recomputed.text, &expected, "after garbage");
    assert_eq!(stats(&mut admin_a).await.partial_shared_hits, hits_before);

    // Redis down: answers go on, the failures are counted; Redis back: states are shared again.
    // (Each window reaches buckets A has not seen, so A asks Redis.)
    drop(redis);
    let later = from + 4 * 60 * MINUTE;
    let expected_later = answers(&mut reference, "readings", later).await.text;
    same(
        &answers(&mut client_a, "readings", later).await.text,
        &expected_later,
        "Redis down",
    );
    assert!(stats(&mut admin_a).await.partial_shared_errors > 0);
    redis = redis_server(port, redis_dir.path());
    wait_for("redis-server again", async || {
        redis_cli(port, &["ping"]) == "PONG"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let further = from + 8 * 60 * MINUTE;
    let expected_further = answers(&mut reference, "readings", further).await.text;
    same(
        &answers(&mut client_a, "readings", further).await.text,
        &expected_further,
        "Redis back",
    );
    wait_for("states in the restarted Redis", async || {
        redis_cli(port, &["dbsize"]).parse::<u64>().unwrap_or(0) > 0
    })
    .await;
    drop(redis);
}
