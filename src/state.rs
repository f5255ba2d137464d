//! Shared state of one running service: what every handler holds an `Arc` of.

use std::{sync::Arc, time::Instant};

use tokio_util::sync::CancellationToken;

use crate::{
    analytics::coding_lessons::CodingLessons,
    auth::Gate,
    backend::{Backend, local::LocalBackend, vast::VastBackend},
    catalog::Catalog,
    config::{BackendKind, Config},
    engine::EnginePool,
    error::Error,
    exec::Executor,
    metrics::Metrics,
    monitor::QueryLog,
    partials::PartialCache,
    sql::SqlParser,
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
    /// Parses and checks client SQL (Flight SQL, the Sql RPC).
    pub sql: SqlParser,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Running and recent queries.
    pub queries: QueryLog,
    /// What typed analytics learned about coding each table's groups.
    pub coding_lessons: CodingLessons,
    /// Partial states of incremental analytics per closed time bucket.
    pub partials: Arc<PartialCache>,
    /// Who may call.
    pub gate: Arc<Gate>,
    /// Set when the service drains for shutdown: new calls are refused.
    pub draining: CancellationToken,
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
        let gate = Gate::new(&config.auth).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let engine = EnginePool::new(&config.engine).map_err(|e| {
            Error::Internal(format!(
                "cannot start the DuckDB engine (check [engine]): {e}"
            ))
        })?;
        let sql = SqlParser::new()?;
        let partials = PartialCache::new(&config.cache).map_err(Error::InvalidArgument)?;
        Ok(Arc::new(Self {
            config,
            catalog,
            executor,
            engine,
            sql,
            metrics,
            queries,
            coding_lessons: CodingLessons::default(),
            partials,
            gate: Arc::new(gate),
            draining: CancellationToken::new(),
            started: Instant::now(),
        }))
    }

    /// Whether the service can serve: not draining for shutdown, and the backend answers a
    /// schema listing. The error says which.
    pub async fn readiness(&self) -> Result<(), String> {
        if self.draining.is_cancelled() {
            return Err("draining for shutdown".to_owned());
        }
        match self.catalog.backend().list_schemas("").await {
            Ok(_) => Ok(()),
            Err(err) => Err(format!("backend not reachable: {err}")),
        }
    }
}
