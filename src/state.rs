//! Shared state of one running service: what every handler holds an `Arc` of.

use std::{sync::Arc, time::Instant};

use crate::{
    analytics::coding_lessons::CodingLessons,
    backend::{Backend, local::LocalBackend, vast::VastBackend},
    catalog::Catalog,
    config::{BackendKind, Config},
    engine::EnginePool,
    error::Error,
    exec::Executor,
    metrics::Metrics,
    monitor::QueryLog,
};

/// Everything a request may need.
#[derive(Debug)]
pub struct AppState {
    /// The effective configuration.
    pub config: Config,
    /// Table metadata cache in front of the backend.
    pub catalog: Catalog,
    /// The split executor.
    pub executor: Executor,
    /// The DuckDB worker pool.
    pub engine: EnginePool,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Running and recent queries.
    pub queries: QueryLog,
    /// What typed analytics learned about coding each table's groups.
    pub coding_lessons: CodingLessons,
    /// When the service started.
    pub started: Instant,
}

impl AppState {
    /// Builds the state for `config`, choosing the backend it names.
    pub fn new(config: Config) -> Result<Arc<Self>, Error> {
        let backend: Arc<dyn Backend> = match config.backend.kind {
            BackendKind::Local => Arc::new(LocalBackend::new(
                config.local.data_dir.clone(),
                config.local.batch_rows,
            )),
            BackendKind::Vast => VastBackend::new(&config.vast).map_err(|e| {
                Error::Internal(format!(
                    "cannot set up the VAST backend (check [vast]): {e}"
                ))
            })?,
        };
        Self::with_backend(config, backend)
    }

    /// Builds the state over an explicit backend (tests, embedding).
    pub fn with_backend(config: Config, backend: Arc<dyn Backend>) -> Result<Arc<Self>, Error> {
        let metrics = Metrics::new();
        metrics.register_backend(backend.collectors());
        let catalog = Catalog::new(
            Arc::clone(&backend),
            config.catalog.clone(),
            metrics.clone(),
        );
        let executor = Executor::new(backend, config.exec.clone());
        let queries = QueryLog::new(config.monitor.clone());
        let engine = EnginePool::new(&config.engine).map_err(|e| {
            Error::Internal(format!(
                "cannot start the DuckDB engine (check [engine]): {e}"
            ))
        })?;
        Ok(Arc::new(Self {
            config,
            catalog,
            executor,
            engine,
            metrics,
            queries,
            coding_lessons: CodingLessons::default(),
            started: Instant::now(),
        }))
    }
}
