//! Opens the one in-process DuckDB database with the sandbox settings.
//!
//! Everything is set through `duckdb::Config` at open time, `lock_configuration` last, so no
//! statement run later on any connection can change it: no files, no network, no extensions,
//! no settings.

use duckdb::{Config, Connection};

use crate::config::EngineConfig;

use super::EngineError;

/// Opens the shared in-memory database for `config`.
///
/// DuckDB's thread pool belongs to the database, so its size is
/// `workers × threads_per_worker`; each query may use any of them.
pub(crate) fn open_database(config: &EngineConfig) -> Result<Connection, EngineError> {
    let threads = config
        .workers
        .max(1)
        .saturating_mul(config.threads_per_worker.max(1));
    let threads = i64::try_from(threads).unwrap_or(i64::MAX);
    let flags = sandbox_config(threads, &config.memory_limit)
        .map_err(|err| EngineError::Internal(format!("invalid engine settings: {err}")))?;
    Connection::open_in_memory_with_flags(flags).map_err(|err| {
        EngineError::Internal(format!(
            "cannot open the DuckDB database (check engine.memory_limit and engine.threads_per_worker): {err}"
        ))
    })
}

fn sandbox_config(threads: i64, memory_limit: &str) -> duckdb::Result<Config> {
    Config::default()
        .threads(threads)?
        .max_memory(memory_limit)?
        .enable_external_access(false)?
        .enable_autoload_extension(false)?
        .with("allow_community_extensions", "false")?
        // No spilling to disk: work bigger than the memory limit fails with "Out of Memory".
        .with("max_temp_directory_size", "0B")?
        // Per-request tables live for one query: compressing them in an automatic checkpoint
        // after each appender flush cost half of the ingest time (benches/RESULTS.md).
        .with("checkpoint_threshold", "1000TB")?
        .with("lock_configuration", "true")
}
