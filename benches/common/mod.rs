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

/// The `vastgate` binary the benchmarks start as child processes.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_vastgate");
/// Bucket and keys of the benchmarks' emulators.
pub(crate) const BUCKET: &str = "bench";
pub(crate) const ACCESS: &str = "bench-access";
pub(crate) const SECRET: &str = "bench-secret";

/// A child process killed when dropped.
pub(crate) struct Process(pub(crate) std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// CPU seconds the process has used so far.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&self.0.id().to_string())
    }
}

/// A free loopback port.
pub(crate) fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Waits until something listens on `addr`.
pub(crate) fn wait_for(addr: std::net::SocketAddr) {
    let started = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{addr} never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `vastgate emulate` over `data` as a child process with its page cache on (encoded pages
/// from memory after the first read, so the clients are measured); its URL.
pub(crate) fn emulator(data: &std::path::Path) -> (Process, String) {
    let addr = free_port();
    let child = std::process::Command::new(BIN)
        .args(["emulate", "--data"])
        .arg(data)
        .args(["--listen", &addr.to_string(), "--bucket", BUCKET])
        .args(["--access-key", ACCESS, "--secret-key", SECRET])
        .args(["--page-cache-mb", "2048"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(addr);
    (Process(child), format!("http://{addr}"))
}
