//! End-to-end Select throughput and metadata latency.
//!
//! `cargo bench --bench select` (release settings). Rows default to 10M; set
//! `VASTGATE_BENCH_ROWS` to change, and `VASTGATE_BENCH_DATA` to reuse a generated folder.
//! Prints a Markdown report for `benches/RESULTS.md`. For profiling one read:
//! `VG_BENCH_ONLY=<part of its label>` runs only the matching reads (and no DescribeTable
//! rounds), `VG_BENCH_ROUNDS=<n>` sets the rounds of each side (default 3).

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use futures::StreamExt;
use tonic::transport::Channel;
use vastgate::proto::{self, query_service_client::QueryServiceClient};

mod common;

fn main() {
    let (data, _keep) = common::data();
    let parquet = data.join("demo/sensors.parquet");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(data, parquet));
}

async fn run(data: PathBuf, parquet: PathBuf) {
    let channel = common::server(data, |_| {}).await;
    let client = QueryServiceClient::new(channel).max_decoding_message_size(64 << 20);
    let table = Some(proto::TableRef {
        bucket: String::new(),
        schema: "demo".into(),
        table: "sensors".into(),
    });

    println!("| read | rows | seconds | Mrows/s | MB/s (IPC bytes) | vs DuckDB |");
    println!("|---|---|---|---|---|---|");
    let two = || vec!["ts".to_owned(), "temperature".to_owned()];
    // Every 20th row: the filter keeps a sliver of every read batch.
    let sensor_3 = proto::Filter {
        kind: Some(proto::filter::Kind::Compare(proto::Comparison {
            column: "sensor_id".into(),
            op: proto::CompareOp::Eq as i32,
            value: Some(proto::Literal {
                value: Some(proto::literal::Value::IntValue(3)),
            }),
        })),
    };
    let only = std::env::var("VG_BENCH_ONLY").unwrap_or_default();
    let rounds: usize = std::env::var("VG_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    // The same read twice: as a Select (columns, filter) and as DuckDB SQL (columns, WHERE).
    for (label, columns, filter, sql, sql_where) in [
        ("all 7 columns", vec![], None, "*", ""),
        (
            "2 columns (ts, temperature)",
            two(),
            None,
            "ts, temperature",
            "",
        ),
        (
            "2 columns where sensor_id = 3",
            two(),
            Some(sensor_3),
            "ts, temperature",
            " WHERE sensor_id = 3",
        ),
    ] {
        if !label.contains(only.as_str()) {
            continue;
        }
        let duck = duckdb_read(&parquet, sql, sql_where, rounds);
        let ours = best_of(rounds, || {
            grpc_select(
                client.clone(),
                table.clone(),
                columns.clone(),
                filter.clone(),
            )
        })
        .await;
        for (who, (rows, bytes, secs)) in [
            ("DuckDB read_parquet → Arrow, in process", duck),
            ("vastgate Select over gRPC", ours),
        ] {
            println!(
                "| {label}: {who} | {rows} | {secs:.3} | {:.1} | {:.0} | {:.2}x |",
                rows as f64 / secs / 1e6,
                bytes as f64 / secs / 1e6,
                secs / duck.2,
            );
        }
    }

    if !only.is_empty() {
        return;
    }
    // Cached DescribeTable latency, then throughput at 16 concurrent clients.
    let mut describe = client.clone();
    let request = proto::DescribeTableRequest {
        table: table.clone(),
        bypass_cache: false,
    };
    describe.describe_table(request.clone()).await.unwrap();
    let mut latencies = Vec::new();
    for _ in 0..2_000 {
        let t = Instant::now();
        describe.describe_table(request.clone()).await.unwrap();
        latencies.push(t.elapsed());
    }
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let window = Duration::from_secs(5);
    let started = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let mut c = client.clone();
            let r = request.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while started.elapsed() < window {
                    c.describe_table(r.clone()).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    println!();
    println!(
        "DescribeTable (cached): p50 {:.0} µs, p99 {:.0} µs; {:.0} requests/s at 16 concurrent clients",
        p(0.50).as_secs_f64() * 1e6,
        p(0.99).as_secs_f64() * 1e6,
        total as f64 / started.elapsed().as_secs_f64()
    );
    println!(
        "Peak RSS of the benchmark process (server + client + DuckDB referee): {:.0} MiB",
        common::peak_rss_mib()
    );
}

async fn best_of<F, Fut>(n: usize, mut f: F) -> (u64, u64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (u64, u64, f64)>,
{
    let mut best = (0, 0, f64::MAX);
    for _ in 0..n {
        let r = f().await;
        if r.2 < best.2 {
            best = r;
        }
    }
    best
}

/// Rows, IPC bytes and seconds of one Select that decodes every batch.
async fn grpc_select(
    mut client: QueryServiceClient<Channel>,
    table: Option<proto::TableRef>,
    columns: Vec<String>,
    filter: Option<proto::Filter>,
) -> (u64, u64, f64) {
    let started = Instant::now();
    let mut stream = client
        .select(proto::SelectRequest {
            table,
            columns,
            filter,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut decoder = arrow::ipc::reader::StreamDecoder::new();
    let (mut rows, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        bytes += chunk.data.len() as u64;
        let mut buffer = arrow::buffer::Buffer::from(chunk.data);
        while !buffer.is_empty() {
            if let Some(batch) = decoder.decode(&mut buffer).unwrap() {
                rows += batch.num_rows() as u64;
            }
        }
    }
    (rows, bytes, started.elapsed().as_secs_f64())
}

/// Rows, Arrow bytes and seconds of DuckDB reading the Parquet file (`sql_where` applied)
/// into Arrow batches: the faster of `query_arrow` (materialised) and `stream_arrow`
/// (streamed), best of three each.
fn duckdb_read(
    parquet: &std::path::Path,
    columns: &str,
    sql_where: &str,
    rounds: usize,
) -> (u64, u64, f64) {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch("SET threads = 2").unwrap();
    let sql = format!(
        "SELECT {columns} FROM read_parquet('{}'){sql_where}",
        parquet.display()
    );
    let mut best = (0, 0, f64::MAX);
    for streamed in [false, true] {
        for _ in 0..rounds {
            let started = Instant::now();
            let mut stmt = conn.prepare(&sql).unwrap();
            let (mut rows, mut bytes) = (0u64, 0u64);
            let mut count = |batch: arrow::record_batch::RecordBatch| {
                rows += batch.num_rows() as u64;
                bytes += batch.get_array_memory_size() as u64;
            };
            if streamed {
                for batch in stmt.stream_arrow([]).unwrap() {
                    count(batch.unwrap());
                }
            } else {
                for batch in stmt.query_arrow([]).unwrap() {
                    count(batch);
                }
            }
            let secs = started.elapsed().as_secs_f64();
            if secs < best.2 {
                best = (rows, bytes, secs);
            }
        }
    }
    best
}
