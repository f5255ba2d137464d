//! Shared set-up of the end-to-end benchmarks: demo data and an in-process server.

// Each benchmark binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::{path::PathBuf, sync::Arc, time::Instant};

use tonic::transport::Channel;
use vastgate::{config::Config, state::AppState};

/// The data folder (`VASTGATE_BENCH_DATA`, or a temp dir) with `VASTGATE_BENCH_ROWS` rows of
/// demo data (default 10M), generated when missing. Keep the guard alive.
pub(crate) fn data() -> (PathBuf, Option<tempfile::TempDir>) {
    data_with_rows(10_000_000)
}

/// Like [`data`], with `default_rows` when `VASTGATE_BENCH_ROWS` is not set.
pub(crate) fn data_with_rows(default_rows: u64) -> (PathBuf, Option<tempfile::TempDir>) {
    let rows: u64 = std::env::var("VASTGATE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_rows);
    let (dir, guard) = match std::env::var("VASTGATE_BENCH_DATA") {
        Ok(dir) => (PathBuf::from(dir), None),
        Err(_) => {
            let tmp = tempfile::tempdir().expect("temp dir");
            (tmp.path().to_owned(), Some(tmp))
        }
    };
    if !dir.join("demo/sensors.parquet").exists() {
        let started = Instant::now();
        let summary = vastgate::gen_data::generate(&dir, rows, 42).expect("generate");
        eprintln!("{summary} ({:.1}s)", started.elapsed().as_secs_f64());
    }
    (dir, guard)
}

/// Starts the service over `data` on loopback and returns a connected channel.
pub(crate) async fn server(data: PathBuf, configure: impl FnOnce(&mut Config)) -> Channel {
    let addr = start(data, configure).await;
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Starts the service over `data` on loopback; returns the gRPC address.
pub(crate) async fn start(
    data: PathBuf,
    configure: impl FnOnce(&mut Config),
) -> std::net::SocketAddr {
    let mut config = Config::default();
    config.local.data_dir = data;
    configure(&mut config);
    let state = AppState::new(config).expect("state");
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = grpc.local_addr().unwrap();
    tokio::spawn(vastgate::server::serve(
        grpc,
        http,
        Arc::clone(&state),
        std::future::pending(),
    ));
    addr
}

/// Peak resident set size of this process so far, in MiB (Linux).
pub(crate) fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The Python with the SDK, DuckDB and the drivers (`VASTGATE_PYTHON`, or the repository's
/// `.venv` that `.ci/run` and the tests create).
pub(crate) fn python() -> String {
    std::env::var("VASTGATE_PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python").to_owned())
}

/// User + system CPU seconds a process has used so far, from `/proc/<pid>/stat` (`pid` may be
/// `"self"`); 0 when it cannot be read.
pub(crate) fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: count fields after its closing `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the `)`; USER_HZ = 100.
    (ticks(11) + ticks(12)) / 100.0
}
