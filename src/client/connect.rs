//! The client's channel: plain or TLS by the address's scheme, and the bearer token on every
//! call.

use std::path::Path;

use tonic::{
    Status,
    metadata::AsciiMetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
};

use super::failure::Failure;

/// A channel whose calls carry the token.
pub(super) type Authorized = InterceptedService<Channel, BearerToken>;

/// Adds `authorization: Bearer …` when a token is set.
#[derive(Debug, Clone)]
pub(super) struct BearerToken(Option<AsciiMetadataValue>);

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Connects to `addr` (`http://` or `https://`), trusting `ca_file` besides the built-in roots.
pub(super) async fn connect(
    addr: &str,
    token: Option<&str>,
    ca_file: Option<&Path>,
) -> Result<Authorized, Failure> {
    let invalid = |message: String| Failure::new(tonic::Code::InvalidArgument, message);
    let token = token
        .map(|t| AsciiMetadataValue::try_from(format!("Bearer {}", t.trim())))
        .transpose()
        .map_err(|_| invalid("--token holds characters a header cannot carry".to_owned()))?;
    let mut endpoint = Endpoint::from_shared(addr.to_owned()).map_err(|e| {
        invalid(format!(
            "--addr `{addr}` is not a URL like http://127.0.0.1:50051: {e}"
        ))
    })?;
    if addr.starts_with("https://") {
        let mut tls = ClientTlsConfig::new().with_webpki_roots();
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                invalid(format!(
                    "--ca-file `{}` cannot be read: {e}",
                    path.display()
                ))
            })?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| invalid(format!("TLS setup: {e}")))?;
    } else if ca_file.is_some() {
        return Err(invalid("--ca-file needs an https:// --addr".to_owned()));
    }
    let channel = endpoint.connect().await.map_err(|e| {
        Failure::new(
            tonic::Code::Unavailable,
            format!("cannot connect to {addr}: {}", crate::error::chain(&e)),
        )
    })?;
    Ok(InterceptedService::new(channel, BearerToken(token)))
}
