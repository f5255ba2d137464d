//! AnalyticsService end to end on demo data, each analytic checked against DuckDB computing the
//! same answer straight from the Parquet file with SQL written here, independently.

use std::collections::HashMap;

use tonic::Code;
use vastgate::proto::{self, CompareOp, Filter, filter::Kind, literal::Value as Lit};

use crate::{
    harness::{TestServer, parquet_path, sensors},
    referee::decode_chunks,
};

fn sensor_below(id: i64) -> Option<Filter> {
    Some(Filter {
        kind: Some(Kind::Compare(proto::Comparison {
            column: "sensor_id".into(),
            op: CompareOp::Lt as i32,
            value: Some(proto::Literal {
                value: Some(Lit::IntValue(id)),
            }),
        })),
    })
}

/// Runs `sql` over the sensors Parquet file (exposed as `s`) and returns every row as text.
fn duck(sql: &str) -> Vec<Vec<Option<String>>> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sql = sql.replace(
        "FROM s",
        &format!("FROM read_parquet('{}')", parquet_path("sensors").display()),
    );
    // Every value as text; DuckDB prints doubles in shortest round-trip form, so nothing is lost.
    let sql = format!("SELECT COLUMNS(*)::VARCHAR FROM ({sql})");
    let mut stmt = conn.prepare(&sql).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let n = row.as_ref().column_count();
        out.push(
            (0..n)
                .map(|i| row.get::<_, Option<String>>(i).unwrap())
                .collect(),
        );
    }
    out
}

fn f(v: &Option<String>) -> f64 {
    v.as_deref().map_or(f64::NAN, |s| s.parse().unwrap())
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn group(g: &Option<proto::Group>) -> String {
    g.as_ref().map(|g| g.values.join("|")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn percentiles_trend_correlation_match_duckdb() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        println!("backend: {backend}");
        let mut client = server.analytics().await;

        let got = client
            .percentiles(proto::PercentilesRequest {
                table: sensors(),
                filter: sensor_below(10),
                group_by: vec!["region".into()],
                value_column: "temperature".into(),
                quantiles: vec![0.1, 0.5, 0.99],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!got.query_id.is_empty());
        let expected = duck(
            "SELECT region, count(temperature), quantile_cont(temperature, 0.1), \
             quantile_cont(temperature, 0.5), quantile_cont(temperature, 0.99) \
             FROM s WHERE sensor_id < 10 GROUP BY region ORDER BY region",
        );
        assert_eq!(got.rows.len(), expected.len());
        for (row, want) in got.rows.iter().zip(&expected) {
            assert_eq!(group(&row.group), want[0].clone().unwrap());
            assert_eq!(row.n.to_string(), want[1].clone().unwrap());
            for (i, q) in row.values.iter().enumerate() {
                assert!(
                    close(q.value, f(&want[2 + i])),
                    "{q:?} vs {:?}",
                    want[2 + i]
                );
            }
        }

        let got = client
            .trend(proto::TrendRequest {
                table: sensors(),
                group_by: vec!["sensor_id".into()],
                time_column: "ts".into(),
                value_column: "temperature".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let expected = duck(
            "SELECT sensor_id, regr_slope(temperature, epoch_us(ts) / 1e6), \
             regr_intercept(temperature, epoch_us(ts) / 1e6), regr_r2(temperature, epoch_us(ts) / 1e6), \
             regr_count(temperature, epoch_us(ts) / 1e6) FROM s GROUP BY sensor_id ORDER BY sensor_id",
        );
        assert_eq!(got.trends.len(), 20);
        for (row, want) in got.trends.iter().zip(&expected) {
            assert_eq!(group(&row.group), want[0].clone().unwrap());
            assert!(close(row.slope_per_second, f(&want[1])), "{row:?} {want:?}");
            assert!(
                (row.intercept - f(&want[2])).abs() <= 1e-6 * f(&want[2]).abs().max(1.0),
                "{row:?} {want:?}"
            );
            assert!(close(row.r_squared, f(&want[3])));
            assert_eq!(row.n.to_string(), want[4].clone().unwrap());
        }
        // The generator gives sensor k a trend of (k - 9.5) × 0.004 °C per day on top of a daily
        // cycle shared by all sensors, so slopes differ by 0.076 °C per day from sensor 0 to 19.
        let spread = (got.trends[19].slope_per_second - got.trends[0].slope_per_second) * 86_400.0;
        assert!(
            (spread - 0.076).abs() < 0.02,
            "slope spread {spread} °C/day"
        );

        let got = client
            .correlation(proto::CorrelationRequest {
                table: sensors(),
                columns: vec!["temperature".into(), "humidity".into(), "pressure".into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut pairs: HashMap<(String, String), (f64, u64)> = HashMap::new();
        for p in &got.pairs {
            pairs.insert((p.x.clone(), p.y.clone()), (p.r, p.n));
        }
        for (x, y) in [
            ("temperature", "humidity"),
            ("temperature", "pressure"),
            ("humidity", "pressure"),
        ] {
            let want = duck(&format!(
                "SELECT corr({x}, {y}), count(*) FILTER ({x} IS NOT NULL AND {y} IS NOT NULL) FROM s"
            ));
            let (r, n) = pairs[&(x.to_owned(), y.to_owned())];
            assert!(close(r, f(&want[0][0])), "{x},{y}: {r} vs {:?}", want[0][0]);
            assert_eq!(n.to_string(), want[0][1].clone().unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn histogram_top_n_window_match_duckdb() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        println!("backend: {backend}");
        let mut client = server.analytics().await;

        let got = client
            .histogram(proto::HistogramRequest {
                table: sensors(),
                group_by: vec!["region".into()],
                value_column: "humidity".into(),
                edges: vec![40.0, 50.0, 60.0, 70.0],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let expected = duck(
            "SELECT region, count(*) FILTER (humidity >= 40 AND humidity < 50), \
             count(*) FILTER (humidity >= 50 AND humidity < 60), \
             count(*) FILTER (humidity >= 60 AND humidity <= 70), \
             count(*) FILTER (humidity < 40), count(*) FILTER (humidity > 70), \
             count(*) FILTER (humidity IS NULL) FROM s GROUP BY region ORDER BY region",
        );
        assert_eq!(got.histograms.len(), 4);
        for (h, want) in got.histograms.iter().zip(&expected) {
            assert_eq!(group(&h.group), want[0].clone().unwrap());
            let counts: Vec<String> = h.bins.iter().map(|b| b.count.to_string()).collect();
            let want_counts: Vec<String> = want[1..4].iter().map(|v| v.clone().unwrap()).collect();
            assert_eq!(counts, want_counts);
            assert_eq!(
                [h.underflow, h.overflow, h.nulls]
                    .map(|v| v.to_string())
                    .to_vec(),
                want[4..7]
                    .iter()
                    .map(|v| v.clone().unwrap())
                    .collect::<Vec<_>>()
            );
        }

        let got = client
            .top_n(proto::TopNRequest {
                table: sensors(),
                group_by: vec!["sensor_id".into()],
                value_column: "temperature".into(),
                function: "avg".into(),
                n: 3,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let expected = duck(
            "SELECT sensor_id, avg(temperature) AS a FROM s GROUP BY sensor_id ORDER BY a DESC LIMIT 3",
        );
        assert_eq!(got.rows.len(), 3);
        for (i, (row, want)) in got.rows.iter().zip(&expected).enumerate() {
            assert_eq!(row.rank as usize, i + 1);
            assert_eq!(group(&row.group), want[0].clone().unwrap());
            assert!(close(row.value, f(&want[1])));
        }
        // By a string column (its groups coded), bottom N.
        let got = client
            .top_n(proto::TopNRequest {
                table: sensors(),
                group_by: vec!["region".into()],
                value_column: "temperature".into(),
                function: "max".into(),
                n: 2,
                ascending: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let expected = duck(
            "SELECT region, max(temperature) AS m FROM s GROUP BY region ORDER BY m ASC, region LIMIT 2",
        );
        assert_eq!(got.rows.len(), 2);
        for (i, (row, want)) in got.rows.iter().zip(&expected).enumerate() {
            assert_eq!(row.rank as usize, i + 1);
            assert_eq!(group(&row.group), want[0].clone().unwrap());
            assert!(close(row.value, f(&want[1])));
        }

        let day = 1_767_225_600i64;
        let got = client
            .window_aggregate(proto::WindowAggregateRequest {
                table: sensors(),
                filter: sensor_below(4),
                group_by: vec!["region".into()],
                time_column: "ts".into(),
                interval: Some(prost_types::Duration {
                    seconds: 3_600,
                    nanos: 0,
                }),
                value_columns: vec!["temperature".into()],
                functions: vec!["count".into(), "avg".into(), "max".into(), "p95".into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let expected = duck(
            "SELECT region, (epoch_us(ts) // 3600000000) * 3600 AS b, count(temperature), avg(temperature), \
             max(temperature), quantile_cont(temperature, 0.95) FROM s WHERE sensor_id < 4 \
             GROUP BY region, b ORDER BY region, b",
        );
        assert_eq!(got.buckets.len(), expected.len());
        for (bucket, want) in got.buckets.iter().zip(&expected) {
            assert_eq!(group(&bucket.group), want[0].clone().unwrap());
            let start = bucket.start.as_ref().unwrap().seconds;
            assert_eq!(start.to_string(), want[1].clone().unwrap());
            assert!(start >= day && start % 3_600 == 0);
            for (key, i) in [
                ("count_temperature", 2),
                ("avg_temperature", 3),
                ("max_temperature", 4),
                ("p95_temperature", 5),
            ] {
                assert!(
                    close(bucket.values[key], f(&want[i])),
                    "{key}: {} vs {:?}",
                    bucket.values[key],
                    want[i]
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anomalies_and_moving_average_match_duckdb() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        println!("backend: {backend}");
        let mut client = server.analytics().await;
        let got = client
            .detect_anomalies(proto::DetectAnomaliesRequest {
                table: sensors(),
                group_by: vec!["sensor_id".into()],
                time_column: "ts".into(),
                value_column: "temperature".into(),
                threshold: 3.0,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let expected = duck(
            "SELECT sensor_id, epoch_us(ts), z FROM (SELECT sensor_id, ts, \
             (temperature - avg(temperature) OVER w) / stddev_samp(temperature) OVER w AS z \
             FROM s WINDOW w AS (PARTITION BY sensor_id)) WHERE abs(z) >= 3 ORDER BY sensor_id, ts",
        );
        assert!(!expected.is_empty(), "the demo data has injected spikes");
        let non_null = duck("SELECT count(temperature) FROM s");
        assert_eq!(
            got.rows_examined.to_string(),
            non_null[0][0].clone().unwrap()
        );
        let mut ours: Vec<(String, i64, f64)> = got
            .anomalies
            .iter()
            .map(|a| {
                let t = a.time.as_ref().unwrap();
                (
                    group(&a.group),
                    t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000,
                    a.z_score,
                )
            })
            .collect();
        ours.sort_by(|a, b| {
            (a.0.parse::<i32>().unwrap(), a.1).cmp(&(b.0.parse::<i32>().unwrap(), b.1))
        });
        assert_eq!(ours.len(), expected.len());
        for (o, want) in ours.iter().zip(&expected) {
            assert_eq!(o.0, want[0].clone().unwrap());
            assert_eq!(o.1.to_string(), want[1].clone().unwrap());
            assert!(close(o.2, f(&want[2])));
        }

        // By a string column (its groups coded), in the response's own order: by region,
        // then time. A trailing window of 50 rows, ordered by time and value.
        let got = client
            .detect_anomalies(proto::DetectAnomaliesRequest {
                table: sensors(),
                group_by: vec!["region".into()],
                time_column: "ts".into(),
                value_column: "temperature".into(),
                threshold: 3.0,
                window_rows: 50,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let expected = duck(
            "SELECT region, epoch_us(ts), z FROM (SELECT region, ts, temperature, \
             (temperature - avg(temperature) OVER w) / stddev_samp(temperature) OVER w AS z \
             FROM s WHERE temperature IS NOT NULL \
             WINDOW w AS (PARTITION BY region ORDER BY ts, temperature \
             ROWS BETWEEN 49 PRECEDING AND CURRENT ROW)) \
             WHERE abs(z) >= 3 ORDER BY region, ts, temperature",
        );
        assert!(!expected.is_empty(), "the demo data has injected spikes");
        assert_eq!(got.anomalies.len(), expected.len());
        for (a, want) in got.anomalies.iter().zip(&expected) {
            let t = a.time.as_ref().unwrap();
            assert_eq!(group(&a.group), want[0].clone().unwrap());
            assert_eq!(
                (t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000).to_string(),
                want[1].clone().unwrap()
            );
            assert!(close(a.z_score, f(&want[2])));
        }

        let got = client
            .moving_average(proto::MovingAverageRequest {
                table: sensors(),
                filter: Some(Filter {
                    kind: Some(Kind::Compare(proto::Comparison {
                        column: "sensor_id".into(),
                        op: CompareOp::Eq as i32,
                        value: Some(proto::Literal {
                            value: Some(Lit::IntValue(3)),
                        }),
                    })),
                }),
                time_column: "ts".into(),
                value_column: "temperature".into(),
                window_rows: 5,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let expected = duck(
            "SELECT epoch_us(ts), avg(temperature) OVER (ORDER BY ts ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) \
             FROM s WHERE sensor_id = 3 ORDER BY ts",
        );
        assert_eq!(got.points.len(), expected.len());
        for (p, want) in got.points.iter().zip(&expected) {
            let t = p.time.as_ref().unwrap();
            assert_eq!(
                (t.seconds * 1_000_000).to_string(),
                want[0].clone().unwrap()
            );
            assert!(close(p.average, f(&want[1])), "{p:?} {want:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sql_over_the_filtered_view_and_refusals() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        println!("backend: {backend}");
        let mut client = server.analytics().await;
        let stream = client
            .sql(proto::SqlRequest {
                table: sensors(),
                filter: sensor_below(8),
                sql: "SELECT region, count(*) AS n, round(avg(temperature), 6) AS a FROM t GROUP BY region ORDER BY region".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let (_, batches, _) = decode_chunks(stream).await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        let expected = duck(
            "SELECT region, count(*), round(avg(temperature), 6) FROM s WHERE sensor_id < 8 GROUP BY region ORDER BY region",
        );
        for row in &expected {
            let line = format!(
                "| {} | {} | {} |",
                row[0].clone().unwrap(),
                row[1].clone().unwrap(),
                row[2].clone().unwrap()
            );
            let compact: String = text.split_whitespace().collect();
            assert!(
                compact.contains(&line.split_whitespace().collect::<String>()),
                "{line} not in\n{text}"
            );
        }

        for bad in [
            "SELECT 1; SELECT 2",
            "COPY t TO '/tmp/x.csv'",
            "SELECT * FROM read_parquet('/etc/passwd')",
            "ATTACH 'x.db'",
            "PRAGMA version",
            "INSTALL httpfs",
        ] {
            let status = match client
                .sql(proto::SqlRequest {
                    table: sensors(),
                    sql: bad.into(),
                    ..Default::default()
                })
                .await
            {
                Err(status) => status,
                Ok(stream) => decode_chunks(stream.into_inner()).await.expect_err(bad),
            };
            assert_eq!(status.code(), Code::InvalidArgument, "{bad}: {status:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn analytics_errors_name_the_problem() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        println!("backend: {backend}");
        let mut client = server.analytics().await;
        let status = client
            .percentiles(proto::PercentilesRequest {
                table: sensors(),
                value_column: "region".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("region"), "{status:?}");
        let status = client
            .percentiles(proto::PercentilesRequest {
                table: sensors(),
                value_column: "temperature".into(),
                quantiles: vec![1.5],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let status = client
            .window_aggregate(proto::WindowAggregateRequest {
                table: sensors(),
                time_column: "ts".into(),
                interval: Some(prost_types::Duration {
                    seconds: 0,
                    nanos: 0,
                }),
                value_columns: vec!["temperature".into()],
                functions: vec!["avg".into()],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        let missing = proto::TableRef {
            bucket: String::new(),
            schema: "demo".into(),
            table: "nope".into(),
        };
        let status = client
            .trend(proto::TrendRequest {
                table: Some(missing),
                time_column: "ts".into(),
                value_column: "temperature".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
    }
}

#[tokio::test]
async fn oversized_typed_results_are_refused_not_truncated() {
    let server = TestServer::with_config("[engine]\nmax_response_rows = 1000\n").await;
    let mut client = server.analytics().await;
    let request = |window_rows| proto::MovingAverageRequest {
        table: sensors(),
        filter: sensor_below(1),
        time_column: "ts".into(),
        value_column: "temperature".into(),
        window_rows,
        ..Default::default()
    };
    let status = client.moving_average(request(10)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("max_response_rows"), "{status:?}");
    // A result within the limit is complete.
    let got = client
        .top_n(proto::TopNRequest {
            table: sensors(),
            group_by: vec!["sensor_id".into()],
            function: "count".into(),
            n: 20,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.rows.len(), 20);
}

/// Writes table `s.t` (`k` Int32, `v` Float64) into `dir` as one Parquet file.
fn write_small_table(dir: &std::path::Path, keys: &[i32]) {
    use arrow::array::{Float64Array, Int32Array, RecordBatch};
    let table = dir.join("s");
    std::fs::create_dir_all(&table).unwrap();
    let batch = RecordBatch::try_from_iter(vec![
        (
            "k",
            std::sync::Arc::new(Int32Array::from(keys.to_vec())) as arrow::array::ArrayRef,
        ),
        (
            "v",
            std::sync::Arc::new(Float64Array::from(vec![1.0; keys.len()])),
        ),
    ])
    .unwrap();
    // Written aside and renamed, as a data pipeline replaces a file.
    let part = table.join("t.parquet.part");
    let file = std::fs::File::create(&part).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    std::fs::rename(&part, table.join("t.parquet")).unwrap();
}

/// TopN grouped by a small integer column narrows it from the Parquet statistics; when the
/// file is replaced by one with wider values while its metadata is cached, the engine refuses
/// the narrowed value and the request runs again on fresh metadata without narrowing: the
/// client gets the new data's answer.
#[tokio::test]
async fn a_group_range_from_stale_statistics_is_run_again_on_fresh_metadata() {
    let dir = tempfile::tempdir().unwrap();
    write_small_table(dir.path(), &[0, 1, 1, 3, 3, 3]);
    let server = TestServer::over(dir.path(), "").await;
    let mut client = server.analytics().await;
    let table = Some(proto::TableRef {
        bucket: String::new(),
        schema: "s".into(),
        table: "t".into(),
    });
    let request = || proto::TopNRequest {
        table: table.clone(),
        group_by: vec!["k".into()],
        function: "count".into(),
        n: 10,
        ..Default::default()
    };
    let counts = |rows: &[proto::TopNRow]| -> Vec<(String, f64)> {
        rows.iter().map(|r| (group(&r.group), r.value)).collect()
    };
    let got = client.top_n(request()).await.unwrap().into_inner();
    assert_eq!(
        counts(&got.rows),
        [
            ("3".to_owned(), 3.0),
            ("1".to_owned(), 2.0),
            ("0".to_owned(), 1.0)
        ]
    );

    write_small_table(dir.path(), &[1000, 1000, 7, 1000, 7]);
    let got = client.top_n(request()).await.unwrap().into_inner();
    assert_eq!(
        counts(&got.rows),
        [("1000".to_owned(), 3.0), ("7".to_owned(), 2.0)]
    );
    // Looked up: cached (stale), then afresh after the refusal.
    let stats = server
        .admin()
        .await
        .cache_stats(proto::CacheStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((stats.hits, stats.misses), (1, 2), "{stats:?}");
}

/// Writes table `s.names` (`name` Utf8) into `dir` as one Parquet file.
fn write_names_table(dir: &std::path::Path, names: &[String]) {
    use arrow::array::{RecordBatch, StringArray};
    let table = dir.join("s");
    std::fs::create_dir_all(&table).unwrap();
    let batch = RecordBatch::try_from_iter(vec![(
        "name",
        std::sync::Arc::new(StringArray::from(names.to_vec())) as arrow::array::ArrayRef,
    )])
    .unwrap();
    let file = std::fs::File::create(table.join("names.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// TopN by a string column counts per group code; the coded query keeps every group tied
/// with the N-th, and the ties are broken by the strings after decoding. With more ties than
/// a coded result may carry, the request runs again over the strings: the rows are scanned
/// twice and the answer is the same. (The first request also finds that 8-bit codes do not
/// hold the column, and runs once more for that.) Both lessons are remembered: the same
/// request again runs once.
#[tokio::test]
async fn top_n_ties_over_group_codes_are_broken_by_the_strings() {
    const DISTINCT: usize = vastgate::analytics::top_n::TIED_ROWS + 10;
    let dir = tempfile::tempdir().unwrap();
    // Written in descending order, so that codes (numbered by arrival) sort against the
    // strings; "n05000" three times, "n07000" twice, every other name once.
    let mut names: Vec<String> = (0..DISTINCT).rev().map(|i| format!("n{i:05}")).collect();
    names.extend(["n05000", "n05000", "n07000"].map(str::to_owned));
    write_names_table(dir.path(), &names);
    let emulator = crate::vast_sdk::Emulator::start(dir.path()).await;
    let backends = [
        (
            "local",
            TestServer::over(dir.path(), "").await,
            String::new(),
        ),
        (
            "vast",
            TestServer::with_vast(&[&emulator.url], "").await,
            crate::vast_sdk::BUCKET.to_owned(),
        ),
    ];
    for (backend, server, bucket) in &backends {
        println!("backend: {backend}");
        let mut client = server.analytics().await;
        let table = Some(proto::TableRef {
            bucket: bucket.clone(),
            schema: "s".into(),
            table: "names".into(),
        });
        let top = |n: u32, ascending: bool| proto::TopNRequest {
            table: table.clone(),
            group_by: vec!["name".into()],
            function: "count".into(),
            n,
            ascending,
            ..Default::default()
        };
        let counts = |rows: &[proto::TopNRow]| -> Vec<(String, f64, u32)> {
            rows.iter()
                .map(|r| (group(&r.group), r.value, r.rank))
                .collect()
        };
        let rows_scanned = || async {
            let queries = server
                .admin()
                .await
                .list_queries(proto::ListQueriesRequest::default())
                .await
                .unwrap()
                .into_inner();
            queries.recent.first().unwrap().rows_scanned
        };
        let rows = names.len() as u64;

        // Two ties at the 3rd place ("n00000" and "n00001" among 10,008 names counted once).
        let got = client.top_n(top(4, false)).await.unwrap().into_inner();
        let want = [
            ("n05000".to_owned(), 3.0, 1),
            ("n07000".to_owned(), 2.0, 2),
            ("n00000".to_owned(), 1.0, 3),
            ("n00001".to_owned(), 1.0, 4),
        ];
        assert_eq!(counts(&got.rows), want);
        assert!(
            rows_scanned().await > 2 * rows,
            "8-bit codes, wide codes, strings"
        );

        // The bottom 2: ties among all but two groups, again more than a coded result carries.
        let got = client.top_n(top(2, true)).await.unwrap().into_inner();
        assert_eq!(
            counts(&got.rows),
            [("n00000".to_owned(), 1.0, 1), ("n00001".to_owned(), 1.0, 2)]
        );
        assert_eq!(rows_scanned().await, 2 * rows, "run again over the strings");

        // Few ties: the coded result is complete, scanned once.
        let got = client.top_n(top(2, false)).await.unwrap().into_inner();
        assert_eq!(counts(&got.rows), want[..2]);
        assert_eq!(rows_scanned().await, rows, "one run over the codes");

        // The first request again: its coded result was cut short, so it runs over the
        // strings at once.
        let got = client.top_n(top(4, false)).await.unwrap().into_inner();
        assert_eq!(counts(&got.rows), want);
        assert_eq!(rows_scanned().await, rows, "one run over the strings");

        // An operator's InvalidateCache forgets the lessons with the metadata.
        server
            .admin()
            .await
            .invalidate_cache(proto::InvalidateCacheRequest {
                table: table.clone(),
            })
            .await
            .unwrap();
        let got = client.top_n(top(4, false)).await.unwrap().into_inner();
        assert_eq!(counts(&got.rows), want);
        assert!(rows_scanned().await > 2 * rows, "learned afresh");
    }
}
