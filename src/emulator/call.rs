//! What every emulator handler shares: the parsed request ([`Call`]), S3 XML errors
//! ([`S3Error`]) and plain responses.

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{
    backend::{BackendError, TableRef},
    vast_protocol::s3_error::S3ErrorBody,
};

/// An S3-style error: status, `<Code>` and `<Message>`.
#[derive(Debug)]
pub(crate) struct S3Error {
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

impl IntoResponse for S3Error {
    fn into_response(self) -> Response {
        let body = S3ErrorBody {
            code: self.code.to_owned(),
            message: self.message,
        }
        .to_xml();
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

/// Maps a backend error to an S3 error.
pub(super) fn backend_error(err: BackendError) -> S3Error {
    match err {
        BackendError::NotFound { what } => {
            S3Error::not_found("NoSuchKey", format!("{what} not found"))
        }
        BackendError::Invalid(m) | BackendError::Unsupported(m) => S3Error::bad_request(m),
        other => S3Error::internal(other.to_string()),
    }
}

/// The table a call addresses (`/{bucket}/{schema}/{table}`).
pub(super) fn table_ref(call: &Call) -> TableRef {
    let part = |i: usize| call.segments.get(i).cloned().unwrap_or_default();
    TableRef {
        bucket: part(0),
        schema: part(1),
        table: part(2),
    }
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
