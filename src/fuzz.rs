//! Property-based fuzz targets: hostile input into every parser and validator that reads bytes
//! or text from outside, asserting that each one returns (`Ok` or `Err`) without panicking, plus
//! invariants cheap enough to check on every case.
//!
//! # Design
//!
//! - One module per target (`filter`, `flight`, `vast_frames`, `emulator_request`,
//!   `sql_guard`), each a few `proptest!` tests; `strategies` holds what they share (the demo
//!   tables, hostile literals and names, byte mutations).
//! - Inputs come three ways: generated with structure (filter trees, compute-IR relations,
//!   response frames, SQL from a token alphabet), raw noise, and valid encodings mutated by
//!   [`strategies::mutate`] (bit flips, truncations, removed, duplicated and inserted slices,
//!   overwritten lengths). Valid-then-mutated inputs get past the first length and magic checks
//!   and reach much deeper than noise.
//! - Every target runs in plain `cargo test` with [`CASES`] cases per test, or `PROPTEST_CASES`.
//!   A long run is `PROPTEST_CASES=2000000 cargo test --release --lib fuzz::<target>`.
//! - A failing case is shrunk, and its seed is appended to `fuzz/regressions/<target>.txt`
//!   (commit the file); every later run replays those seeds first.
//! - Each target's `replay_corpus` test feeds every file of `fuzz/corpus/<target>/` once.
//!   Binary seeds are written by the target's ignored `write_seed_corpus` test:
//!   `cargo test --lib fuzz::<target>::write_seed_corpus -- --ignored`.
//! - Release builds do not check integer overflow, so an overflow only panics in a debug run
//!   (`cargo test --lib fuzz`); where a wrapped value would be visible, the targets check the
//!   value itself (the ticket expiry age, for one).
//!
//! See `fuzz/README.md` for the targets, the commands and the results of the long runs.

mod emulator_request;
mod filter;
mod flight;
mod sql_guard;
mod strategies;
mod vast_frames;

use std::path::{Path, PathBuf};

use proptest::{prelude::ProptestConfig, test_runner::FileFailurePersistence};

/// Cases per `proptest!` test when `PROPTEST_CASES` is not set.
const CASES: u32 = 256;

/// The configuration of every target: `PROPTEST_CASES` or [`CASES`] cases, failures kept in
/// `regressions` (a path under `fuzz/regressions/`).
fn config(regressions: &'static str) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(CASES);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        max_shrink_iters: 10_000,
        ..ProptestConfig::default()
    }
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// The seed corpus of `target`: every file of `fuzz/corpus/<target>/` with its bytes, sorted by
/// name (none if the folder is missing).
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(corpus_dir(target)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Writes one seed file `fuzz/corpus/<target>/<name>` (for the ignored `write_seed_corpus`
/// tests).
fn write_seed(target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}
