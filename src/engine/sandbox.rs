//! Opens the one in-process DuckDB database with the sandbox settings.
//!
//! Everything is set at open time, then `temp_directory`, `enable_external_access` and
//! `lock_configuration` right after, before any request can run, so no statement run later
//! on any connection can change it: no files, no network, no extensions, no settings.

use crate::config::EngineConfig;

use super::{EngineError, ffi::Database};

/// Opens the shared in-memory database for `config`.
///
/// DuckDB's thread pool belongs to the database, so its size is
/// `workers × threads_per_worker`; each query may use any of them.
pub(crate) fn open_database(config: &EngineConfig) -> Result<Database, EngineError> {
    let threads = config
        .workers
        .max(1)
        .saturating_mul(config.threads_per_worker.max(1));
    let database = Database::open_in_memory(&sandbox_settings(threads, &config.memory_limit))
        .map_err(|err| {
            EngineError::Internal(format!(
                "{err} (check engine.memory_limit and engine.threads_per_worker)"
            ))
        })?;
    // Without a temp directory DuckDB does not try to spill at all; with one (the default
    // `.tmp`) work over the memory limit fails on the disabled file system instead of with
    // "Out of Memory". An empty value cannot be given at open time and cannot be set once
    // external access is off, so these three come here, in this order, before any request.
    database
        .connect()
        .and_then(|conn| {
            conn.execute_batch(
                "SET temp_directory = ''; SET enable_external_access = false; \
                 SET lock_configuration = true",
            )
        })
        .map_err(|err| EngineError::internal("locking the engine configuration", err))?;
    Ok(database)
}

fn sandbox_settings(threads: usize, memory_limit: &str) -> Vec<(&'static str, String)> {
    vec![
        ("threads", threads.to_string()),
        ("max_memory", memory_limit.to_owned()),
        ("autoinstall_known_extensions", "false".to_owned()),
        ("autoload_known_extensions", "false".to_owned()),
        ("allow_community_extensions", "false".to_owned()),
        // No spilling to disk: work bigger than the memory limit fails with "Out of Memory".
        ("max_temp_directory_size", "0B".to_owned()),
        // Per-request tables (of the benchmark-only load paths) live for one query:
        // compressing them in an automatic checkpoint after each load is wasted work.
        ("checkpoint_threshold", "1000TB".to_owned()),
        // The input stream is read by `SELECT *` in the CTE `t`, and the C API's Arrow scan
        // ignores projections and filters pushed into it: keep the optimizers that push them
        // there off (engine/arrow_stream.rs). Per-request inputs hold only the columns the
        // query needs, so pruning unused columns had little left to do; without
        // `filter_pushdown` a filter stays a filter right above its scan or join (join
        // conditions are still found by the join-order optimizer).
        (
            "disabled_optimizers",
            "unused_columns,cte_filter_pusher,filter_pushdown".to_owned(),
        ),
    ]
}
