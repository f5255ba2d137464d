//! How vastgate treats the endpoints of a VAST cluster: balancing, ejection, health checks and
//! hedged split reads (`[vast]`'s `balance`, `[vast.breaker]`, `[vast.health]`, `[vast.hedge]`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// How split reads are spread over the endpoints in rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalanceKind {
    /// Power of two choices by peak-EWMA load (latency × requests in flight).
    #[default]
    P2c,
    /// Each endpoint in turn, load ignored (kept to compare against).
    RoundRobin,
}

/// Outlier ejection per endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Failures in a row that eject an endpoint.
    pub consecutive_failures: u32,
    /// Share of failed requests in a window that ejects an endpoint.
    pub failure_rate: f64,
    /// The window of `failure_rate`.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Requests a window needs before `failure_rate` applies.
    pub min_requests: u32,
    /// First ejection time; each ejection after it doubles, up to `max_ejection`.
    #[serde(with = "humantime_serde")]
    pub base_ejection: Duration,
    /// Longest ejection.
    #[serde(with = "humantime_serde")]
    pub max_ejection: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            failure_rate: 0.5,
            window: Duration::from_secs(10),
            min_requests: 10,
            base_ejection: Duration::from_secs(5),
            max_ejection: Duration::from_secs(120),
        }
    }
}

/// Active health checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Time between two probes of an endpoint.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Time a probe may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
        }
    }
}

/// Hedged split reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HedgeConfig {
    /// Re-issue straggling split reads on another endpoint.
    pub enabled: bool,
    /// A split is a straggler after its endpoint's p95 page latency × `factor`.
    pub factor: f64,
    /// ... and never before this.
    #[serde(with = "humantime_serde")]
    pub min_delay: Duration,
    /// Most hedges per split request.
    pub max_fraction: f64,
}

impl Default for HedgeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            factor: 3.0,
            min_delay: Duration::from_millis(200),
            max_fraction: 0.1,
        }
    }
}

fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        problem: problem.into(),
    }
}

fn positive(key: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(invalid(key, "must be greater than 0"));
    }
    Ok(())
}

/// Checks values that parse but cannot work.
pub(super) fn validate(
    breaker: &BreakerConfig,
    health: &HealthConfig,
    hedge: &HedgeConfig,
) -> Result<(), ConfigError> {
    if breaker.consecutive_failures == 0 {
        return Err(invalid(
            "vast.breaker.consecutive_failures",
            "must be greater than 0",
        ));
    }
    if !(breaker.failure_rate > 0.0 && breaker.failure_rate <= 1.0) {
        return Err(invalid(
            "vast.breaker.failure_rate",
            format!(
                "must be above 0 and at most 1, got {}",
                breaker.failure_rate
            ),
        ));
    }
    positive("vast.breaker.window", breaker.window)?;
    positive("vast.breaker.base_ejection", breaker.base_ejection)?;
    if breaker.max_ejection < breaker.base_ejection {
        return Err(invalid(
            "vast.breaker.max_ejection",
            format!(
                "must be at least vast.breaker.base_ejection ({:?}), got {:?}",
                breaker.base_ejection, breaker.max_ejection
            ),
        ));
    }
    positive("vast.health.interval", health.interval)?;
    positive("vast.health.timeout", health.timeout)?;
    if !(hedge.factor >= 1.0 && hedge.factor.is_finite()) {
        return Err(invalid(
            "vast.hedge.factor",
            format!("must be at least 1, got {}", hedge.factor),
        ));
    }
    positive("vast.hedge.min_delay", hedge.min_delay)?;
    if !(0.0..=1.0).contains(&hedge.max_fraction) {
        return Err(invalid(
            "vast.hedge.max_fraction",
            format!("must be between 0 and 1, got {}", hedge.max_fraction),
        ));
    }
    Ok(())
}
