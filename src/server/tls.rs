//! TLS on the service's ports, with certificates swapped on reload.
//!
//! tonic's own TLS is fixed when the server is built, so connections are accepted here: each
//! handshake runs in its own task under the configuration current at accept time, and the
//! finished streams reach tonic (`serve_with_incoming`) and axum (a [`Listener`]) through a
//! bounded channel. A reload changes what new connections get; streams already open keep
//! theirs. A verified client certificate's names travel with the connection ([`PeerInfo`]).

use std::{
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{Arc, RwLock},
    task::{Context, Poll},
    time::Duration,
};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_util::sync::CancellationToken;

use crate::{auth::PeerNames, config::TlsConfig};

/// A client gets this long to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for the server to take them.
const ACCEPTED_BACKLOG: usize = 64;
/// Handshakes under way at once; beyond, accepting waits (the kernel's backlog holds the rest),
/// so a flood of clients that never finish a handshake cannot grow tasks without bound.
const MAX_HANDSHAKES: usize = 256;

/// Why the TLS files cannot be used; names the file and the key that points at it.
#[derive(Debug, thiserror::Error)]
#[error("{key} {}: {message}", path.display())]
pub struct TlsError {
    key: &'static str,
    path: PathBuf,
    message: String,
}

/// Which port a configuration is for: gRPC speaks HTTP/2 only, the HTTP port HTTP/1.1.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Port {
    Grpc,
    Http,
}

/// The TLS configurations of both ports, re-read by [`ServerTls::reload`].
#[derive(Debug)]
pub(crate) struct ServerTls {
    files: TlsConfig,
    allow_no_client_cert: bool,
    current: RwLock<(Arc<ServerConfig>, Arc<ServerConfig>)>,
}

impl ServerTls {
    /// Reads `files`. Without a client certificate a connection is refused under mutual TLS,
    /// unless `allow_no_client_cert` (a token can identify the caller instead).
    pub(crate) fn load(files: &TlsConfig, allow_no_client_cert: bool) -> Result<Self, TlsError> {
        let configs = build(files, allow_no_client_cert)?;
        Ok(Self {
            files: files.clone(),
            allow_no_client_cert,
            current: RwLock::new(configs),
        })
    }

    /// Reads the files again; on error the configuration in use stays.
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        let configs = build(&self.files, self.allow_no_client_cert)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = configs;
        Ok(())
    }

    fn acceptor(&self, port: Port) -> TlsAcceptor {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        TlsAcceptor::from(Arc::clone(match port {
            Port::Grpc => &current.0,
            Port::Http => &current.1,
        }))
    }
}

fn build(
    files: &TlsConfig,
    allow_no_client_cert: bool,
) -> Result<(Arc<ServerConfig>, Arc<ServerConfig>), TlsError> {
    let (Some(cert_file), Some(key_file)) = (&files.cert_file, &files.key_file) else {
        return Err(TlsError {
            key: "server.tls",
            path: PathBuf::new(),
            message: "needs both cert_file and key_file".to_owned(),
        });
    };
    let certs = read_certs("server.tls.cert_file", cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| error("server.tls.key_file", key_file, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = match &files.client_ca_file {
        None => None,
        Some(ca_file) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs("server.tls.client_ca_file", ca_file)? {
                roots
                    .add(cert)
                    .map_err(|e| error("server.tls.client_ca_file", ca_file, e))?;
            }
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            let builder = if allow_no_client_cert {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            Some(
                builder
                    .build()
                    .map_err(|e| error("server.tls.client_ca_file", ca_file, e))?,
            )
        }
    };
    let config = |alpn: &[u8]| -> Result<Arc<ServerConfig>, TlsError> {
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| error("server.tls.cert_file", cert_file, e))?;
        let builder = match &verifier {
            Some(verifier) => builder.with_client_cert_verifier(Arc::clone(verifier)),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| error("server.tls.key_file", key_file, e))?;
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(Arc::new(config))
    };
    Ok((config(b"h2")?, config(b"http/1.1")?))
}

fn read_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| error(key, path, e))?;
    if certs.is_empty() {
        return Err(error(key, path, "holds no PEM certificate"));
    }
    Ok(certs)
}

fn error(key: &'static str, path: &Path, err: impl std::fmt::Display) -> TlsError {
    TlsError {
        key,
        path: path.to_owned(),
        message: err.to_string(),
    }
}

/// The peer of a TLS connection: its address and its client certificate's names.
#[derive(Debug, Clone)]
pub(crate) struct PeerInfo {
    pub(crate) remote: SocketAddr,
    pub(crate) names: PeerNames,
}

/// An accepted TLS connection.
#[derive(Debug)]
pub(crate) struct TlsConn {
    stream: TlsStream<TcpStream>,
    peer: PeerInfo,
}

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Accepts on `listener` until `stop`, handing out connections whose handshake finished.
pub(crate) fn accept(
    listener: TcpListener,
    tls: Arc<ServerTls>,
    port: Port,
    stop: CancellationToken,
) -> mpsc::Receiver<TlsConn> {
    let (sender, receiver) = mpsc::channel(ACCEPTED_BACKLOG);
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let Ok(permit) = Arc::clone(&handshakes).acquire_owned().await else {
                return;
            };
            let (tcp, remote) = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of descriptors and the like: wait rather than spin.
                        tracing::warn!("accept failed: {err}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            super::send_without_delay(&tcp);
            let acceptor = tls.acceptor(port);
            let sender = sender.clone();
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
                drop(permit);
                match handshake {
                    Ok(Ok(stream)) => {
                        let names = peer_names(stream.get_ref().1.peer_certificates());
                        let peer = PeerInfo { remote, names };
                        // A closed channel means the server stopped: drop the connection.
                        let _ = sender.send(TlsConn { stream, peer }).await;
                    }
                    Ok(Err(err)) => tracing::debug!(%remote, "TLS handshake failed: {err}"),
                    Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                }
            });
        }
    });
    receiver
}

/// The names a verified client certificate carries: subject common names, then DNS, e-mail
/// and URI SANs.
fn peer_names(certs: Option<&[CertificateDer<'_>]>) -> PeerNames {
    let Some(leaf) = certs.and_then(|c| c.first()) else {
        return PeerNames::default();
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else {
        return PeerNames::default();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        use x509_parser::extensions::GeneralName;
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) | GeneralName::RFC822Name(n) | GeneralName::URI(n) => {
                    names.push((*n).to_owned())
                }
                _ => {}
            }
        }
    }
    PeerNames(names)
}

/// Connections for tonic's `serve_with_incoming`.
pub(crate) fn grpc_incoming(
    receiver: mpsc::Receiver<TlsConn>,
) -> impl futures::Stream<Item = Result<TlsConn, io::Error>> {
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|conn| (Ok(conn), receiver))
    })
}

/// Connections for axum.
#[derive(Debug)]
pub(crate) struct HttpListener {
    pub(crate) receiver: mpsc::Receiver<TlsConn>,
    pub(crate) local: SocketAddr,
}

impl axum::serve::Listener for HttpListener {
    type Io = TlsConn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.receiver.recv().await {
            Some(conn) => {
                let remote = conn.peer.remote;
                (conn, remote)
            }
            // The accept loop stopped: so does the server, through its shutdown signal.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
