//! The `vastgate serve` process: SIGTERM drains (health `NOT_SERVING`, `/readyz` 503, new
//! calls `UNAVAILABLE`, the stream in flight finishes, exit 0), and bad security files stop
//! it at start with exit code 64 naming the file.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use futures::StreamExt;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use vastgate::proto::{self, query_service_client::QueryServiceClient};

use crate::harness::{SENSOR_ROWS, data_dir, sensors};

fn free_port() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .to_string()
}

/// `vastgate serve` over the demo data, its config file written into `config_dir`: the
/// listen addresses, then `toml`.
fn serve_command(config_dir: &std::path::Path, grpc: &str, http: &str, toml: &str) -> Command {
    let config = config_dir.join("vastgate.toml");
    std::fs::write(
        &config,
        format!("[server]\ngrpc_listen = \"{grpc}\"\nhttp_listen = \"{http}\"\n{toml}"),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_vastgate"));
    command
        .args(["serve", "--data"])
        .arg(data_dir())
        .arg("--config")
        .arg(config);
    command
}

pub(crate) struct ServeProcess {
    pub(crate) child: Child,
    pub(crate) grpc: String,
    pub(crate) http: String,
}

impl ServeProcess {
    /// `vastgate serve` over the demo data with `toml` as its config file.
    pub(crate) fn start(toml: &str, config_dir: &std::path::Path) -> Self {
        let (grpc, http) = (free_port(), free_port());
        let child = serve_command(config_dir, &grpc, &http, toml)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn vastgate serve");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&grpc).is_err() {
            assert!(
                Instant::now() < deadline,
                "vastgate never listened on {grpc}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, grpc, http }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn http_status(addr: &str, path: &str) -> String {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    crate::tls::http_exchange(tcp, &request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_in_flight_streams_then_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::start("shutdown_grace = \"30s\"\n", dir.path());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    let check = HealthCheckRequest {
        service: String::new(),
    };
    let status = health
        .check(check.clone())
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    assert!(
        http_status(&server.http, "/readyz")
            .await
            .starts_with("HTTP/1.1 200")
    );

    let mut query = QueryServiceClient::new(channel).max_decoding_message_size(16 << 20);
    let mut stream = query
        .select(proto::SelectRequest {
            table: sensors(),
            columns: vec!["ts".into(), "sensor_id".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut chunks = vec![stream.next().await.unwrap().unwrap()];

    let term = Instant::now();
    server.signal("-TERM");
    // Draining shows at once, while the stream is still in flight.
    let mut drained = false;
    for _ in 0..100 {
        let status = health
            .check(check.clone())
            .await
            .unwrap()
            .into_inner()
            .status;
        if status == ServingStatus::NotServing as i32 {
            drained = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(drained, "health never turned NOT_SERVING");
    let ready = http_status(&server.http, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(ready.contains("draining"), "{ready}");
    let refused = query
        .count(proto::CountRequest {
            table: sensors(),
            filter: None,
            hints: None,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");

    // The stream in flight finishes whole.
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk.unwrap());
    }
    assert_eq!(crate::referee::ipc_rows(chunks), SENSOR_ROWS);
    drop(query);
    drop(health);

    // Then the process exits 0, well before the 30 s grace.
    let exit = tokio::task::spawn_blocking(move || {
        let status = server.child.wait().unwrap();
        (status, server)
    })
    .await
    .unwrap();
    assert!(exit.0.success(), "{:?}", exit.0);
    assert!(
        term.elapsed() < Duration::from_secs(20),
        "{:?}",
        term.elapsed()
    );
}

fn serve_exit(toml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = serve_command(dir.path(), "127.0.0.1:0", "127.0.0.1:0", toml)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_certificate_key_or_tokens_file_exits_64_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("not-a-cert.pem");
    std::fs::write(&garbage, "hello\n").unwrap();
    let pki = crate::tls::Pki::new();

    let (code, stderr) = serve_exit(&format!(
        "[server.tls]\ncert_file = \"{g}\"\nkey_file = \"{k}\"\n",
        g = garbage.display(),
        k = pki.path("server.key").display()
    ));
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("server.tls.cert_file"), "{stderr}");
    assert!(stderr.contains(&garbage.display().to_string()), "{stderr}");

    let (code, stderr) = serve_exit(&format!(
        "[server.tls]\ncert_file = \"{c}\"\nkey_file = \"{g}\"\n",
        c = pki.path("server.pem").display(),
        g = garbage.display()
    ));
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("server.tls.key_file"), "{stderr}");

    // A key that does not belong to the certificate.
    let (code, stderr) = serve_exit(&format!(
        "[server.tls]\ncert_file = \"{c}\"\nkey_file = \"{k}\"\n",
        c = pki.path("server.pem").display(),
        k = pki.path("client.key").display()
    ));
    assert_eq!(code, Some(64), "{stderr}");

    let tokens = dir.path().join("tokens.toml");
    std::fs::write(
        &tokens,
        "[[tokens]]\nname = \"x\"\nrole = \"reader\"\nsha256 = \"abc\"\n",
    )
    .unwrap();
    let (code, stderr) = serve_exit(&format!(
        "[auth]\nenabled = true\ntokens_file = \"{}\"\n",
        tokens.display()
    ));
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains(&tokens.display().to_string()), "{stderr}");
    assert!(stderr.contains("64 hex digits"), "{stderr}");
}

/// `vastgate token new` prints the token, then the entry; the entry appended to a tokens file
/// lets that token in, with its role and schemas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_token_new_works_once_its_entry_is_appended() {
    let output = Command::new(env!("CARGO_BIN_EXE_vastgate"))
        .args(["token", "new", "--name", "jupyter", "--role", "reader"])
        .args(["--schemas", "demo"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let (token, entry) = text.split_once('\n').unwrap();
    assert!(token.starts_with("vgt_") && token.len() == 68, "{token}");
    assert!(!entry.contains(token), "the entry holds the token itself");
    let tokens = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tokens.path(), entry).unwrap();
    let server = crate::harness::TestServer::with_config(&format!(
        "[auth]\nenabled = true\ntokens_file = \"{}\"\n",
        tokens.path().display()
    ))
    .await;
    let mut query = server.query().await;
    let count = |schema: &str| proto::CountRequest {
        table: Some(proto::TableRef {
            bucket: String::new(),
            schema: schema.into(),
            table: "sensors".into(),
        }),
        filter: Some(crate::vast::sensor_id_is(3)),
        hints: None,
    };
    let got = query
        .count(crate::security::bearer(count("demo"), token))
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(
        got,
        crate::referee::duckdb_count("sensors", "sensor_id = 3")
    );
    let status = query
        .count(crate::security::bearer(count("other"), token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}
