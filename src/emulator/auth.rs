//! SigV4 verification and self-authenticating transaction ids.
//!
//! A transaction id is `nonce << 32 | mac`, where `mac` is the first 32 bits of
//! HMAC-SHA256(secret, nonce): every emulator with the same secret accepts an id minted by any
//! of them, so a folder served by several emulators behaves as one cluster without shared
//! state. Commit and rollback only check the id.

use axum::{
    http::{HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
};

use super::{
    EmulatorConfig,
    call::{Call, S3Error, ok_body},
};
use crate::vast_protocol::sigv4;

fn forbidden(code: &'static str, message: impl Into<String>) -> S3Error {
    S3Error::new(StatusCode::FORBIDDEN, code, message)
}

/// Checks the request's SigV4 signature (as the SDK computes it) against our credentials.
pub(super) fn verify_signature(
    config: &EmulatorConfig,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), S3Error> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(authorization) = header("authorization") else {
        return Err(forbidden("AccessDenied", "the request is not signed"));
    };
    let parsed = sigv4::parse_authorization(authorization).ok_or_else(|| {
        forbidden(
            "AuthorizationHeaderMalformed",
            "expected AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..",
        )
    })?;
    if parsed.access_key != config.access_key {
        return Err(forbidden(
            "InvalidAccessKeyId",
            format!("unknown access key `{}`", parsed.access_key),
        ));
    }
    if parsed.signed_headers != ["host", "x-amz-date"] {
        return Err(forbidden(
            "SignatureDoesNotMatch",
            "the emulator verifies SignedHeaders=host;x-amz-date only",
        ));
    }
    let (Some(host), Some(amz_date)) = (header("host"), header("x-amz-date")) else {
        return Err(forbidden(
            "SignatureDoesNotMatch",
            "missing Host or x-amz-date",
        ));
    };
    let payload = sigv4::sha256_hex(body);
    if let Some(claimed) = header("x-amz-content-sha256")
        && claimed != payload
        && claimed != "UNSIGNED-PAYLOAD"
    {
        return Err(S3Error::bad_request(
            "x-amz-content-sha256 does not match the body",
        ));
    }
    let expected = sigv4::signature(
        &config.secret_key,
        &sigv4::RequestParts {
            method: method.as_str(),
            host,
            path,
            query,
            payload_sha256: &payload,
            amz_date,
            region: &parsed.region,
        },
    );
    if sigv4::constant_time_eq(&expected, &parsed.signature) {
        Ok(())
    } else {
        Err(forbidden(
            "SignatureDoesNotMatch",
            "the request signature we calculated does not match the signature you provided",
        ))
    }
}

fn mac32(secret: &str, nonce: u32) -> u32 {
    let mac = sigv4::hmac_sha256(secret.as_bytes(), &nonce.to_be_bytes());
    u32::from_be_bytes([mac[0], mac[1], mac[2], mac[3]])
}

/// A new transaction id valid on every emulator sharing `secret`.
fn mint_txid(secret: &str) -> u64 {
    // Top bit clear so the id also fits a signed 64-bit integer; never 0.
    let nonce = (rand::random::<u32>() & 0x7FFF_FFFF).max(1);
    (u64::from(nonce) << 32) | u64::from(mac32(secret, nonce))
}

/// Whether `txid` was minted by an emulator sharing `secret`.
fn valid_txid(secret: &str, txid: u64) -> bool {
    let nonce = u32::try_from(txid >> 32).unwrap_or(0);
    nonce != 0 && (txid & 0xFFFF_FFFF) as u32 == mac32(secret, nonce)
}

/// The `tabular-txid` of a call must be a live transaction.
pub(super) fn check_txid(config: &EmulatorConfig, call: &Call) -> Result<(), S3Error> {
    let txid: u64 = call.header_num("tabular-txid")?.unwrap_or(0);
    if valid_txid(&config.secret_key, txid) {
        Ok(())
    } else {
        Err(S3Error::bad_request(format!(
            "tabular-txid {txid} is not a transaction of this cluster; begin one with POST /?transaction"
        )))
    }
}

/// `/?transaction`: version probe (GET with `tabular-get-vast-version`), begin (POST),
/// commit (PUT), rollback (DELETE), status (GET).
pub(super) fn transaction(config: &EmulatorConfig, call: &Call) -> Result<Response, S3Error> {
    if call.method == Method::GET && call.header("tabular-get-vast-version").is_some() {
        return Ok(StatusCode::OK.into_response());
    }
    match call.method {
        Method::POST => {
            let txid = mint_txid(&config.secret_key);
            Ok(ok_body(Vec::new(), &[("tabular-txid", txid.to_string())]))
        }
        Method::PUT | Method::DELETE | Method::GET => {
            check_txid(config, call)?;
            Ok(StatusCode::OK.into_response())
        }
        _ => Err(S3Error::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{} /?transaction", call.method),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txids_verify_under_the_same_secret_only() {
        let id = mint_txid("s1");
        assert!(valid_txid("s1", id));
        assert!(!valid_txid("s2", id));
        assert!(!valid_txid("s1", id ^ 1));
        assert!(!valid_txid("s1", 0));
    }
}
