//! The official VAST SDK (Python `vastdb`, pinned in `tests/sdk/requirements.txt`) against two
//! emulators over the shared demo data, checked row for row against DuckDB by
//! `tests/sdk/test_sdk_emulator.py`.

use std::{path::Path, process::Command};

use tokio::sync::oneshot;
use vastgate::emulator::{self, EmulatorConfig, FaultConfig};

use crate::{harness::data_dir, python::python};

/// The bucket the test emulators serve.
pub(crate) const BUCKET: &str = "vastgate-test";
/// The access key the test emulators accept.
pub(crate) const ACCESS: &str = "test-access";
/// The secret key the test emulators accept.
pub(crate) const SECRET: &str = "test-secret";

/// A running emulator, stopped on drop.
pub(crate) struct Emulator {
    pub(crate) url: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Emulator {
    /// An emulator over `data` on 127.0.0.1:0.
    pub(crate) async fn start(data: &Path) -> Self {
        Self::with_faults(data, FaultConfig::default()).await
    }

    /// An emulator over `data` on 127.0.0.1:0 injecting `faults`.
    pub(crate) async fn with_faults(data: &Path, faults: FaultConfig) -> Self {
        Self::serve(data, faults, None, 0).await
    }

    /// An emulator over `data` on 127.0.0.1:0 serving repeated pages from a cache.
    pub(crate) async fn with_page_cache(data: &Path) -> Self {
        Self::serve(data, FaultConfig::default(), None, 64 << 20).await
    }

    /// An HTTPS emulator over `data` on 127.0.0.1:0 with the given certificate files.
    pub(crate) async fn with_tls(data: &Path, tls: emulator::TlsFiles) -> Self {
        Self::serve(data, FaultConfig::default(), Some(tls), 0).await
    }

    async fn serve(
        data: &Path,
        faults: FaultConfig,
        tls: Option<emulator::TlsFiles>,
        page_cache_bytes: u64,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (tx, rx) = oneshot::channel();
        let config = EmulatorConfig {
            data_dir: data.to_owned(),
            bucket: BUCKET.to_owned(),
            access_key: ACCESS.to_owned(),
            secret_key: SECRET.to_owned(),
            faults,
            tls,
            page_cache_bytes,
        };
        tokio::spawn(async move {
            emulator::serve(listener, config, async {
                let _ = rx.await;
            })
            .await
            .expect("emulator runs");
        });
        Self {
            url: format!("{scheme}://{addr}"),
            shutdown: Some(tx),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_reads_the_emulator_like_duckdb() {
    let data = data_dir().to_owned();
    let (a, b) = (Emulator::start(&data).await, Emulator::start(&data).await);
    let python = python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/test_sdk_emulator.py");
    let endpoints = format!("{},{}", a.url, b.url);
    println!(
        "running {} {} --endpoints {endpoints}",
        python.display(),
        script.display()
    );
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args(["--endpoints", &endpoints, "--bucket", BUCKET])
            .args(["--access", ACCESS, "--secret", SECRET, "--data"])
            .arg(&data)
            .output()
            .expect("run the SDK script")
    })
    .await
    .expect("SDK script task");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the SDK script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("0 failures"));
}
