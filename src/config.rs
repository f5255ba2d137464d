//! The configuration tree: one struct per subsystem, every field documented.
//!
//! Sources, lowest precedence first: built-in defaults < TOML file < `VASTGATE__SECTION__KEY`
//! environment variables < command-line flags. [`Config::from_sources`] takes the environment as
//! a map so tests never mutate the process environment.

mod cache;
mod cluster;
mod security;
mod service;
mod storage;

use std::{collections::HashMap, path::PathBuf};

use serde::{Deserialize, Serialize};

pub use self::{
    cache::{CacheConfig, PartialsConfig, SharedCacheConfig},
    cluster::{BalanceKind, BreakerConfig, HealthConfig, HedgeConfig},
    security::{AuthConfig, LimitsConfig, TlsConfig},
    service::{
        EngineConfig, ExecConfig, FlightConfig, LogFormat, MonitorConfig, PlannerMode,
        ServerConfig, TelemetryConfig,
    },
    storage::{BackendConfig, BackendKind, CatalogConfig, LocalConfig, VastConfig},
};

/// Why a configuration could not be loaded. The message names the key or file to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or a value could not be parsed.
    #[error("invalid configuration: {0}")]
    Parse(#[from] config::ConfigError),
    /// A value parsed but makes no sense.
    #[error("invalid configuration: `{key}` {problem}")]
    Invalid {
        /// The dotted key, e.g. `engine.workers`.
        key: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A secret file could not be read.
    #[error("invalid configuration: `{key}`: cannot read {path}: {source}")]
    SecretFile {
        /// The dotted key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The whole service configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listeners and request limits.
    pub server: ServerConfig,
    /// Which storage backend serves the tables.
    pub backend: BackendConfig,
    /// The local Parquet folder backend.
    pub local: LocalConfig,
    /// The VAST DB backend.
    pub vast: VastConfig,
    /// Table metadata cache.
    pub catalog: CatalogConfig,
    /// Split planning and the split executor.
    pub exec: ExecConfig,
    /// The DuckDB worker pool.
    pub engine: EngineConfig,
    /// The query log.
    pub monitor: MonitorConfig,
    /// Arrow Flight.
    pub flight: FlightConfig,
    /// Logging.
    pub telemetry: TelemetryConfig,
    /// Who may call.
    pub auth: AuthConfig,
    /// Limits per caller.
    pub limits: LimitsConfig,
    /// Partial states of incremental analytics.
    pub cache: CacheConfig,
}

/// Prefix of environment variables that set config keys: `VASTGATE__ENGINE__WORKERS=4`.
pub const ENV_PREFIX: &str = "VASTGATE";

impl Config {
    /// Loads defaults, then `file` (if any), then the `VASTGATE__*` entries of `env`.
    pub fn from_sources(
        file: Option<&std::path::Path>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let env_source = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("vast.endpoints")
            .with_list_parse_key("vast.buckets")
            .try_parsing(true)
            .source(Some(
                env.iter()
                    .filter(|(k, _)| k.starts_with("VASTGATE__"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ));
        let config: Config = builder.add_source(env_source).build()?.try_deserialize()?;
        config.resolve_secrets()?.validated()
    }

    /// Loads from a TOML string (tests, examples).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()?
            .try_deserialize()?;
        config.resolve_secrets()?.validated()
    }

    fn resolve_secrets(mut self) -> Result<Self, ConfigError> {
        if let Some(path) = &self.vast.secret_key_file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
                key: "vast.secret_key_file",
                path: path.clone(),
                source,
            })?;
            self.vast.secret_key = text.trim().to_owned();
        }
        Ok(self)
    }

    /// Checks values that parse but cannot work.
    pub fn validated(self) -> Result<Self, ConfigError> {
        fn positive(key: &'static str, value: u64) -> Result<(), ConfigError> {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    key,
                    problem: "must be greater than 0".to_owned(),
                });
            }
            Ok(())
        }
        positive(
            "server.max_concurrent_requests",
            self.server.max_concurrent_requests as u64,
        )?;
        positive(
            "server.request_timeout",
            self.server.request_timeout.as_millis() as u64,
        )?;
        positive("local.batch_rows", self.local.batch_rows as u64)?;
        positive("catalog.max_entries", self.catalog.max_entries)?;
        positive("catalog.ttl", self.catalog.ttl.as_millis() as u64)?;
        if !(0.0..=1.0).contains(&self.catalog.refresh_ahead_fraction) {
            return Err(ConfigError::Invalid {
                key: "catalog.refresh_ahead_fraction",
                problem: format!(
                    "must be between 0 and 1, got {}",
                    self.catalog.refresh_ahead_fraction
                ),
            });
        }
        positive("exec.rows_per_split", self.exec.rows_per_split)?;
        positive("exec.max_splits", u64::from(self.exec.max_splits))?;
        positive("exec.split_concurrency", self.exec.split_concurrency as u64)?;
        positive("exec.channel_capacity", self.exec.channel_capacity as u64)?;
        positive("exec.split_attempts", u64::from(self.exec.split_attempts))?;
        positive("exec.num_sub_splits", u64::from(self.exec.num_sub_splits))?;
        positive(
            "exec.limit_rows_per_sub_split",
            self.exec.limit_rows_per_sub_split,
        )?;
        positive("engine.workers", self.engine.workers as u64)?;
        positive(
            "engine.threads_per_worker",
            self.engine.threads_per_worker as u64,
        )?;
        positive("engine.max_result_rows", self.engine.max_result_rows)?;
        positive("engine.max_response_rows", self.engine.max_response_rows)?;
        positive("monitor.query_log_size", self.monitor.query_log_size as u64)?;
        security::validate(&self.server.tls, &self.auth, &self.server.metrics_token)?;
        cache::validate(&self.cache)?;
        cluster::validate(&self.vast.breaker, &self.vast.health, &self.vast.hedge)?;
        if self.backend.kind == BackendKind::Vast {
            if self.vast.endpoints.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "vast.endpoints",
                    problem: "must list at least one URL when backend.kind = \"vast\"".to_owned(),
                });
            }
            for url in &self.vast.endpoints {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError::Invalid {
                        key: "vast.endpoints",
                        problem: format!("`{url}` must start with http:// or https://"),
                    });
                }
            }
        }
        Ok(self)
    }

    /// The effective configuration as TOML with secrets replaced by `***`.
    pub fn redacted_toml(&self) -> String {
        let mut copy = self.clone();
        if !copy.vast.secret_key.is_empty() {
            copy.vast.secret_key = "***".to_owned();
        }
        if !copy.server.metrics_token.is_empty() {
            copy.server.metrics_token = "***".to_owned();
        }
        if let Some((_, host)) = copy.cache.shared.redis_url.rsplit_once('@') {
            copy.cache.shared.redis_url = format!("redis://***@{host}");
        }
        if !copy.flight.ticket_key.is_empty() {
            copy.flight.ticket_key = "***".to_owned();
        }
        toml_string(&copy)
    }
}

fn toml_string(config: &Config) -> String {
    // `config` has no TOML serializer; JSON keeps the same structure and is what we can emit
    // without another dependency. Rendered as TOML-ish `key = value` lines per section.
    let value = serde_json::to_value(config).unwrap_or_default();
    let mut out = String::new();
    if let serde_json::Value::Object(sections) = value {
        for (section, fields) in sections {
            out.push_str(&format!("[{section}]\n"));
            if let serde_json::Value::Object(fields) = fields {
                for (key, value) in fields {
                    if !value.is_null() {
                        out.push_str(&format!("{key} = {value}\n"));
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests;
