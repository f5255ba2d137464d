//! The cluster layer against three emulators, one of them misbehaving:
//! - one endpoint answers every request N ms late (`VG_SLOW_MS`, default `5,50`): the total
//!   time of 20 multi-split scans with `balance = "p2c"` and with `"round_robin"`;
//! - one endpoint stalls `VG_STALL_MS` (default 1000) ms in 5 % of its `query_data`
//!   responses: p50/p99 of `VG_SCANS` (default 50) scans with hedging on and off, under
//!   round-robin (every endpoint gets its share: hedging alone) and p2c.
//!
//! `cargo bench --bench cluster` (1M rows unless `VASTGATE_BENCH_ROWS`/`VASTGATE_BENCH_DATA`
//! say otherwise). Prints Markdown for `benches/RESULTS.md`, with this process's CPU seconds
//! per scan (client and emulators share it).

mod common;

use std::{sync::Arc, time::Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use vastgate::{
    backend::{Backend, FilterReport, TableRef, vast::VastBackend},
    config::{BalanceKind, ExecConfig, HedgeConfig, VastConfig},
    emulator::{self, EmulatorConfig, FaultConfig},
    exec::{Executor, ScanStats},
    plan::{self, QueryKind, ReadSpec},
    proto::QueryHints,
};

const BUCKET: &str = "bench";
const ACCESS: &str = "bench-access";
const SECRET: &str = "bench-secret";
const SPLITS: u32 = 8;
const SUB_SPLITS: u32 = 4;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let (data, _guard) = common::data_with_rows(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let slow_ms: Vec<u64> = std::env::var("VG_SLOW_MS")
            .unwrap_or_else(|_| "5,50".to_owned())
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect();
        let stall_ms = env_or("VG_STALL_MS", 1000);
        let scans = env_or("VG_SCANS", 50).max(1) as usize;
        println!("{SPLITS} splits x {SUB_SPLITS} sub-splits, pages of 8192 rows per sub-split, 4 splits at a time");
        println!();

        println!("| one endpoint +N ms per request | 20 scans, s | per scan, ms | CPU s per scan | vs round_robin |");
        println!("|---|---|---|---|---|");
        for slow_ms in &slow_ms {
            let slow = FaultConfig {
                latency_ms: *slow_ms,
                ..Default::default()
            };
            let urls = emulators(&data, slow).await;
            let mut results = Vec::new();
            for balance in [BalanceKind::RoundRobin, BalanceKind::P2c] {
                let scanner = Scanner::new(&urls, balance, false).await;
                scanner.scan().await; // warm: pages cached, connections open, latency learnt
                let cpu = common::cpu_seconds("self");
                let started = Instant::now();
                for _ in 0..20 {
                    scanner.scan().await;
                }
                let secs = started.elapsed().as_secs_f64();
                results.push((balance, secs, (common::cpu_seconds("self") - cpu) / 20.0));
            }
            let round_robin = results[0].1;
            for (balance, secs, cpu) in results {
                println!(
                    "| +{slow_ms} ms, `{balance:?}` | {secs:.2} | {:.0} | {cpu:.3} | {:.2}x |",
                    secs * 50.0,
                    round_robin / secs
                );
            }
        }
        println!();

        let stalling = FaultConfig {
            seed: 7,
            stall_after_frames: Some(1),
            stall_ms,
            stall_rate: Some(0.05),
            ..Default::default()
        };
        let urls = emulators(&data, stalling).await;
        println!("| one endpoint stalls {stall_ms} ms in 5 % of responses, {scans} scans | p50 ms | p99 ms | max ms | CPU s per scan | p99, off / on |");
        println!("|---|---|---|---|---|---|");
        for balance in [BalanceKind::RoundRobin, BalanceKind::P2c] {
            let mut p99_off = 0.0;
            for hedge in [false, true] {
                let scanner = Scanner::new(&urls, balance, hedge).await;
                scanner.scan().await;
                let cpu = common::cpu_seconds("self");
                let mut times = Vec::with_capacity(scans);
                for _ in 0..scans {
                    let started = Instant::now();
                    scanner.scan().await;
                    times.push(started.elapsed().as_secs_f64() * 1e3);
                }
                times.sort_by(f64::total_cmp);
                let cpu = (common::cpu_seconds("self") - cpu) / scans as f64;
                let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
                let (p50, p99, max) = (at(0.5), at(0.99), at(1.0));
                let label = if hedge { "hedging on" } else { "hedging off" };
                let ratio = if hedge {
                    format!("{:.1}x", p99_off / p99)
                } else {
                    p99_off = p99;
                    String::new()
                };
                println!("| `{balance:?}`, {label} | {p50:.0} | {p99:.0} | {max:.0} | {cpu:.3} | {ratio} |");
            }
        }
    });
}

/// Three emulators over `data` with a page cache; the third injects `faults`.
async fn emulators(data: &std::path::Path, faults: FaultConfig) -> Vec<String> {
    let mut urls = Vec::new();
    for faults in [FaultConfig::default(), FaultConfig::default(), faults] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        urls.push(format!("http://{}", listener.local_addr().unwrap()));
        let config = EmulatorConfig {
            data_dir: data.to_owned(),
            bucket: BUCKET.into(),
            access_key: ACCESS.into(),
            secret_key: SECRET.into(),
            faults,
            tls: None,
            // Pages from memory after the first scan: the endpoints' behaviour is measured,
            // not their Parquet decoding.
            page_cache_bytes: 1 << 30,
        };
        tokio::spawn(emulator::serve(listener, config, std::future::pending()));
    }
    urls
}

/// A VAST backend over the endpoints and a split executor: one scan of the table at a time.
struct Scanner {
    backend: Arc<dyn Backend>,
    executor: Executor,
    exec_config: ExecConfig,
    table: TableRef,
}

impl Scanner {
    async fn new(urls: &[String], balance: BalanceKind, hedge: bool) -> Self {
        let config = VastConfig {
            endpoints: urls.to_vec(),
            access_key: ACCESS.into(),
            secret_key: SECRET.into(),
            buckets: vec![BUCKET.into()],
            balance,
            hedge: HedgeConfig {
                enabled: hedge,
                ..Default::default()
            },
            ..Default::default()
        };
        let backend: Arc<dyn Backend> = VastBackend::new(&config).expect("backend");
        let exec_config = ExecConfig {
            split_concurrency: 4,
            max_splits: SPLITS,
            num_sub_splits: SUB_SPLITS,
            limit_rows_per_sub_split: 8192,
            ..Default::default()
        };
        Self {
            executor: Executor::new(Arc::clone(&backend), exec_config.clone()),
            backend,
            exec_config,
            table: TableRef {
                bucket: BUCKET.into(),
                schema: "demo".into(),
                table: "sensors".into(),
            },
        }
    }

    /// Scans two columns of the whole table; panics on an error or a short answer.
    async fn scan(&self) {
        let meta = self.backend.describe(&self.table).await.expect("describe");
        let expected = meta.num_rows;
        let filter = FilterReport::unpruned(&meta, None);
        let spec = ReadSpec {
            table: self.table.clone(),
            meta,
            projection: Some(vec![0, 1]),
            predicate: None,
            limit: 0,
            hints: Some(QueryHints {
                num_splits: SPLITS,
                num_sub_splits: SUB_SPLITS,
                ..Default::default()
            }),
            kind: QueryKind::Read,
            filter,
            healthy_endpoints: None,
            cores: 1,
        };
        let mut stream = self.executor.execute(
            plan::plan(spec, &self.exec_config),
            CancellationToken::new(),
            Arc::new(ScanStats::default()),
        );
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            rows += batch.expect("scan").num_rows() as u64;
        }
        assert_eq!(rows, expected, "rows read");
    }
}
