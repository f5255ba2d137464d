//! The cluster layer against real emulators on loopback: a broken endpoint is ejected, kept
//! away from and let back in by the health checks; a slow endpoint gets fewer split reads;
//! every answer stays exact.

use std::time::{Duration, Instant};

use vastgate::{emulator::FaultConfig, proto};

use crate::harness::data_dir;
use crate::{
    harness::TestServer,
    http::get,
    referee::duckdb_sensor_keys,
    vast::{emulator_stats, list_endpoints, select_keys, sensor_id_is},
    vast_sdk::Emulator,
};

/// Small pages and quick health checks and ejections, so a test sees them within seconds.
const FAST_CLUSTER: &str = "[vast.breaker]\nbase_ejection = \"1s\"\nmax_ejection = \"4s\"\n\
    [vast.health]\ninterval = \"200ms\"\ntimeout = \"1s\"\n\
    [exec]\nrows_per_split = 100000\nlimit_rows_per_sub_split = 20000\nsplit_attempts = 1\n";

/// `POST /_emulator/faults` to the emulator at `url`.
async fn set_faults(url: &str, faults: &FaultConfig) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let body = serde_json::to_string(faults).unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /_emulator/faults HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

pub(crate) fn by_url(endpoints: &[proto::Endpoint], url: &str) -> proto::Endpoint {
    endpoints
        .iter()
        .find(|e| e.url == url)
        .cloned()
        .unwrap_or_else(|| panic!("{url} not listed: {endpoints:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_endpoint_answering_503_is_ejected_kept_away_and_let_back_when_healed() {
    let emulators = [
        Emulator::start(data_dir()).await,
        Emulator::start(data_dir()).await,
        Emulator::start(data_dir()).await,
    ];
    let urls: Vec<&str> = emulators.iter().map(|e| e.url.as_str()).collect();
    let broken = urls[2];
    let server = TestServer::with_vast(&urls, FAST_CLUSTER).await;
    let sensor_3 = sensor_id_is(3);
    let expected = duckdb_sensor_keys("sensor_id = 3");
    assert!(select_keys(&server, Some(sensor_3.clone())).await == expected);

    set_faults(
        broken,
        &FaultConfig {
            error_every_request: true,
            error_status: 503,
            ..Default::default()
        },
    )
    .await;
    // The health checks alone find it (no user request needed), within a few intervals.
    let deadline = Instant::now() + Duration::from_secs(5);
    let ejected = loop {
        let e = by_url(&list_endpoints(&server).await, broken);
        if e.breaker_state != "closed" || Instant::now() > deadline {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_ne!(ejected.breaker_state, "closed", "{ejected:?}");
    assert!(!ejected.healthy && ejected.ejections >= 1, "{ejected:?}");
    assert!(ejected.last_error.contains("SlowDown"), "{ejected:?}");

    // While it is out, reads are exact and go (almost) only to the others.
    let before = list_endpoints(&server).await;
    for _ in 0..5 {
        assert!(select_keys(&server, Some(sensor_3.clone())).await == expected);
    }
    let after = list_endpoints(&server).await;
    let broken_calls = by_url(&after, broken).requests - by_url(&before, broken).requests;
    let healthy_calls: u64 = urls[..2]
        .iter()
        .map(|u| by_url(&after, u).requests - by_url(&before, u).requests)
        .sum();
    assert!(
        broken_calls * 10 <= healthy_calls,
        "the ejected endpoint got {broken_calls} calls, the others {healthy_calls}"
    );

    // /metrics shows it, per endpoint.
    let (_, metrics) = get(server.http, "/metrics").await;
    assert!(
        metrics.contains(&format!("vastgate_endpoint_up{{endpoint=\"{broken}\"}} 0")),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "vastgate_endpoint_ejections_total{{endpoint=\"{broken}\"}}"
    )));

    // Healed: a health probe lets it back within seconds (ejection ≤ max_ejection = 4 s).
    set_faults(broken, &FaultConfig::default()).await;
    let deadline = Instant::now() + Duration::from_secs(8);
    let healed = loop {
        let e = by_url(&list_endpoints(&server).await, broken);
        if (e.breaker_state == "closed" && e.healthy) || Instant::now() > deadline {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        healed.breaker_state == "closed" && healed.healthy && healed.last_probe_ok,
        "{healed:?}"
    );
    // And it serves reads again.
    let before = by_url(&list_endpoints(&server).await, broken).requests;
    for _ in 0..5 {
        assert!(select_keys(&server, Some(sensor_3.clone())).await == expected);
    }
    assert!(by_url(&list_endpoints(&server).await, broken).requests > before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_endpoint_gets_markedly_fewer_split_reads() {
    let emulators = [
        Emulator::start(data_dir()).await,
        Emulator::start(data_dir()).await,
        Emulator::with_faults(
            data_dir(),
            FaultConfig {
                latency_ms: 60,
                ..Default::default()
            },
        )
        .await,
    ];
    let urls: Vec<&str> = emulators.iter().map(|e| e.url.as_str()).collect();
    let expected = duckdb_sensor_keys("sensor_id = 3");
    let calls_per_endpoint = |balance: &'static str| {
        let urls = urls.clone();
        let expected = expected.clone();
        async move {
            // Hedging off: this measures the choice of endpoint alone.
            let toml =
                format!("balance = \"{balance}\"\n{FAST_CLUSTER}[vast.hedge]\nenabled = false\n");
            let server = TestServer::with_vast(&urls, &toml).await;
            let split_reads = || async {
                let mut calls = Vec::new();
                for url in &urls {
                    calls.push(
                        emulator_stats(url).await["query_data_calls"]
                            .as_u64()
                            .unwrap(),
                    );
                }
                calls
            };
            let before = split_reads().await;
            for _ in 0..10 {
                assert!(select_keys(&server, Some(sensor_id_is(3))).await == expected);
            }
            let after = split_reads().await;
            after
                .iter()
                .zip(&before)
                .map(|(a, b)| a - b)
                .collect::<Vec<u64>>()
        }
    };
    let p2c = calls_per_endpoint("p2c").await;
    assert!(
        p2c[2] * 2 < p2c[0].min(p2c[1]),
        "p2c: split reads per endpoint (fast, fast, slow): {p2c:?}"
    );
    // The comparison: round-robin ignores load, so the slow endpoint keeps its third.
    let round_robin = calls_per_endpoint("round_robin").await;
    eprintln!("split reads (fast, fast, slow): p2c {p2c:?}, round_robin {round_robin:?}");
    assert!(
        round_robin[2] * 2 >= round_robin[0].min(round_robin[1]),
        "round_robin: split reads per endpoint (fast, fast, slow): {round_robin:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalling_endpoint_is_hedged_around_long_before_the_request_timeout() {
    // One endpoint stops sending for 20 s after two frames of every response, connection open.
    let stalling = FaultConfig {
        stall_after_frames: Some(2),
        stall_ms: 20_000,
        ..Default::default()
    };
    let emulators = [
        Emulator::start(data_dir()).await,
        Emulator::start(data_dir()).await,
        Emulator::with_faults(data_dir(), stalling).await,
    ];
    let urls: Vec<&str> = emulators.iter().map(|e| e.url.as_str()).collect();
    let toml = format!("request_timeout = \"60s\"\n{FAST_CLUSTER}");
    let server = TestServer::with_vast(&urls, &toml).await;
    let expected = duckdb_sensor_keys("sensor_id = 3");
    let started = Instant::now();
    for _ in 0..3 {
        assert!(select_keys(&server, Some(sensor_id_is(3))).await == expected);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "3 reads took {took:?}");
    let hedges: u64 = list_endpoints(&server).await.iter().map(|e| e.hedges).sum();
    let (_, metrics) = get(server.http, "/metrics").await;
    assert!(hedges > 0, "no hedge in {took:?}");
    assert!(
        metrics.contains(&format!("vastgate_split_hedges_total {hedges}")),
        "{metrics}"
    );
    // The query log names the endpoints each read used: only configured ones, and for the
    // reads as a whole more than one (the hedges went elsewhere).
    let log = server
        .admin()
        .await
        .list_queries(proto::ListQueriesRequest { limit: 10 })
        .await
        .unwrap()
        .into_inner();
    let selects: Vec<_> = log.recent.iter().filter(|q| q.method == "Select").collect();
    assert_eq!(selects.len(), 3, "{log:?}");
    let mut used = std::collections::BTreeSet::new();
    for query in selects {
        assert!(!query.endpoints.is_empty(), "{query:?}");
        for endpoint in &query.endpoints {
            assert!(
                urls.contains(&endpoint.as_str()),
                "{endpoint} not in {urls:?}"
            );
            used.insert(endpoint.clone());
        }
    }
    assert!(used.len() >= 2, "every read names only {used:?}");
}
