//! Routing of the emulator's HTTP requests, and S3 XML errors.

use std::sync::Arc;

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{Emulator, SERVER_VERSION, auth, meta, query};

/// Largest request body accepted (the SDK refuses to send more than 4.5 MiB).
const MAX_BODY: usize = 8 << 20;

/// An S3-style error: status, `<Code>` and `<Message>`.
#[derive(Debug)]
pub(super) struct S3Error {
    pub(super) status: StatusCode,
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl S3Error {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub(super) fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub(super) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl IntoResponse for S3Error {
    fn into_response(self) -> Response {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code,
            xml_escape(&self.message)
        );
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        response
    }
}

/// A parsed request: method, decoded path segments, command and parameters.
#[derive(Debug)]
pub(super) struct Call {
    pub(super) method: Method,
    pub(super) segments: Vec<String>,
    /// The bare first query item (`schema`, `table`, `data`, ...), empty if none.
    pub(super) command: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

impl Call {
    /// A request header as text, if present.
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A request header parsed as a number.
    pub(super) fn header_num<T: std::str::FromStr>(
        &self,
        name: &str,
    ) -> Result<Option<T>, S3Error> {
        self.header(name)
            .map(|v| {
                v.trim().parse().map_err(|_| {
                    S3Error::bad_request(format!("header {name}: `{v}` is not a number"))
                })
            })
            .transpose()
    }
}

/// The router: everything goes through one handler.
pub(super) fn router(state: Arc<Emulator>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<Arc<Emulator>>, request: Request) -> Response {
    let mut response = match dispatch(&state, request).await {
        Ok(response) => response,
        Err(err) => {
            tracing::debug!(status = %err.status, code = err.code, "{}", err.message);
            err.into_response()
        }
    };
    response
        .headers_mut()
        .insert(header::SERVER, HeaderValue::from_static(SERVER_VERSION));
    response
}

fn percent_decode(segment: &str) -> String {
    fn hex_digit(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn dispatch(state: &Arc<Emulator>, request: Request) -> Result<Response, S3Error> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    if path == "/_emulator/stats" {
        let tx = &state.transactions;
        let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let body = serde_json::json!({
            "transaction_status_calls": count(&tx.status),
            "transactions_begun": count(&tx.begun),
            "transactions_committed": count(&tx.committed),
            "transactions_rolled_back": count(&tx.rolled_back),
        })
        .to_string();
        return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    if path == "/_emulator/faults" {
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|e| S3Error::bad_request(format!("cannot read the body: {e}")))?;
        return state
            .faults
            .configure(&body)
            .map(IntoResponse::into_response);
    }
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| S3Error::bad_request(format!("cannot read the body: {e}")))?;
    auth::verify_signature(
        &state.config,
        &parts.method,
        &path,
        &query,
        &parts.headers,
        &body,
    )?;
    state.faults.before_request().await?;

    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let command = query
        .split('&')
        .next()
        .filter(|c| !c.contains('='))
        .unwrap_or("")
        .to_owned();
    let call = Call {
        method: parts.method,
        segments,
        command,
        headers: parts.headers,
        body,
    };
    route(state, call).await
}

async fn route(state: &Arc<Emulator>, call: Call) -> Result<Response, S3Error> {
    let n = call.segments.len();
    match (n, call.command.as_str()) {
        (0, "transaction") => {
            let response = auth::transaction(&state.config, &call)?;
            let tx = &state.transactions;
            let counter = match call.method {
                Method::POST => Some(&tx.begun),
                Method::PUT => Some(&tx.committed),
                Method::DELETE => Some(&tx.rolled_back),
                Method::GET if call.header("tabular-get-vast-version").is_none() => {
                    Some(&tx.status)
                }
                _ => None,
            };
            if let Some(counter) = counter {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(response)
        }
        (1, "") if call.method == Method::HEAD || call.method == Method::GET => {
            check_bucket(state, &call)?;
            Ok(StatusCode::OK.into_response())
        }
        (1, "schema") => {
            check_call(state, &call)?;
            meta::list_schemas(state, &call).await
        }
        (2, "table") => {
            check_call(state, &call)?;
            meta::list_tables(state, &call).await
        }
        (3, "column") => {
            check_call(state, &call)?;
            meta::columns(state, &call).await
        }
        (3, "sorted-columns") => {
            check_call(state, &call)?;
            meta::sorted_columns()
        }
        (3, "stats") => {
            check_call(state, &call)?;
            meta::stats(state, &call).await
        }
        (3, "data") => {
            check_call(state, &call)?;
            query::query_data(state, call).await
        }
        _ => Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "NotImplemented",
            format!(
                "the emulator does not serve {} /{}?{}",
                call.method,
                call.segments.join("/"),
                call.command
            ),
        )),
    }
}

fn check_bucket(state: &Emulator, call: &Call) -> Result<(), S3Error> {
    match call.segments.first() {
        Some(bucket) if *bucket == state.config.bucket => Ok(()),
        Some(bucket) => Err(S3Error::not_found(
            "NoSuchBucket",
            format!("bucket `{bucket}` does not exist"),
        )),
        None => Err(S3Error::bad_request("no bucket in the path")),
    }
}

/// A tabular call: the bucket exists and the transaction id is one of ours.
fn check_call(state: &Emulator, call: &Call) -> Result<(), S3Error> {
    check_bucket(state, call)?;
    auth::check_txid(&state.config, call)
}

/// A plain 200 response with `body`.
pub(super) fn ok_body(body: impl Into<Body>, headers: &[(&'static str, String)]) -> Response {
    let mut response = Response::new(body.into());
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, value);
        }
    }
    response
}
