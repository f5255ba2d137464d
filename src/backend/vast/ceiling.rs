//! The emulator's own ceiling for `benches/vast.rs`: the same full scan, but the client only
//! drains the response bytes (no frame or IPC decoding, no filter, no executor), with pages
//! large enough that each split is one request. It needs the client's internals, so it is
//! compiled only with the `bench` feature:
//!
//! `VASTGATE_BENCH_DATA=/tmp/bench10m cargo bench --features bench --bench vast_ceiling`

use std::{path::PathBuf, time::Instant};

use futures::StreamExt;
use http::Method;

use super::{
    VastBackend,
    scan::prepare,
    tx::{begin, end},
};
use crate::{
    backend::{Backend, ScanRequest, Split, TableRef},
    config::VastConfig,
    emulator::{self, EmulatorConfig, FaultConfig},
};

const SPLITS: u32 = 8;
const SUB_SPLITS: u32 = 4;
const CONCURRENT: usize = 4;

/// Scans `demo/sensors` of the gen-data folder `data` through one emulator on loopback,
/// draining only the bytes, best of 3; `page_cache_mb` as the emulator's `--page-cache-mb`.
/// Returns a line for `benches/RESULTS.md`.
pub async fn emulator_ceiling(data: PathBuf, page_cache_mb: u64) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = EmulatorConfig {
        data_dir: data,
        bucket: "bench".into(),
        access_key: "a".into(),
        secret_key: "s".into(),
        faults: FaultConfig::default(),
        tls: None,
        page_cache_bytes: page_cache_mb << 20,
    };
    tokio::spawn(emulator::serve(listener, config, std::future::pending()));
    let backend = VastBackend::new(&VastConfig {
        endpoints: vec![url],
        access_key: "a".into(),
        secret_key: "s".into(),
        buckets: vec!["bench".into()],
        ..Default::default()
    })
    .unwrap();
    let table = TableRef {
        bucket: "bench".into(),
        schema: "demo".into(),
        table: "sensors".into(),
    };
    let meta = backend.describe(&table).await.unwrap();
    let req = ScanRequest {
        projection: None,
        predicate: None,
        num_sub_splits: SUB_SPLITS,
        // One page per sub-split: each split is one request.
        limit_rows_per_sub_split: 1 << 24,
        priority: 0,
        dictionary_columns: Vec::new(),
        endpoints: crate::backend::EndpointLog::default(),
    };
    let ep = &backend.cluster.members()[0];
    let transport = ep.transport();
    let mut best = f64::MAX;
    let mut bytes = 0u64;
    for _ in 0..3 {
        let txid = begin(ep).await.unwrap();
        let started = Instant::now();
        let drained: Vec<u64> = futures::stream::iter(0..SPLITS)
            .map(|index| {
                let job = prepare(
                    &backend,
                    &table,
                    &meta,
                    &req,
                    Split {
                        index,
                        count: SPLITS,
                    },
                )
                .unwrap();
                async move {
                    let call = job.call(txid, &[0; SUB_SPLITS as usize]);
                    let mut body = transport.send(&call).await.unwrap().into_body();
                    let mut n = 0u64;
                    while let Some(chunk) = transport.next_chunk(&call, &mut body).await.unwrap() {
                        n += chunk.len() as u64;
                    }
                    n
                }
            })
            .buffer_unordered(CONCURRENT)
            .collect()
            .await;
        best = best.min(started.elapsed().as_secs_f64());
        bytes = drained.iter().sum();
        end(ep, txid, Method::PUT).await.unwrap();
    }
    let rows = meta.num_rows as f64;
    format!(
        "emulator ceiling: {rows} rows, {bytes} bytes in {best:.3} s = {:.2} Mrows/s, {:.0} MB/s \
         ({SPLITS} splits × {SUB_SPLITS} sub-splits, {CONCURRENT} concurrent, best of 3)",
        rows / best / 1e6,
        bytes as f64 / best / 1e6
    )
}
