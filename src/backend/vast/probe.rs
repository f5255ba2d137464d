//! The start-up check: the version probe the SDK makes once per session (`GET /?transaction`
//! with `tabular-get-vast-version`, answered with `Server: vast A.B.C.D`) on every endpoint,
//! then `HEAD /<bucket>` for every configured bucket. Wrong keys, a server that is not VAST
//! and a missing bucket stop the start with a message saying what to fix; an endpoint that
//! cannot be reached is only logged (ejection and health checks deal with it at query time).

use http::Method;

use std::sync::Arc;

use super::{
    VastBackend,
    client::{Call, path},
};
use crate::{backend::BackendError, cluster::Member};

/// What the probe learned about one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeReport {
    /// The endpoint URL.
    pub(crate) url: String,
    /// `A.B.C.D` from the `Server` header.
    pub(crate) version: String,
}

/// Probes every endpoint (concurrently) and checks the configured buckets on the first one that answers.
pub(crate) async fn check(backend: &VastBackend) -> Result<Vec<ProbeReport>, BackendError> {
    let mut reports = Vec::new();
    let mut reachable: Option<&Arc<Member>> = None;
    let members = backend.cluster.members();
    // All at once: unreachable endpoints cost one connect timeout at start-up, not one each.
    let versions = futures::future::join_all(members.iter().map(version)).await;
    for (ep, result) in members.iter().zip(versions) {
        match result {
            Ok(version) => {
                tracing::info!(endpoint = %ep.url, %version, "VAST endpoint answered");
                reports.push(ProbeReport {
                    url: ep.url.clone(),
                    version,
                });
                reachable.get_or_insert(ep);
            }
            Err(err) if err.is_retryable() => {
                tracing::warn!(endpoint = %ep.url, "VAST endpoint unreachable at start: {err}");
            }
            Err(err) => return Err(err),
        }
    }
    let Some(ep) = reachable else {
        tracing::warn!("no VAST endpoint answered at start; buckets are checked on first use");
        return Ok(reports);
    };
    for bucket in backend.buckets() {
        let call = Call {
            method: Method::HEAD,
            path: path(&[bucket]),
            query: String::new(),
            headers: Vec::new(),
            body: bytes::Bytes::new(),
            what: format!("bucket {bucket} (vast.buckets)"),
        };
        ep.send_full(&call).await?;
    }
    Ok(reports)
}

/// The version probe: cheap, answered by every endpoint, also the periodic health check.
pub(crate) fn version_call() -> Call {
    Call {
        method: Method::GET,
        path: "/".to_owned(),
        query: "transaction".to_owned(),
        headers: vec![("tabular-get-vast-version".to_owned(), "true".to_owned())],
        body: bytes::Bytes::new(),
        what: "version probe".to_owned(),
    }
}

/// The version an endpoint reports.
async fn version(ep: &Arc<Member>) -> Result<String, BackendError> {
    let (headers, _) = ep.send_full(&version_call()).await?;
    let server = headers
        .get(http::header::SERVER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    parse_server(server).ok_or_else(|| {
        BackendError::Unsupported(format!(
            "{}: not a VAST DB endpoint (Server header {server:?}, expected `vast A.B.C.D`); \
             check vast.endpoints",
            ep.url
        ))
    })
}

/// `vast 5.4.0.0` → `5.4.0.0` (exactly four numbers, as the SDK requires).
fn parse_server(server: &str) -> Option<String> {
    let version = server.strip_prefix("vast ")?;
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    (parts.len() == 4 && parts.iter().all(numeric)).then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_server;

    #[test]
    fn server_header_must_be_vast_and_four_numbers() {
        assert_eq!(parse_server("vast 5.4.0.0").as_deref(), Some("5.4.0.0"));
        assert_eq!(parse_server("vast 5.4.0"), None);
        assert_eq!(parse_server("vast 5.4.0.x"), None);
        assert_eq!(parse_server("nginx"), None);
        assert_eq!(parse_server(""), None);
    }
}
