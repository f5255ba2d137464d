//! `vastgate probe`: one HTTP GET of `/readyz` (or `--path`) on a running server, for container
//! health checks in an image that has no curl. Exit 0 on a 2xx answer, 1 otherwise, with the
//! reason on stderr.

use std::{path::Path, time::Duration};

use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use crate::backend::vast::tls;

/// The probe's outcome: the status and the body's first line, or why there is none.
pub async fn probe(
    target: &str,
    path: &str,
    ca_file: Option<&Path>,
    timeout: Duration,
) -> Result<String, String> {
    let url = if target.contains("://") {
        format!("{}{path}", target.trim_end_matches('/'))
    } else {
        format!("http://{target}{path}")
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    let config = tls::client_config(ca_file).map_err(|e| e.to_string())?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(timeout));
    let connector = tls::connector(&config, None, http).map_err(|e| e.to_string())?;
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let request = Request::get(uri)
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| format!("building the request: {e}"))?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("GET {url}: {}", crate::error::chain(&e)))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("GET {url}: reading the body: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, body))
    };
    let (status, body) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("GET {url}: no answer within {timeout:?}"))??;
    let first_line = String::from_utf8_lossy(&body)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let summary = format!("GET {url}: {status} {first_line}");
    if status.is_success() || status == StatusCode::NO_CONTENT {
        Ok(summary)
    } else {
        Err(summary)
    }
}
