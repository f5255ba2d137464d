//! `[cache.partials]` and `[cache.shared]`: the per-time-bucket partial states of
//! incremental analytics ([`crate::partials`]) and the Redis that replicas share them through.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Caches of analytics results.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Partial states per closed time bucket.
    pub partials: PartialsConfig,
    /// Sharing them between replicas.
    pub shared: SharedCacheConfig,
}

/// Partial states of analytics cached per closed time bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartialsConfig {
    /// Off: every analytic scans its whole time range, as without the cache.
    pub enabled: bool,
    /// Width of a cached time bucket (for WindowAggregate, at least its interval; a whole
    /// number of them).
    #[serde(with = "humantime_serde")]
    pub bucket: Duration,
    /// VAST exposes no data version: buckets that ended longer ago than this are taken as
    /// closed (rows no longer arrive in them); newer ones are always read again.
    #[serde(with = "humantime_serde")]
    pub immutable_after: Duration,
    /// Memory the local cache holds at most.
    pub max_bytes: u64,
    /// A request whose time range spans more buckets than this is answered uncached.
    pub max_buckets: u64,
}

impl Default for PartialsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bucket: Duration::from_secs(3600),
            immutable_after: Duration::from_secs(15 * 60),
            max_bytes: 256 << 20,
            max_buckets: 100_000,
        }
    }
}

/// Partial states shared through Redis.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharedCacheConfig {
    /// `redis://host:6379/0`; empty: each replica keeps its own cache.
    pub redis_url: String,
    /// How long Redis keeps a state.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Longest wait for one Redis call; slower counts as a failure and the query goes on
    /// without it.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for SharedCacheConfig {
    fn default() -> Self {
        Self {
            redis_url: String::new(),
            ttl: Duration::from_secs(7 * 24 * 3600),
            timeout: Duration::from_millis(500),
        }
    }
}

/// Checks the values that parse but cannot work.
pub(super) fn validate(cache: &CacheConfig) -> Result<(), ConfigError> {
    let invalid = |key, problem: &str| ConfigError::Invalid {
        key,
        problem: problem.to_owned(),
    };
    if cache.partials.bucket < Duration::from_secs(1) {
        return Err(invalid("cache.partials.bucket", "must be at least 1s"));
    }
    if cache.partials.max_buckets == 0 {
        return Err(invalid(
            "cache.partials.max_buckets",
            "must be greater than 0",
        ));
    }
    let url = &cache.shared.redis_url;
    if !url.is_empty() && !url.starts_with("redis://") {
        return Err(ConfigError::Invalid {
            key: "cache.shared.redis_url",
            problem: format!("`{url}` must start with redis:// (TLS to Redis is not supported)"),
        });
    }
    if cache.shared.timeout.is_zero() {
        return Err(invalid("cache.shared.timeout", "must be greater than 0"));
    }
    Ok(())
}
