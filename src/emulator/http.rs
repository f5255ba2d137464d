//! Routing of the emulator's HTTP requests: the emulator's own endpoints, signature and
//! fault checks, then the tabular call to its handler.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};

use percent_encoding::percent_decode_str;

use super::{
    Emulator, SERVER_VERSION, auth,
    call::{Call, S3Error},
    meta, query,
};

/// Largest request body accepted (the SDK refuses to send more than 4.5 MiB).
const MAX_BODY: usize = 8 << 20;

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
            "query_data_calls": count(&state.query_data_calls),
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
        .map(|segment| percent_decode_str(segment).decode_utf8_lossy().into_owned())
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
