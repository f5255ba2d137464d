//! vastgate on the VAST backend next to the pipeline it replaces (the official `vastdb` SDK
//! selecting the filtered columns, then DuckDB's official Python build computing the analytic),
//! both reading one emulator with its page cache on, each in its own process so the CPU of each
//! side is read apart: vastgate's and the emulator's from `/proc/<pid>/stat`, the Python
//! pipeline's from its own `getrusage`.
//!
//! `VASTGATE_BENCH_DATA=/tmp/bench10m cargo bench --bench pipeline` (needs `.venv` with the SDK
//! and DuckDB, which `.ci/run` creates, or `VASTGATE_PYTHON`; `VG_BENCH_ONLY=percentiles` runs
//! one case). Prints Markdown.

mod common;

use common::{ACCESS, BIN, BUCKET, Process, SECRET, emulator, free_port, wait_for};

use std::{
    net::SocketAddr,
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use tonic::transport::Channel;
use vastgate::proto::{
    self, CompareOp, Comparison, Filter, analytics_service_client::AnalyticsServiceClient,
    filter::Kind, literal::Value,
};

const RUNS: usize = 3;

fn vastgate(url: &str, dir: &Path) -> (Process, SocketAddr) {
    let grpc = free_port();
    let config = dir.join("vastgate.toml");
    std::fs::write(
        &config,
        format!(
            "[backend]\nkind = \"vast\"\n[vast]\nendpoints = [\"{url}\"]\naccess_key = \
             \"{ACCESS}\"\nsecret_key = \"{SECRET}\"\nbuckets = [\"{BUCKET}\"]\n[engine]\n\
             workers = 1\nthreads_per_worker = 2\n"
        ),
    )
    .unwrap();
    let child = Command::new(BIN)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .args([
            "--grpc-listen",
            &grpc.to_string(),
            "--http-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(grpc);
    (Process(child), grpc)
}

fn filter() -> Option<Filter> {
    Some(Filter {
        kind: Some(Kind::Compare(Comparison {
            column: "temperature".into(),
            op: CompareOp::Gt as i32,
            value: Some(proto::Literal {
                value: Some(Value::FloatValue(0.0)),
            }),
        })),
    })
}

fn table() -> Option<proto::TableRef> {
    Some(proto::TableRef {
        bucket: BUCKET.into(),
        schema: "demo".into(),
        table: "sensors".into(),
    })
}

/// One analytic through vastgate; `case` names the same analytic in `pipeline_sdk.py`.
async fn call(client: &mut AnalyticsServiceClient<Channel>, case: &str) {
    let (table, filter) = (table(), filter());
    let s = |v: &str| v.to_owned();
    let answer = match case {
        "percentiles" => client
            .percentiles(proto::PercentilesRequest {
                table,
                filter,
                group_by: vec![s("region")],
                value_column: s("temperature"),
                ..Default::default()
            })
            .await
            .map(drop),
        "correlation" => client
            .correlation(proto::CorrelationRequest {
                table,
                filter,
                columns: vec![s("temperature"), s("humidity"), s("pressure")],
                ..Default::default()
            })
            .await
            .map(drop),
        "top_n" => client
            .top_n(proto::TopNRequest {
                table,
                filter,
                group_by: vec![s("sensor_id")],
                value_column: s("temperature"),
                function: s("avg"),
                n: 5,
                ..Default::default()
            })
            .await
            .map(drop),
        "trend" => client
            .trend(proto::TrendRequest {
                table,
                filter,
                group_by: vec![s("region")],
                time_column: s("ts"),
                value_column: s("temperature"),
                ..Default::default()
            })
            .await
            .map(drop),
        "window_aggregate" => client
            .window_aggregate(proto::WindowAggregateRequest {
                table,
                filter,
                group_by: vec![s("region")],
                time_column: s("ts"),
                interval: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                value_columns: vec![s("temperature")],
                functions: vec![s("count"), s("avg"), s("max"), s("p95")],
                ..Default::default()
            })
            .await
            .map(drop),
        other => panic!("unknown case {other}"),
    };
    answer.unwrap();
}

fn main() {
    let (data, _guard) = common::data();
    let python = common::python();
    let only = std::env::var("VG_BENCH_ONLY").unwrap_or_default();
    let dir = tempfile::tempdir().unwrap();
    let (emulator, url) = emulator(&data);
    let (server, grpc) = vastgate(&url, dir.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let channel = runtime
        .block_on(
            Channel::from_shared(format!("http://{grpc}"))
                .unwrap()
                .connect(),
        )
        .unwrap();
    let mut client = AnalyticsServiceClient::new(channel).max_decoding_message_size(256 << 20);

    println!(
        "| analytic (`temperature > 0`) | vastgate wall (s) | vastgate CPU (s) | emulator CPU \
         (s) | SDK + DuckDB wall (s) | SDK + DuckDB CPU (s) | emulator CPU (s) | wall ratio | \
         CPU ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for case in [
        "percentiles",
        "correlation",
        "top_n",
        "trend",
        "window_aggregate",
    ]
    .into_iter()
    .filter(|case| case.contains(only.as_str()))
    {
        // One run fills the emulator's page cache and warms vastgate; then RUNS measured.
        runtime.block_on(call(&mut client, case));
        let (cpu0, emu0) = (server.cpu_seconds(), emulator.cpu_seconds());
        let mut wall = f64::MAX;
        for _ in 0..RUNS {
            let started = Instant::now();
            runtime.block_on(call(&mut client, case));
            wall = wall.min(started.elapsed().as_secs_f64());
        }
        let ours_cpu = (server.cpu_seconds() - cpu0) / RUNS as f64;
        let ours_emu = (emulator.cpu_seconds() - emu0) / RUNS as f64;

        let emu0 = emulator.cpu_seconds();
        let out = Command::new(&python)
            .env("OPENBLAS_NUM_THREADS", "1")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/benches/pipeline_sdk.py"
            ))
            .args([&url, BUCKET, ACCESS, SECRET, case, &RUNS.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The emulator served the warm-up run too.
        let theirs_emu = (emulator.cpu_seconds() - emu0) / (RUNS + 1) as f64;
        let line = String::from_utf8(out.stdout).unwrap();
        let fields: Vec<f64> = line
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        let (theirs_wall, theirs_cpu) = (fields[0], fields[1]);
        println!(
            "| {case} | {wall:.3} | {ours_cpu:.3} | {ours_emu:.3} | {theirs_wall:.3} | \
             {theirs_cpu:.3} | {theirs_emu:.3} | {:.2}x | {:.2}x |",
            theirs_wall / wall,
            ours_cpu / theirs_cpu
        );
    }
}
