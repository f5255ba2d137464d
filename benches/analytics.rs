//! End-to-end analytics through gRPC vs DuckDB computing the same answer straight from the
//! Parquet file in one process.
//!
//! `VASTGATE_BENCH_DATA=/tmp/bench10m cargo bench --bench analytics`; prints Markdown.
//! For profiling one analytic: `VG_BENCH_ONLY=<part of its name>` runs only the matching
//! cases; `VG_BENCH_ROUNDS=<n>` sets the rounds (default 5) and `VG_BENCH_REFEREE_ROUNDS=<n>`
//! those of DuckDB on Parquet (default: the same; 0: none).

mod common;

use std::time::Instant;

use vastgate::proto::{self, analytics_service_client::AnalyticsServiceClient};

fn main() {
    let (data, _guard) = common::data();
    let parquet = data.join("demo/sensors.parquet");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let channel = common::server(data, |c| {
            c.engine.workers = 1;
            c.engine.threads_per_worker = 2;
            // MovingAverage of one sensor returns 500k points.
            c.engine.max_response_rows = 1_000_000;
        })
        .await;
        let client = AnalyticsServiceClient::new(channel).max_decoding_message_size(256 << 20);
        let table = Some(proto::TableRef { bucket: String::new(), schema: "demo".into(), table: "sensors".into() });
        let duck = duckdb::Connection::open_in_memory().unwrap();
        duck.execute_batch("SET threads = 2").unwrap();
        let src = format!("read_parquet('{}')", parquet.display());

        let only = std::env::var("VG_BENCH_ONLY").unwrap_or_default();
        let rounds: usize = std::env::var("VG_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5).max(1);
        let referee_rounds: usize = std::env::var("VG_BENCH_REFEREE_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(rounds);
        // DuckDB's official Python build on the same file, same threads (`VG_BENCH_OFFICIAL=0`
        // skips it): the referee the efficiency goals are measured against.
        let python = common::python();
        let official = std::env::var("VG_BENCH_OFFICIAL").map_or(true, |v| v != "0");
        let official_time = |sql: &str| -> String {
            if !official {
                return "-".into();
            }
            let out = std::process::Command::new(&python)
                .env("OPENBLAS_NUM_THREADS", "1")
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/duckdb_official.py"))
                .args([&rounds.to_string(), "2", sql])
                .output()
                .expect("run benches/duckdb_official.py (needs .venv with duckdb)");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        println!("| analytic | vastgate (s) | bundled DuckDB on Parquet (s) | ratio | official DuckDB on Parquet (s) | vs official | goal |");
        println!("|---|---|---|---|---|---|---|");
        // Rounds alternate the two sides, so a slow spell of the machine hits both; each
        // side's best round counts.
        macro_rules! case {
            ($name:expr, $goal:expr, $call:expr, $sql:expr) => {{
              if $name.contains(only.as_str()) {
                let sql = format!($sql, src = src);
                let (mut ours, mut theirs) = (f64::MAX, f64::MAX);
                for round in 0..rounds.max(referee_rounds) {
                    if round < rounds {
                        let started = Instant::now();
                        #[allow(clippy::redundant_closure_call)]
                        ($call)(client.clone(), table.clone()).await;
                        ours = ours.min(started.elapsed().as_secs_f64());
                    }
                    if round < referee_rounds {
                        let started = Instant::now();
                        let mut stmt = duck.prepare(&sql).unwrap();
                        let rows: usize = stmt.query_arrow([]).unwrap().map(|b| b.num_rows()).sum();
                        assert!(rows > 0);
                        theirs = theirs.min(started.elapsed().as_secs_f64());
                    }
                }
                let official = official_time(&sql);
                let vs_official = official.parse::<f64>().map_or("-".to_owned(), |o| format!("{:.2}x", ours / o));
                let official = official.parse::<f64>().map_or("-".to_owned(), |o| format!("{o:.3}"));
                if referee_rounds == 0 {
                    println!("| {} | {:.3} | - | - | {official} | {vs_official} | {} |", $name, ours, $goal);
                } else {
                    println!("| {} | {:.3} | {:.3} | {:.2}x | {official} | {vs_official} | {} |", $name, ours, theirs, ours / theirs, $goal);
                }
              }
            }};
        }
        case!("Percentiles (temperature by region, 6 quantiles)", "1.5x",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                c.percentiles(proto::PercentilesRequest { table: t, group_by: vec!["region".into()], value_column: "temperature".into(), ..Default::default() }).await.unwrap();
            },
            "SELECT region, count(temperature), quantile_cont(temperature, [0.25, 0.5, 0.75, 0.9, 0.95, 0.99]) FROM {src} GROUP BY region");
        // Grouped by an integer column, which the engine may narrow to 8 bits.
        case!("Percentiles (temperature by sensor, 6 quantiles)", "1.5x",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                c.percentiles(proto::PercentilesRequest { table: t, group_by: vec!["sensor_id".into()], value_column: "temperature".into(), ..Default::default() }).await.unwrap();
            },
            "SELECT sensor_id, count(temperature), quantile_cont(temperature, [0.25, 0.5, 0.75, 0.9, 0.95, 0.99]) FROM {src} GROUP BY sensor_id");
        case!("WindowAggregate (1h buckets by region: count avg max p95)", "1.5x",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                c.window_aggregate(proto::WindowAggregateRequest { table: t, group_by: vec!["region".into()], time_column: "ts".into(),
                    interval: Some(prost_types::Duration { seconds: 3600, nanos: 0 }), value_columns: vec!["temperature".into()],
                    functions: vec!["count".into(), "avg".into(), "max".into(), "p95".into()], ..Default::default() }).await.unwrap();
            },
            "SELECT region, epoch_us(ts) // 3600000000 AS b, count(temperature), avg(temperature), max(temperature), quantile_cont(temperature, 0.95) FROM {src} GROUP BY region, b");
        case!("Correlation (3 columns)", "1.5x",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                c.correlation(proto::CorrelationRequest { table: t, columns: vec!["temperature".into(), "humidity".into(), "pressure".into()], ..Default::default() }).await.unwrap();
            },
            "SELECT corr(temperature, humidity), corr(temperature, pressure), corr(humidity, pressure) FROM {src}");
        case!("Histogram (temperature, 20 bins by region)", "1.5x",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                c.histogram(proto::HistogramRequest { table: t, group_by: vec!["region".into()], value_column: "temperature".into(), bins: 20, ..Default::default() }).await.unwrap();
            },
            "WITH r AS (SELECT region, min(temperature) lo, max(temperature) hi FROM {src} GROUP BY region) SELECT s.region, least(floor((temperature - lo) / ((hi - lo) / 20)), 19) AS bin, count(*) FROM {src} s JOIN r USING (region) GROUP BY ALL");
        case!("TopN (avg temperature per sensor, top 5)", "1.5x",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                c.top_n(proto::TopNRequest { table: t, group_by: vec!["sensor_id".into()], value_column: "temperature".into(), function: "avg".into(), n: 5, ..Default::default() }).await.unwrap();
            },
            "SELECT sensor_id, avg(temperature) a FROM {src} GROUP BY sensor_id ORDER BY a DESC LIMIT 5");
        case!("TopN (avg temperature per region, top 5)", "-",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                c.top_n(proto::TopNRequest { table: t, group_by: vec!["region".into()], value_column: "temperature".into(), function: "avg".into(), n: 5, ..Default::default() }).await.unwrap();
            },
            "SELECT region, avg(temperature) a FROM {src} GROUP BY region ORDER BY a DESC LIMIT 5");
        case!("Trend (per region)", "-",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                c.trend(proto::TrendRequest { table: t, group_by: vec!["region".into()], time_column: "ts".into(), value_column: "temperature".into(), ..Default::default() }).await.unwrap();
            },
            "SELECT region, regr_slope(temperature, epoch_us(ts) / 1e6), regr_intercept(temperature, epoch_us(ts) / 1e6), regr_r2(temperature, epoch_us(ts) / 1e6) FROM {src} GROUP BY region");
        case!("Trend (per sensor)", "-",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                c.trend(proto::TrendRequest { table: t, group_by: vec!["sensor_id".into()], time_column: "ts".into(), value_column: "temperature".into(), ..Default::default() }).await.unwrap();
            },
            "SELECT sensor_id, regr_slope(temperature, epoch_us(ts) / 1e6), regr_intercept(temperature, epoch_us(ts) / 1e6), regr_r2(temperature, epoch_us(ts) / 1e6) FROM {src} GROUP BY sensor_id");
        case!("DetectAnomalies (z ≥ 3 per sensor)", "2x",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                c.detect_anomalies(proto::DetectAnomaliesRequest { table: t, group_by: vec!["sensor_id".into()], time_column: "ts".into(), value_column: "temperature".into(), threshold: 3.0, ..Default::default() }).await.unwrap();
            },
            "SELECT * FROM (SELECT sensor_id, ts, temperature, (temperature - avg(temperature) OVER w) / stddev_samp(temperature) OVER w AS z FROM {src} WINDOW w AS (PARTITION BY sensor_id)) WHERE abs(z) >= 3");
        case!("DetectAnomalies (z ≥ 3 per region)", "-",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                c.detect_anomalies(proto::DetectAnomaliesRequest { table: t, group_by: vec!["region".into()], time_column: "ts".into(), value_column: "temperature".into(), threshold: 3.0, ..Default::default() }).await.unwrap();
            },
            "SELECT * FROM (SELECT region, ts, temperature, (temperature - avg(temperature) OVER w) / stddev_samp(temperature) OVER w AS z FROM {src} WINDOW w AS (PARTITION BY region)) WHERE abs(z) >= 3");
        case!("MovingAverage (100 rows, sensor 3)", "2x",
            |mut c: AnalyticsServiceClient<tonic::transport::Channel>, t| async move {
                let filter = Some(proto::Filter { kind: Some(proto::filter::Kind::Compare(proto::Comparison { column: "sensor_id".into(), op: proto::CompareOp::Eq as i32,
                    value: Some(proto::Literal { value: Some(proto::literal::Value::IntValue(3)) }) })) });
                c.moving_average(proto::MovingAverageRequest { table: t, filter, time_column: "ts".into(), value_column: "temperature".into(), window_rows: 100, ..Default::default() }).await.unwrap();
            },
            "SELECT ts, temperature, avg(temperature) OVER (ORDER BY ts ROWS BETWEEN 99 PRECEDING AND CURRENT ROW) FROM {src} WHERE sensor_id = 3");
        println!();
        println!("Peak RSS of the benchmark process (server + client + DuckDB referee): {:.0} MiB", common::peak_rss_mib());
    });
}
