//! Incremental analytics, a dashboard loop: the same WindowAggregate (1 h buckets over 7
//! days), Trend and TopN asked 20 times with the window sliding by one minute between calls,
//! on a 10M-row table whose rows all lie in those days, in two layouts of the same rows:
//! `demo.readings_by_time`, 48 files in time order (~3.6 h each, as appended data lands), and
//! `demo.readings`, 48 files that each span the whole week (demo data, one seed each). Each on
//! the local backend and on the VAST backend over one emulator (`vastgate emulate`, page cache
//! on) serving the same folder. Reported per analytic: the cold call (nothing cached; the
//! median of five), the warm calls (median), the same calls with
//! `cache.partials.enabled = false`, and DuckDB recomputing each window from the Parquet
//! files in this process (2 threads); rows scanned per call (the query log's count) next to
//! the rows in the window.
//!
//! `cargo bench --bench partials` (`VG_PARTIALS_DATA=DIR` keeps the generated table;
//! `VG_PARTIALS_ONLY=local,readings_by_time,TopN` runs only the rows with all those words).

mod common;

use std::{path::Path, time::Instant};

use common::{ACCESS, BUCKET, SECRET};
use tonic::transport::Channel;
use vastgate::{
    config::{BackendKind, Config},
    proto::{
        self, CompareOp, Filter, admin_service_client::AdminServiceClient,
        analytics_service_client::AnalyticsServiceClient, filter::Kind, literal::Value,
    },
};

const FILES: u64 = 48;
const ROWS_PER_FILE: u64 = 210_000;
const CALLS: i64 = 20;
/// Times the cold call is timed (the median is reported).
const COLD_RUNS: usize = 5;
const MINUTE: i64 = 60;
const DAY: i64 = 24 * 3600;
/// The demo data's first timestamp, in seconds.
const START: i64 = vastgate::gen_data::START_MICROS / 1_000_000;

fn main() {
    let (root, _guard) = match std::env::var("VG_PARTIALS_DATA") {
        Ok(dir) => (std::path::PathBuf::from(dir), None),
        Err(_) => {
            let tmp = tempfile::tempdir().expect("temp dir");
            (tmp.path().to_owned(), Some(tmp))
        }
    };
    generate(&root);
    generate_by_time(&root);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (_emulator, url) = common::emulator(&root);
        let vast = |config: &mut Config| {
            config.backend.kind = BackendKind::Vast;
            config.vast.endpoints = vec![url.clone()];
            config.vast.access_key = ACCESS.into();
            config.vast.secret_key = SECRET.into();
            config.vast.buckets = vec![BUCKET.into()];
        };
        let uncached = |config: &mut Config| config.cache.partials.enabled = false;
        let backends = [
            (
                "local",
                "",
                common::server(root.clone(), |_| {}).await,
                common::server(root.clone(), uncached).await,
            ),
            (
                "VAST emulator",
                BUCKET,
                common::server(root.clone(), vast).await,
                common::server(root.clone(), |c| {
                    vast(c);
                    uncached(c);
                })
                .await,
            ),
        ];
        let duckdb = duckdb::Connection::open_in_memory().expect("duckdb");
        duckdb.execute_batch("SET threads = 2").expect("threads");
        println!(
            "{CALLS} calls, the 7-day window sliding 1 min per call; {} rows in {FILES} files\n",
            FILES * ROWS_PER_FILE
        );
        println!(
            "| backend | layout | analytic | cold ms (median of 5) | warm ms (median) | cold / warm | uncached ms (median) | DuckDB from Parquet ms (median) | rows scanned cold | rows scanned warm (mean) | rows in the window | warm scanned / window |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (backend, bucket, cached, plain) in &backends {
            for (name, layout) in [
                ("readings_by_time", "files in time order"),
                ("readings", "every file spans the week"),
            ] {
                let files = format!("{}/demo/{name}/*.parquet", root.display());
                let table = Table { bucket, name };
                for analytic in [Analytic::Window, Analytic::Trend, Analytic::TopN] {
                    if !selected(backend, name, analytic) {
                        continue;
                    }
                    let row = measure(analytic, &table, cached, plain, &duckdb, &files).await;
                    println!("| {backend} | {layout} {row}");
                }
            }
        }
    });
}

/// Whether `VG_PARTIALS_ONLY` (e.g. `local,readings_by_time,TopN`: every word must appear)
/// keeps this row; unset keeps every row.
fn selected(backend: &str, table: &str, analytic: Analytic) -> bool {
    let Ok(only) = std::env::var("VG_PARTIALS_ONLY") else {
        return true;
    };
    let row = format!("{backend} {table} {analytic:?}");
    only.split(',')
        .all(|word| row.split(' ').any(|part| part == word.trim()))
}

/// `demo/readings/part-NN.parquet`: the demo sensors table once per seed.
fn generate(root: &Path) {
    let folder = root.join("demo/readings");
    std::fs::create_dir_all(&folder).expect("table folder");
    for seed in 0..FILES {
        let file = folder.join(format!("part-{seed:02}.parquet"));
        if file.exists() {
            continue;
        }
        let tmp = tempfile::tempdir().expect("temp dir");
        vastgate::gen_data::generate(tmp.path(), ROWS_PER_FILE, seed).expect("generate");
        std::fs::copy(tmp.path().join("demo/sensors.parquet"), &file).expect("copy");
    }
}

/// `demo/readings_by_time/part-NN.parquet`: the rows of `demo.readings` sorted by time and
/// cut into as many files, each a consecutive stretch of time; written by this crate's
/// Parquet writer with the demo data's settings (so with a page index, like the originals).
fn generate_by_time(root: &Path) {
    let folder = root.join("demo/readings_by_time");
    std::fs::create_dir_all(&folder).expect("table folder");
    let duckdb = duckdb::Connection::open_in_memory().expect("duckdb");
    let source = format!("{}/demo/readings/*.parquet", root.display());
    let minutes = (ROWS_PER_FILE / u64::from(vastgate::gen_data::SENSORS)) as i64;
    for part in 0..FILES as i64 {
        let file = folder.join(format!("part-{part:02}.parquet"));
        if file.exists() {
            continue;
        }
        let minute = |p: i64| START * 1_000_000 + p * minutes / FILES as i64 * 60_000_000;
        let sorted = folder.join(format!(".part-{part:02}.duckdb.parquet"));
        duckdb
            .execute(
                &format!(
                    "COPY (SELECT * FROM read_parquet('{source}') \
                     WHERE epoch_us(ts) >= ? AND epoch_us(ts) < ? ORDER BY ts, sensor_id) \
                     TO '{}' (FORMAT parquet)",
                    sorted.display()
                ),
                [minute(part), minute(part + 1)],
            )
            .expect("sorted slice");
        rewrite(&sorted, &file);
        std::fs::remove_file(&sorted).expect("remove the DuckDB copy");
    }
}

/// `from` (written by DuckDB) rewritten to `to` in the demo schema and Parquet settings.
fn rewrite(from: &Path, to: &Path) {
    use parquet::{
        arrow::{ArrowWriter, arrow_reader::ParquetRecordBatchReaderBuilder},
        basic::Compression,
        file::properties::WriterProperties,
    };
    let schema = vastgate::gen_data::sensors_schema();
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(from).expect("open"))
        .expect("reader")
        .with_batch_size(65_536)
        .build()
        .expect("reader");
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(vastgate::gen_data::ROW_GROUP_ROWS))
        .build();
    let tmp = to.with_extension("parquet.tmp");
    let out = std::fs::File::create(&tmp).expect("create");
    let mut writer =
        ArrowWriter::try_new(out, std::sync::Arc::clone(&schema), Some(props)).expect("writer");
    for batch in reader {
        let batch = batch.expect("batch");
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let column = batch.column_by_name(f.name()).expect("column");
                arrow::compute::cast(column, f.data_type()).expect("cast")
            })
            .collect();
        let batch =
            arrow::record_batch::RecordBatch::try_new(std::sync::Arc::clone(&schema), columns)
                .expect("batch");
        writer.write(&batch).expect("write");
    }
    writer.close().expect("close");
    std::fs::rename(&tmp, to).expect("rename");
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Analytic {
    Window,
    Trend,
    TopN,
}

/// The window of call `call`: 7 days from 7 min after the data starts, slid a minute per call.
fn window(call: i64) -> (i64, i64) {
    let from = START + 7 * MINUTE + call * MINUTE;
    (from, from + 7 * DAY)
}

fn filter(call: i64) -> Option<Filter> {
    let (from, to) = window(call);
    let ts = |op: CompareOp, seconds: i64| Filter {
        kind: Some(Kind::Compare(proto::Comparison {
            column: "ts".into(),
            op: op as i32,
            value: Some(proto::Literal {
                value: Some(Value::TimestampValue(prost_types::Timestamp {
                    seconds,
                    nanos: 0,
                })),
            }),
        })),
    };
    Some(Filter {
        kind: Some(Kind::And(proto::FilterList {
            filters: vec![ts(CompareOp::Ge, from), ts(CompareOp::Lt, to)],
        })),
    })
}

/// A table of the benchmark, and the bucket it is in on the VAST backend.
struct Table<'a> {
    bucket: &'a str,
    name: &'a str,
}

fn table_ref(table: &Table<'_>) -> Option<proto::TableRef> {
    Some(proto::TableRef {
        bucket: table.bucket.into(),
        schema: "demo".into(),
        table: table.name.into(),
    })
}

/// One call; returns its query id.
async fn call(channel: &Channel, analytic: Analytic, table: &Table<'_>, n: i64) -> String {
    let mut client = AnalyticsServiceClient::new(channel.clone());
    let metadata = match analytic {
        Analytic::Window => client
            .window_aggregate(proto::WindowAggregateRequest {
                table: table_ref(table),
                filter: filter(n),
                group_by: vec!["region".into()],
                time_column: "ts".into(),
                interval: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                value_columns: vec!["temperature".into()],
                functions: ["avg", "max", "p95"].map(String::from).to_vec(),
                ..Default::default()
            })
            .await
            .expect("WindowAggregate")
            .metadata()
            .clone(),
        Analytic::Trend => client
            .trend(proto::TrendRequest {
                table: table_ref(table),
                filter: filter(n),
                group_by: vec!["region".into()],
                time_column: "ts".into(),
                value_column: "temperature".into(),
                ..Default::default()
            })
            .await
            .expect("Trend")
            .metadata()
            .clone(),
        Analytic::TopN => client
            .top_n(proto::TopNRequest {
                table: table_ref(table),
                filter: filter(n),
                group_by: vec!["sensor_id".into()],
                value_column: "temperature".into(),
                function: "avg".into(),
                n: 5,
                ..Default::default()
            })
            .await
            .expect("TopN")
            .metadata()
            .clone(),
    };
    metadata
        .get("x-query-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn rows_scanned(channel: &Channel, query_id: &str) -> u64 {
    let mut admin = AdminServiceClient::new(channel.clone());
    admin
        .get_query(proto::GetQueryRequest {
            query_id: query_id.to_owned(),
        })
        .await
        .expect("GetQuery")
        .into_inner()
        .query
        .map_or(0, |q| q.rows_scanned)
}

fn duckdb_sql(analytic: Analytic, files: &str) -> String {
    let from = format!(
        "read_parquet('{files}') WHERE epoch_us(ts) >= ? * 1000000 AND epoch_us(ts) < ? * 1000000"
    );
    match analytic {
        Analytic::Window => format!(
            "SELECT region, epoch_us(ts) // 3600000000 AS b, avg(temperature), \
             max(temperature), quantile_cont(temperature, 0.95) FROM {from} GROUP BY ALL"
        ),
        Analytic::Trend => format!(
            "SELECT region, regr_slope(temperature, epoch_us(ts) / 1e6), \
             regr_intercept(temperature, epoch_us(ts) / 1e6), regr_r2(temperature, epoch_us(ts) / 1e6), \
             regr_count(temperature, epoch_us(ts) / 1e6) FROM {from} GROUP BY ALL"
        ),
        Analytic::TopN => format!(
            "SELECT sensor_id, avg(temperature) AS v FROM {from} GROUP BY ALL ORDER BY v DESC LIMIT 5"
        ),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

async fn measure(
    analytic: Analytic,
    table: &Table<'_>,
    cached: &Channel,
    plain: &Channel,
    duckdb: &duckdb::Connection,
    files: &str,
) -> String {
    let invalidate = || async {
        AdminServiceClient::new(cached.clone())
            .invalidate_cache(proto::InvalidateCacheRequest {
                table: table_ref(table),
            })
            .await
            .expect("InvalidateCache");
    };
    // The cold call is timed COLD_RUNS times (each after an invalidation), the median kept:
    // a single sample of it moved the ratio by a third between runs.
    let mut cold_ms = Vec::new();
    for _ in 0..COLD_RUNS {
        invalidate().await;
        let started = Instant::now();
        call(cached, analytic, table, 0).await;
        cold_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    invalidate().await;
    let (mut cached_ms, mut cached_rows) = (Vec::new(), Vec::new());
    let mut plain_ms = Vec::new();
    let mut duckdb_ms = Vec::new();
    let sql = duckdb_sql(analytic, files);
    let mut statement = duckdb.prepare(&sql).expect("prepare");
    for n in 0..CALLS {
        let started = Instant::now();
        let id = call(cached, analytic, table, n).await;
        cached_ms.push(started.elapsed().as_secs_f64() * 1e3);
        cached_rows.push(rows_scanned(cached, &id).await);
        let started = Instant::now();
        call(plain, analytic, table, n).await;
        plain_ms.push(started.elapsed().as_secs_f64() * 1e3);
        let (from, to) = window(n);
        let started = Instant::now();
        let rows = statement
            .query_map([from, to], |_| Ok(()))
            .expect("query")
            .count();
        assert!(rows > 0);
        duckdb_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let (from, to) = window(0);
    let in_window: u64 = duckdb
        .query_row(
            &format!("SELECT count(*) FROM read_parquet('{files}') WHERE epoch_us(ts) >= ? * 1000000 AND epoch_us(ts) < ? * 1000000"),
            [from, to],
            |r| r.get(0),
        )
        .expect("count");
    let cold_ms = median(cold_ms);
    let warm_ms = median(cached_ms[1..].to_vec());
    let warm_rows = cached_rows[1..].iter().sum::<u64>() as f64 / (CALLS - 1) as f64;
    let name = match analytic {
        Analytic::Window => "WindowAggregate 1 h (avg max p95) by region",
        Analytic::Trend => "Trend by region",
        Analytic::TopN => "TopN 5 sensors by avg",
    };
    format!(
        "| {name} | {cold_ms:.1} | {warm_ms:.1} | {:.0}x | {:.1} | {:.1} | {} | {:.0} | {} | {:.2}% |",
        cold_ms / warm_ms,
        median(plain_ms),
        median(duckdb_ms),
        cached_rows[0],
        warm_rows,
        in_window,
        100.0 * warm_rows / in_window as f64,
    )
}
