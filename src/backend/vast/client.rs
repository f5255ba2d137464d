//! One VAST endpoint over HTTP/1.1 keep-alive: SigV4 signing as the SDK signs, the common
//! `tabular-*` headers, and S3 XML errors mapped to [`BackendError`]s naming the endpoint.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use percent_encoding::utf8_percent_encode;

use super::tls;
use crate::{
    backend::BackendError,
    vast_protocol::{
        s3_error::S3ErrorBody,
        sigv4::{self, Credentials, RequestParts},
    },
};

/// The `User-Agent` sent on every request.
const USER_AGENT: &str = concat!("vastgate/", env!("CARGO_PKG_VERSION"));

/// How to reach one endpoint (from `[vast]`).
#[derive(Debug, Clone)]
pub(crate) struct EndpointOptions<'a> {
    /// Signing keys.
    pub(crate) creds: Credentials,
    /// TCP connect timeout.
    pub(crate) connect_timeout: Duration,
    /// Time allowed for an answer, and between two chunks of a body.
    pub(crate) timeout: Duration,
    /// TLS settings shared by every endpoint (used for `https://` URLs).
    pub(crate) tls: &'a rustls::ClientConfig,
    /// The name to verify the certificate against instead of the URL's host.
    pub(crate) tls_server_name: Option<&'a str>,
}

/// One endpoint: URL, signing host and a pooled HTTP/1.1 (or HTTPS) client.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// `http://host:port`, without a trailing slash (used in messages).
    pub(crate) url: String,
    /// The host SigV4 signs: `host` for ports 80/443, else `host:port`.
    sign_host: String,
    creds: Credentials,
    timeout: Duration,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// One request: method, already percent-encoded path, raw query, extra headers, body.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// HTTP method.
    pub(crate) method: Method,
    /// The wire path, e.g. `/bucket/schema/table`.
    pub(crate) path: String,
    /// The raw query without `?`, e.g. `data` (may be empty).
    pub(crate) query: String,
    /// Extra headers (`tabular-*`).
    pub(crate) headers: Vec<(String, String)>,
    /// Request body (empty for most calls).
    pub(crate) body: Bytes,
    /// What the call is, for messages: e.g. `list tables of b/s`.
    pub(crate) what: String,
}

impl Call {
    /// A call with the common tabular headers for transaction `txid`.
    pub(crate) fn tabular(
        method: Method,
        path: String,
        query: &str,
        txid: u64,
        what: String,
    ) -> Self {
        Self {
            method,
            path,
            query: query.to_owned(),
            headers: vec![
                ("tabular-txid".to_owned(), txid.to_string()),
                ("tabular-api-version-id".to_owned(), "1".to_owned()),
                ("tabular-client-name".to_owned(), "tabular-api".to_owned()),
            ],
            body: Bytes::new(),
            what,
        }
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &str, value: impl ToString) -> Self {
        self.headers.push((name.to_owned(), value.to_string()));
        self
    }
}

/// Percent-encodes path segments (keeps `A-Z a-z 0-9 - _ . ~ /`) and joins them with `/`.
pub(crate) fn path(segments: &[&str]) -> String {
    let mut out = String::new();
    for segment in segments.iter().filter(|s| !s.is_empty()) {
        out.push('/');
        out.extend(utf8_percent_encode(segment, sigv4::PATH_SAFE));
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

impl Endpoint {
    /// An endpoint for `url` (`http://host[:port]` or `https://host[:port]`).
    pub(crate) fn new(url: &str, options: EndpointOptions<'_>) -> Result<Self, BackendError> {
        let url = url.trim_end_matches('/').to_owned();
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(BackendError::Invalid(format!(
                "vast.endpoints: `{url}` must start with http:// or https://"
            )));
        }
        let uri: http::Uri = url.parse().map_err(|e| {
            BackendError::Invalid(format!("vast.endpoints: `{url}` is not a URL: {e}"))
        })?;
        let (Some(authority), Some(host)) = (uri.authority(), uri.host()) else {
            return Err(BackendError::Invalid(format!(
                "vast.endpoints: `{url}` has no host"
            )));
        };
        if uri.path() != "/" && !uri.path().is_empty() {
            return Err(BackendError::Invalid(format!(
                "vast.endpoints: `{url}`: give scheme, host and port only (no path)"
            )));
        }
        let sign_host = match uri.port_u16() {
            None | Some(80) | Some(443) => host.to_owned(),
            Some(_) => authority.as_str().to_owned(),
        };
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(options.connect_timeout));
        http.set_nodelay(true);
        // The TLS layer needs the https:// URIs passed through.
        http.enforce_http(false);
        let connector = tls::connector(options.tls, options.tls_server_name, http)?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            url,
            sign_host,
            creds: options.creds,
            timeout: options.timeout,
            client,
        })
    }

    fn unavailable(&self, call: &Call, message: impl std::fmt::Display) -> BackendError {
        BackendError::Unavailable {
            endpoint: self.url.clone(),
            message: format!("{}: {message}", call.what),
        }
    }

    /// Sends `call`; a status other than 200 becomes an error (the body is read for its XML).
    /// Health accounting is the caller's (`cluster::Member`).
    pub(crate) async fn send(&self, call: &Call) -> Result<Response<Incoming>, BackendError> {
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let payload = sigv4::sha256_hex(&call.body);
        let auth = sigv4::authorization(
            &self.creds,
            &RequestParts {
                method: call.method.as_str(),
                host: &self.sign_host,
                path: &call.path,
                query: &call.query,
                payload_sha256: &payload,
                amz_date: &amz_date,
                region: "",
            },
        );
        let target = if call.query.is_empty() {
            format!("{}{}", self.url, call.path)
        } else {
            format!("{}{}?{}", self.url, call.path, call.query)
        };
        let mut builder = Request::builder()
            .method(call.method.clone())
            .uri(&target)
            .header("user-agent", USER_AGENT)
            .header("x-amz-date", &amz_date)
            .header("x-amz-content-sha256", &payload)
            .header("authorization", auth);
        for (name, value) in &call.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .body(Full::new(call.body.clone()))
            .map_err(|e| BackendError::Invalid(format!("{}: bad request: {e}", call.what)))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| self.unavailable(call, format!("no answer within {:?}", self.timeout)))?
            .map_err(|e| {
                self.unavailable(call, format!("request failed: {}", crate::error::chain(&e)))
            })?;
        if response.status() == StatusCode::OK {
            return Ok(response);
        }
        let status = response.status();
        let body = tokio::time::timeout(self.timeout, response.into_body().collect())
            .await
            .ok()
            .and_then(Result::ok)
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Err(self.status_error(call, status, &body))
    }

    /// Sends `call` and reads the whole body.
    pub(crate) async fn send_full(&self, call: &Call) -> Result<(HeaderMap, Bytes), BackendError> {
        let response = self.send(call).await?;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(self.timeout, body.collect())
            .await
            .map_err(|_| self.unavailable(call, "the response body timed out"))?
            .map_err(|e| self.unavailable(call, format!("cannot read the response: {e}")))?
            .to_bytes();
        Ok((parts.headers, body))
    }

    /// Reads one more chunk of a streaming body (`None` at its end), within the timeout.
    pub(crate) async fn next_chunk(
        &self,
        call: &Call,
        body: &mut Incoming,
    ) -> Result<Option<Bytes>, BackendError> {
        loop {
            let frame = tokio::time::timeout(self.timeout, body.frame())
                .await
                .map_err(|_| self.unavailable(call, "the response stalled"))?;
            match frame {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(self.unavailable(
                        call,
                        format!("connection lost: {}", crate::error::chain(&e)),
                    ));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// The error of a non-200 answer with S3 XML `body`.
    fn status_error(&self, call: &Call, status: StatusCode, body: &[u8]) -> BackendError {
        let S3ErrorBody { code, message } = S3ErrorBody::from_xml(body).unwrap_or_default();
        // HEAD answers carry no body: then there is only the status to report.
        let reason = if code.is_empty() && message.is_empty() {
            status.to_string()
        } else {
            format!("{code}: {message}")
        };
        let detail = format!("{}: {} {code}: {message}", call.what, status.as_u16());
        match status.as_u16() {
            403 => BackendError::Invalid(format!(
                "{}: authentication failed ({detail}); check vast.access_key and vast.secret_key",
                self.url
            )),
            404 => BackendError::NotFound {
                what: format!("{} ({}: {reason})", call.what, self.url),
            },
            _ if code.starts_with("NoSuch") => BackendError::NotFound {
                what: format!("{} ({}: {reason})", call.what, self.url),
            },
            _ if code == "TabularUnsupportedColumnType" => {
                BackendError::Unsupported(format!("{}: {detail}", self.url))
            }
            408 | 409 | 500 | 503 | 507 => BackendError::Unavailable {
                endpoint: self.url.clone(),
                message: detail,
            },
            _ => BackendError::Invalid(format!("{}: {detail}", self.url)),
        }
    }
}

/// Whether an error is a 503 `SlowDown` (back off before retrying).
pub(crate) fn is_slow_down(err: &BackendError) -> bool {
    matches!(err, BackendError::Unavailable { message, .. } if message.contains("SlowDown") || message.contains(" 503 "))
}

/// A numeric response header.
pub(crate) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_and_errors_parsed() {
        assert_eq!(path(&["b", "my schema", "t"]), "/b/my%20schema/t");
        assert_eq!(path(&[]), "/");
        let xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>a &lt;b&gt;</Message></Error>";
        let body = S3ErrorBody::from_xml(xml.as_bytes()).expect("an S3 error body");
        assert_eq!(body.code, "NoSuchBucket");
        assert_eq!(body.message, "a <b>");
    }
}
