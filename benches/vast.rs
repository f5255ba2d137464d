//! Full scan of `demo.sensors` through one emulator: the Rust VAST client next to the official
//! Python SDK with the same QueryConfig.
//!
//! `VASTGATE_BENCH_DATA=/tmp/bench10m cargo bench --bench vast` (needs `.venv` with the SDK,
//! which `cargo test --release` creates, or `VASTGATE_PYTHON`). Prints Markdown.

mod common;

use std::{sync::Arc, time::Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use vastgate::{
    backend::{Backend, TableRef, vast::VastBackend},
    config::{ExecConfig, VastConfig},
    emulator::{self, EmulatorConfig, FaultConfig},
    exec::{Executor, ScanStats},
    plan::{self, ReadSpec},
    proto::QueryHints,
};

const BUCKET: &str = "bench";
const ACCESS: &str = "bench-access";
const SECRET: &str = "bench-secret";
const SPLITS: u32 = 8;
const SUB_SPLITS: u32 = 4;
const WORKERS: usize = 4;

fn main() {
    let (data, _guard) = common::data();
    let python = common::python();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let config = EmulatorConfig {
            data_dir: data,
            bucket: BUCKET.into(),
            access_key: ACCESS.into(),
            secret_key: SECRET.into(),
            faults: FaultConfig::default(),
            tls: None,
            // Encoded pages served from memory after the first run: both clients are measured,
            // not the emulator's Parquet decoding (its ceiling is measured separately).
            page_cache_bytes: 4 << 30,
        };
        tokio::spawn(emulator::serve(listener, config, std::future::pending()));

        let (rows, secs) = rust_client(&url).await;
        let sdk_url = url.clone();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(python)
                // numpy (imported by pyarrow) starts OpenBLAS threads that spin on the 2 vCPUs.
                .env("OPENBLAS_NUM_THREADS", "1")
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/vast_sdk_pull.py"))
                .args([&sdk_url, BUCKET, ACCESS, SECRET])
                .args([SPLITS.to_string(), SUB_SPLITS.to_string(), WORKERS.to_string()])
                .output()
                .expect("run benches/vast_sdk_pull.py")
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<f64> = text.split_whitespace().map(|x| x.parse().unwrap()).collect();
        let (sdk_rows, sdk_secs) = (v[0], v[1]);
        println!("QueryConfig: num_splits={SPLITS}, num_sub_splits={SUB_SPLITS}, limit_rows_per_sub_split=131072, {WORKERS} concurrent splits");
        println!();
        println!("| client | rows | seconds | Mrows/s | vs SDK |");
        println!("|---|---|---|---|---|");
        println!("| official SDK `select().read_all()` | {sdk_rows} | {sdk_secs:.3} | {:.2} | 1.0x |", sdk_rows / sdk_secs / 1e6);
        println!("| vastgate Rust client (`VastBackend` + split executor) | {rows} | {secs:.3} | {:.2} | {:.1}x |", rows as f64 / secs / 1e6, sdk_secs / secs);
    });
}

/// Rows and seconds of the best of three full scans through the Rust client.
async fn rust_client(url: &str) -> (u64, f64) {
    let config = VastConfig {
        endpoints: vec![url.to_owned()],
        access_key: ACCESS.into(),
        secret_key: SECRET.into(),
        buckets: vec![BUCKET.into()],
        ..Default::default()
    };
    let backend: Arc<dyn Backend> = VastBackend::new(&config).unwrap();
    let exec_config = ExecConfig {
        split_concurrency: WORKERS,
        max_splits: SPLITS,
        ..Default::default()
    };
    let executor = Executor::new(Arc::clone(&backend), exec_config.clone());
    let table = TableRef {
        bucket: BUCKET.into(),
        schema: "demo".into(),
        table: "sensors".into(),
    };
    let meta = backend.describe(&table).await.unwrap();
    let mut best = (0, f64::MAX);
    for _ in 0..3 {
        let spec = ReadSpec {
            table: table.clone(),
            meta: meta.clone(),
            projection: None,
            predicate: None,
            limit: 0,
            hints: Some(QueryHints {
                num_splits: SPLITS,
                num_sub_splits: SUB_SPLITS,
                ..Default::default()
            }),
        };
        let started = Instant::now();
        let mut stream = executor.execute(
            plan::plan(spec, &exec_config),
            CancellationToken::new(),
            Arc::new(ScanStats::default()),
        );
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            rows += batch.unwrap().num_rows() as u64;
        }
        let secs = started.elapsed().as_secs_f64();
        if secs < best.1 {
            best = (rows, secs);
        }
    }
    best
}
