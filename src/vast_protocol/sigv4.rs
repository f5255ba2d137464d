//! AWS Signature V4 exactly as the official VAST SDK signs (see `docs/vast-protocol-notes.md` §2):
//! only `host` and `x-amz-date` are signed, the region may be empty, the raw wire path is
//! percent-encoded once more, and the raw query items are sorted as whole strings.
//!
//! Hand-rolled on `hmac` + `sha2` instead of `aws-sigv4`: that crate canonicalises paths and
//! queries the AWS way and signs more headers, so it could neither reproduce the SDK's quirks
//! nor verify the SDK's signatures in the emulator.

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// The signing algorithm name.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An access key and its secret.
#[derive(Clone)]
pub struct Credentials {
    /// Access key id (sent in the clear).
    pub access_key: String,
    /// Secret key (never sent).
    pub secret_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"***")
            .finish()
    }
}

/// What a request needs to be signed.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The signed host: `host` or `host:port` (the port is left out for 80 and 443).
    pub host: &'a str,
    /// The request-target path as sent on the wire (already percent-encoded).
    pub path: &'a str,
    /// The raw query string without `?` (may be empty).
    pub query: &'a str,
    /// Hex SHA-256 of the body.
    pub payload_sha256: &'a str,
    /// `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
    /// The region of the credential scope (the SDK uses `""`).
    pub region: &'a str,
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The bytes a path keeps as they are: `A-Z a-z 0-9 - _ . ~ /`; the rest is percent-encoded.
pub const PATH_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// The path as the SDK's signer sees it: every byte outside `A-Z a-z 0-9 - _ . ~ /` is
/// percent-encoded, including the `%` of an already encoded path.
pub fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    utf8_percent_encode(path, PATH_SAFE).to_string()
}

/// The query as the SDK's signer sees it: `&`-separated items sorted as whole strings, a bare
/// `k` written `k=`, nothing re-encoded.
pub fn canonical_query(query: &str) -> String {
    let mut items: Vec<&str> = query.split('&').filter(|s| !s.is_empty()).collect();
    items.sort_unstable();
    items
        .iter()
        .map(|item| {
            if item.contains('=') {
                (*item).to_owned()
            } else {
                format!("{item}=")
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `YYYYMMDD/region/s3/aws4_request`.
fn scope(amz_date: &str, region: &str) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    format!("{date}/{region}/s3/aws4_request")
}

/// The hex signature of a request whose signed headers are `host;x-amz-date`.
pub fn signature(secret_key: &str, req: &RequestParts<'_>) -> String {
    let canonical = format!(
        "{}\n{}\n{}\nhost:{}\nx-amz-date:{}\n\nhost;x-amz-date\n{}",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query),
        req.host,
        req.amz_date,
        req.payload_sha256
    );
    let scope = scope(req.amz_date, req.region);
    let to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        req.amz_date,
        sha256_hex(canonical.as_bytes())
    );
    let date = req.amz_date.get(..8).unwrap_or(req.amz_date);
    let mut key = hmac_sha256(format!("AWS4{secret_key}").as_bytes(), date.as_bytes());
    key = hmac_sha256(&key, req.region.as_bytes());
    key = hmac_sha256(&key, b"s3");
    key = hmac_sha256(&key, b"aws4_request");
    hex::encode(hmac_sha256(&key, to_sign.as_bytes()))
}

/// The `Authorization` header value for a request.
pub fn authorization(creds: &Credentials, req: &RequestParts<'_>) -> String {
    format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders=host;x-amz-date, Signature={}",
        creds.access_key,
        scope(req.amz_date, req.region),
        signature(&creds.secret_key, req)
    )
}

/// The parts of a parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization {
    /// The access key of the credential.
    pub access_key: String,
    /// The region of the credential scope (may be empty).
    pub region: String,
    /// Signed header names, as listed.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/s3/aws4_request, SignedHeaders=..,
/// Signature=..`; `None` if it is not of that form.
pub fn parse_authorization(value: &str) -> Option<ParsedAuthorization> {
    let rest = value.strip_prefix(ALGORITHM)?.trim_start();
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let mut scope = credential?.split('/');
    let access_key = scope.next()?.to_owned();
    let _date = scope.next()?;
    let region = scope.next()?.to_owned();
    Some(ParsedAuthorization {
        access_key,
        region,
        signed_headers: signed?.split(';').map(str::to_owned).collect(),
        signature: signature?.to_owned(),
    })
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests;
