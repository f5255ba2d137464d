//! The emulator's throughput ceiling: `benches/vast.rs`'s full scan with a client that only
//! drains the response bytes.
//!
//! `VASTGATE_BENCH_DATA=/tmp/bench10m cargo bench --features bench --bench vast_ceiling`;
//! `VG_PAGE_CACHE_MB` sets the emulator's page cache (default 0).

mod common;

fn main() {
    let (data, _guard) = common::data();
    let page_cache_mb = std::env::var("VG_PAGE_CACHE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let line = runtime.block_on(vastgate::backend::vast::ceiling::emulator_ceiling(
        data,
        page_cache_mb,
    ));
    println!("{line}");
}
