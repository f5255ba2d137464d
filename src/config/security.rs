//! Who may call and how much: TLS on the service's ports, authentication, and limits per
//! caller.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::auth::Role;

/// TLS on the gRPC and HTTP ports (`[server.tls]`); off unless `cert_file` and `key_file` are
/// set. The files are read again on SIGHUP.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain (PEM, leaf first).
    pub cert_file: Option<PathBuf>,
    /// The private key of the leaf certificate (PEM).
    pub key_file: Option<PathBuf>,
    /// CA certificates (PEM) that client certificates must chain to: mutual TLS. Clients
    /// must present one unless `auth.enabled`, where a token may stand in for it.
    pub client_ca_file: Option<PathBuf>,
}

impl TlsConfig {
    /// Whether TLS is configured.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() || self.key_file.is_some()
    }
}

/// Authentication (`[auth]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Require a caller identity (a bearer token or a mapped client certificate) on every
    /// call but health checks and the Flight handshake.
    pub enabled: bool,
    /// The tokens file: `[[tokens]]` entries of `name`, `role`, `sha256`, optional `schemas`
    /// (`vastgate token new` prints one). Read again on SIGHUP.
    pub tokens_file: Option<PathBuf>,
    /// Client certificate subject common name or SAN (DNS name, e-mail, URI) → role: such a
    /// certificate identifies its holder without a token (needs `server.tls.client_ca_file`).
    pub client_cert_roles: BTreeMap<String, Role>,
}

/// Limits per caller (`[limits]`); 0 turns a limit off. Exceeding one is
/// `RESOURCE_EXHAUSTED` naming it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Queries one caller may run at once.
    pub max_concurrent_queries_per_caller: usize,
    /// Rows one query may scan.
    pub max_rows_per_query: u64,
    /// How long one query may run.
    #[serde(with = "humantime_serde")]
    pub max_query_duration: Duration,
}

pub(super) fn validate(
    tls: &TlsConfig,
    auth: &AuthConfig,
    metrics_token: &str,
) -> Result<(), ConfigError> {
    if tls.cert_file.is_some() != tls.key_file.is_some() {
        return Err(ConfigError::Invalid {
            key: "server.tls",
            problem: "needs both cert_file and key_file".to_owned(),
        });
    }
    if tls.client_ca_file.is_some() && !tls.enabled() {
        return Err(ConfigError::Invalid {
            key: "server.tls.client_ca_file",
            problem: "needs server.tls.cert_file and key_file".to_owned(),
        });
    }
    if auth.enabled && auth.tokens_file.is_none() && auth.client_cert_roles.is_empty() {
        return Err(ConfigError::Invalid {
            key: "auth.enabled",
            problem: "needs auth.tokens_file or auth.client_cert_roles".to_owned(),
        });
    }
    if !auth.client_cert_roles.is_empty() && tls.client_ca_file.is_none() {
        return Err(ConfigError::Invalid {
            key: "auth.client_cert_roles",
            problem: "needs server.tls.client_ca_file (client certificates are only seen \
                      under mutual TLS)"
                .to_owned(),
        });
    }
    if metrics_token.chars().any(char::is_whitespace) {
        return Err(ConfigError::Invalid {
            key: "server.metrics_token",
            problem: "must not contain whitespace".to_owned(),
        });
    }
    Ok(())
}
