//! The cluster layer against emulators that are separate processes, so they can die for real:
//! SIGKILL in the middle of a scan, then a restart on the same port; SIGSTOP, where the
//! connections stay open and nothing answers. Every answer must still equal DuckDB's.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use vastgate::proto;

use crate::{
    cluster::by_url,
    harness::{TestServer, data_dir},
    referee::duckdb_sensor_keys,
    vast::{list_endpoints, select_keys, sensor_id_is},
    vast_sdk::{ACCESS, BUCKET, SECRET},
};

/// Quick probes and short ejections, so a test sees a death and a return within a second.
const PROCESS_CLUSTER: &str = "request_timeout = \"60s\"\n\
    [vast.breaker]\nconsecutive_failures = 2\nbase_ejection = \"200ms\"\nmax_ejection = \"1s\"\n\
    [vast.health]\ninterval = \"100ms\"\ntimeout = \"500ms\"\n\
    [exec]\nrows_per_split = 100000\nlimit_rows_per_sub_split = 20000\nsplit_attempts = 1\n";

/// `vastgate emulate` as a child process on a fixed loopback port, killed on drop.
pub(crate) struct EmulatorProcess {
    pub(crate) url: String,
    listen: String,
    data: &'static Path,
    faults: String,
    child: Option<Child>,
}

impl EmulatorProcess {
    /// Starts an emulator over `data` whose every answer waits `latency_ms` (a scan then lasts
    /// long enough to be interrupted).
    pub(crate) fn start(data: &'static Path, latency_ms: u64) -> Self {
        // The port stays ours across restarts: bind, note it, release it for the child.
        let listen = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .to_string();
        let mut emulator = Self {
            url: format!("http://{listen}"),
            listen,
            data,
            faults: format!("{{\"latency_ms\":{latency_ms}}}"),
            child: None,
        };
        emulator.restart();
        emulator
    }

    /// (Re)starts the process and waits until it accepts connections.
    pub(crate) fn restart(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_vastgate"))
            .args(["emulate", "--data"])
            .arg(self.data)
            .args(["--listen", &self.listen, "--bucket", BUCKET])
            .args(["--access-key", ACCESS, "--secret-key", SECRET])
            .args(["--faults", &self.faults])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn vastgate emulate");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&self.listen).is_err() {
            assert!(
                Instant::now() < deadline,
                "emulator on {} never listened",
                self.listen
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, and reap the process.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (`-STOP`, `-CONT`) to the process.
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill {signal} {pid}");
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal("-CONT");
        }
        self.kill();
    }
}

/// The value of an unlabelled counter on `/metrics`.
async fn counter(server: &TestServer, name: &str) -> u64 {
    let (_, metrics) = crate::http::get(server.http, "/metrics").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}

/// Polls `ListEndpoints` until `url` satisfies `done`, for at most `within`.
async fn wait_for(
    server: &TestServer,
    url: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&proto::Endpoint) -> bool,
) -> proto::Endpoint {
    let deadline = Instant::now() + within;
    loop {
        let endpoint = by_url(&list_endpoints(server).await, url);
        if done(&endpoint) {
            return endpoint;
        }
        assert!(
            Instant::now() < deadline,
            "{url} not {what} after {within:?}: {endpoint:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn endpoints_killed_mid_scan_and_restarted_twenty_times_lose_no_row() {
    let mut emulators: Vec<EmulatorProcess> = (0..3)
        .map(|_| EmulatorProcess::start(data_dir(), 5))
        .collect();
    let urls: Vec<String> = emulators.iter().map(|e| e.url.clone()).collect();
    let url_refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let server = std::sync::Arc::new(TestServer::with_vast(&url_refs, PROCESS_CLUSTER).await);
    let expected = duckdb_sensor_keys("sensor_id = 3");
    let started = Instant::now();
    for round in 0..20 {
        let victim = round % 3;
        let scan = tokio::spawn({
            let server = std::sync::Arc::clone(&server);
            async move { select_keys(&server, Some(sensor_id_is(3))).await }
        });
        // Somewhere in the scan: it reads for about 100 ms.
        tokio::time::sleep(Duration::from_millis(10 + (round as u64 * 13) % 60)).await;
        let ejections = by_url(&list_endpoints(&server).await, &urls[victim]).ejections;
        emulators[victim].kill();
        let rows = scan.await.expect("scan task");
        assert!(
            rows == expected,
            "round {round}: {} rows, DuckDB {}",
            rows.len(),
            expected.len()
        );

        // The probes find the dead endpoint without a user request...
        wait_for(
            &server,
            &urls[victim],
            Duration::from_secs(5),
            "ejected",
            |e| e.ejections > ejections && !e.healthy,
        )
        .await;
        // ...and let it back once it listens again.
        emulators[victim].restart();
        wait_for(
            &server,
            &urls[victim],
            Duration::from_secs(5),
            "let back",
            |e| e.breaker_state == "closed" && e.healthy,
        )
        .await;
    }
    // Some kills did land in the middle of a split read: the reads resumed elsewhere.
    let resumes = counter(&server, "vastgate_split_resumes_total").await;
    eprintln!(
        "20 kill/restart rounds in {:?}, {resumes} resumed reads",
        started.elapsed()
    );
    assert!(resumes > 0, "no kill interrupted a read");
    // Still exact with every endpoint back.
    assert!(select_keys(&server, Some(sensor_id_is(3))).await == expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_endpoint_is_routed_around_within_seconds() {
    let emulators: Vec<EmulatorProcess> = (0..3)
        .map(|_| EmulatorProcess::start(data_dir(), 5))
        .collect();
    let urls: Vec<&str> = emulators.iter().map(|e| e.url.as_str()).collect();
    let server = std::sync::Arc::new(TestServer::with_vast(&urls, PROCESS_CLUSTER).await);
    let expected = duckdb_sensor_keys("sensor_id = 3");
    assert!(select_keys(&server, Some(sensor_id_is(3))).await == expected);

    // Frozen in the middle of a scan: its connections stay open and nothing answers.
    let frozen = &emulators[0];
    let started = Instant::now();
    let scan = tokio::spawn({
        let server = std::sync::Arc::clone(&server);
        async move { select_keys(&server, Some(sensor_id_is(3))).await }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    frozen.signal("-STOP");
    let rows = scan.await.expect("scan task");
    assert!(
        rows == expected,
        "{} rows, DuckDB {}",
        rows.len(),
        expected.len()
    );
    // A scan started after the freeze too, before or after the probes eject it.
    assert!(select_keys(&server, Some(sensor_id_is(3))).await == expected);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "two scans took {took:?} (request timeout 60 s)"
    );
    wait_for(
        &server,
        frozen.url.as_str(),
        Duration::from_secs(5),
        "ejected",
        |e| e.breaker_state != "closed" && !e.healthy,
    )
    .await;

    frozen.signal("-CONT");
    wait_for(
        &server,
        frozen.url.as_str(),
        Duration::from_secs(5),
        "let back",
        |e| e.breaker_state == "closed" && e.healthy,
    )
    .await;
    assert!(select_keys(&server, Some(sensor_id_is(3))).await == expected);
    let hedges = counter(&server, "vastgate_split_hedges_total").await;
    let resumes = counter(&server, "vastgate_split_resumes_total").await;
    eprintln!("frozen endpoint: two exact scans in {took:?}, {hedges} hedges, {resumes} resumes");
    assert!(
        hedges + resumes > 0,
        "the frozen endpoint was never read from"
    );
}
