//! TLS on both ports with the test's own CA (rcgen): tonic and raw HTTP/1.1 clients over
//! rustls, mutual TLS standing in for a token, and a renewed certificate reloaded on SIGHUP
//! while a stream runs.

use std::{path::PathBuf, sync::Arc};

use futures::StreamExt;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
};
use tokio_rustls::TlsConnector;
use tonic::{Code, transport::Channel};
use vastgate::proto::{self, query_service_client::QueryServiceClient};

use crate::{
    harness::{TestServer, sensors},
    referee::duckdb_count,
    security::{Callers, bearer},
};

/// A throwaway CA, a server certificate for `localhost` and 127.0.0.1, and a client
/// certificate with common name `etl-job`, as PEM files.
pub(crate) struct Pki {
    pub(crate) dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub(crate) fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "vastgate test CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
            ca,
        };
        std::fs::write(pki.path("ca.pem"), pki.ca.pem()).unwrap();
        pki.issue_server();
        pki.issue("client", "etl-job");
        pki
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// (Re)issues the server certificate with a fresh key; returns its DER.
    pub(crate) fn issue_server(&self) -> Vec<u8> {
        self.issue("server", "localhost")
    }

    fn issue(&self, file: &str, name: &str) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec![name.to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.ca).unwrap();
        std::fs::write(self.path(&format!("{file}.pem")), cert.pem()).unwrap();
        std::fs::write(self.path(&format!("{file}.key")), key.serialize_pem()).unwrap();
        cert.der().to_vec()
    }

    /// `[server.tls]` with these files; `mutual` adds the client CA.
    pub(crate) fn server_toml(&self, mutual: bool) -> String {
        let mut toml = format!(
            "[server.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            self.path("server.pem").display(),
            self.path("server.key").display()
        );
        if mutual {
            toml.push_str(&format!(
                "client_ca_file = \"{}\"\n",
                self.path("ca.pem").display()
            ));
        }
        toml
    }

    /// A client trusting the CA, with the client certificate if `with_client_cert`.
    pub(crate) fn client(&self, with_client_cert: bool, alpn: &[u8]) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(self.path("ca.pem")).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut config = if with_client_cert {
            let certs = CertificateDer::pem_file_iter(self.path("client.pem"))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(self.path("client.key")).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        config.alpn_protocols = vec![alpn.to_vec()];
        TlsConnector::from(Arc::new(config))
    }
}

/// A gRPC channel to `server` over TLS.
pub(crate) async fn tls_channel(
    server: &TestServer,
    connector: TlsConnector,
) -> Result<Channel, tonic::transport::Error> {
    let addr = server.grpc;
    // The URI's scheme is only for tonic: the connector below does the TLS.
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| {
            let connector = connector.clone();
            async move {
                let tcp = TcpStream::connect(addr).await?;
                let tls = connector
                    .connect(ServerName::try_from("localhost").unwrap(), tcp)
                    .await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
}

/// Sends a raw HTTP/1.1 request (with `Connection: close`) and reads the whole response.
pub(crate) async fn http_exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    request: &str,
) -> String {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // A TLS peer may close without close_notify; what was read is the answer.
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// `GET path` over TLS on `addr`; the response and the certificate the server showed.
async fn https_get(
    addr: std::net::SocketAddr,
    connector: &TlsConnector,
    path: &str,
) -> (String, Vec<u8>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let cert = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    (http_exchange(tls, &request).await, cert)
}

fn count() -> proto::CountRequest {
    proto::CountRequest {
        table: sensors(),
        filter: Some(crate::vast::sensor_id_is(3)),
        hints: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_ports_serve_tls_and_plain_text_is_refused() {
    let pki = Pki::new();
    let server = TestServer::with_config(&pki.server_toml(false)).await;
    let channel = tls_channel(&server, pki.client(false, b"h2"))
        .await
        .unwrap();
    let got = QueryServiceClient::new(channel)
        .count(count())
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(got, duckdb_count("sensors", "sensor_id = 3"));
    let (response, _) = https_get(server.http, &pki.client(false, b"http/1.1"), "/healthz").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // A plain-text client gets no gRPC answer from a TLS port.
    let plain = match tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc))
        .unwrap()
        .connect()
        .await
    {
        Ok(channel) => QueryServiceClient::new(channel)
            .count(count())
            .await
            .is_ok(),
        Err(_) => false,
    };
    assert!(!plain, "a plain-text call was answered on the TLS port");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_certificate_stands_in_for_a_token() {
    let pki = Pki::new();
    let callers = Callers::new();
    let toml = format!(
        "{}{}[auth.client_cert_roles]\n\"etl-job\" = \"reader\"\n",
        pki.server_toml(true),
        callers.auth_toml()
    );
    let server = TestServer::with_config(&toml).await;
    // With the certificate and no token: a reader named after the certificate.
    let channel = tls_channel(&server, pki.client(true, b"h2")).await.unwrap();
    let mut query = QueryServiceClient::new(channel.clone());
    let got = query.count(count()).await.unwrap().into_inner().count;
    assert_eq!(got, duckdb_count("sensors", "sensor_id = 3"));
    let mut admin = proto::admin_service_client::AdminServiceClient::new(channel);
    let status = admin
        .get_config(proto::GetConfigRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let log = admin
        .list_queries(proto::ListQueriesRequest { limit: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(log.recent[0].caller, "etl-job");
    // Without a certificate (allowed, since a token may identify the caller) and no token.
    let channel = tls_channel(&server, pki.client(false, b"h2"))
        .await
        .unwrap();
    let mut anonymous = QueryServiceClient::new(channel);
    let status = anonymous.count(count()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let got = anonymous
        .count(bearer(count(), &callers.admin))
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(got, duckdb_count("sensors", "sensor_id = 3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_auth_mutual_tls_refuses_a_client_without_a_certificate() {
    let pki = Pki::new();
    let server = TestServer::with_config(&pki.server_toml(true)).await;
    let with_cert = tls_channel(&server, pki.client(true, b"h2")).await.unwrap();
    QueryServiceClient::new(with_cert)
        .count(count())
        .await
        .unwrap();
    let refused = match tls_channel(&server, pki.client(false, b"h2")).await {
        Err(_) => true,
        Ok(channel) => QueryServiceClient::new(channel)
            .count(count())
            .await
            .is_err(),
    };
    assert!(refused, "a client without a certificate was served");
}

/// SIGHUP goes to the whole test binary, whose servers all reload (harmless for the others).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sighup_reloads_a_renewed_certificate_without_cutting_a_stream() {
    let pki = Pki::new();
    let server = TestServer::with_config(&pki.server_toml(false)).await;
    let connector = pki.client(false, b"http/1.1");
    let (_, before) = https_get(server.http, &connector, "/healthz").await;

    // A Select streaming over the old certificate, one message read.
    let channel = tls_channel(&server, pki.client(false, b"h2"))
        .await
        .unwrap();
    let mut stream = QueryServiceClient::new(channel)
        .max_decoding_message_size(16 << 20)
        .select(proto::SelectRequest {
            table: sensors(),
            columns: vec!["ts".into(), "sensor_id".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();

    let renewed = pki.issue_server();
    assert_ne!(renewed, before);
    hang_up();
    let mut after = before.clone();
    for _ in 0..100 {
        after = https_get(server.http, &connector, "/healthz").await.1;
        if after != before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        after, renewed,
        "new connections get the renewed certificate"
    );

    // The stream opened before the reload runs to its end.
    let mut chunks = vec![first];
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk.unwrap());
    }
    assert_eq!(
        crate::referee::ipc_rows(chunks),
        crate::harness::SENSOR_ROWS
    );
}

/// Sends SIGHUP to this test process.
fn hang_up() {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// pyarrow.flight's `authenticate_basic_token` over TLS with the test's CA (see the script).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_flight_authenticates_with_basic_token_over_tls() {
    let pki = Pki::new();
    let callers = Callers::new();
    let server = TestServer::with_config(&format!(
        "{}{}",
        pki.server_toml(false),
        callers.auth_toml()
    ))
    .await;
    let stdout = crate::python::run_script(
        "tests/python/flight_auth_tls.py",
        vec![
            server.grpc.to_string(),
            pki.path("ca.pem").display().to_string(),
            callers.reader.clone(),
            callers.admin.clone(),
            crate::harness::parquet_path("sensors")
                .display()
                .to_string(),
        ],
    )
    .await;
    assert!(stdout.contains("flight auth checks passed"), "{stdout}");
}
