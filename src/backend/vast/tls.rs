//! HTTPS to VAST endpoints: one rustls configuration for the backend (Mozilla's roots plus
//! the certificates of `vast.ca_file`), and a connector per endpoint that verifies the
//! certificate against `vast.tls_server_names[url]` when set (an IP endpoint behind a
//! hostname certificate) or else the URL's host.

use std::{path::Path, sync::Arc};

use hyper_rustls::{ConfigBuilderExt as _, FixedServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};

use crate::backend::BackendError;

/// The client configuration: the built-in roots, plus every certificate in `ca_file`.
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, BackendError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BackendError::Invalid(format!("TLS setup: {e}")))?;
    let config = match ca_file {
        None => builder.with_webpki_roots().with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    BackendError::Invalid(format!(
                        "vast.ca_file `{}`: cannot read PEM certificates: {e}",
                        path.display()
                    ))
                })?;
            if certs.is_empty() {
                return Err(BackendError::Invalid(format!(
                    "vast.ca_file `{}` holds no PEM certificate",
                    path.display()
                )));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    BackendError::Invalid(format!(
                        "vast.ca_file `{}`: unusable certificate: {e}",
                        path.display()
                    ))
                })?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// A connector for `http://` and `https://` URLs over `http`, verifying certificates for
/// `server_name` when given.
pub(crate) fn connector(
    config: &ClientConfig,
    server_name: Option<&str>,
    http: HttpConnector,
) -> Result<HttpsConnector<HttpConnector>, BackendError> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.clone())
        .https_or_http();
    let builder = match server_name {
        None => builder,
        Some(name) => {
            let name = ServerName::try_from(name.to_owned()).map_err(|e| {
                BackendError::Invalid(format!(
                    "vast.tls_server_names: `{name}` is not a DNS name or IP address: {e}"
                ))
            })?;
            builder.with_server_name_resolver(FixedServerNameResolver::new(name))
        }
    };
    Ok(builder.enable_http1().wrap_connector(http))
}
