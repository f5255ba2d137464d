//! Overload: 200 concurrent clients mixing Select, an analytic and Flight against a
//! `vastgate serve` process configured for 16 calls at once (and 16 waiting). Every call
//! either succeeds with the right answer or is refused with `RESOURCE_EXHAUSTED`; the process
//! stays under a resident-memory bound and answers normally right after.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use arrow_flight::{FlightDescriptor, flight_service_client::FlightServiceClient};
use futures::StreamExt;
use tonic::{Code, transport::Channel};
use vastgate::proto::{
    self, analytics_service_client::AnalyticsServiceClient,
    query_service_client::QueryServiceClient,
};

use crate::{harness::sensors, lifecycle::ServeProcess, referee::duckdb_count, vast::sensor_id_is};

const CLIENTS: usize = 200;
/// Resident memory the server may reach under this load: DuckDB's pool, 16 running calls'
/// batches and 200 connections' buffers stay far below it (it idles near 150 MiB).
const RSS_BOUND_KIB: u64 = 2 * 1024 * 1024;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[derive(Default)]
struct Outcomes {
    ok: AtomicU64,
    refused: AtomicU64,
}

impl Outcomes {
    /// Counts a call's outcome; anything but success or RESOURCE_EXHAUSTED fails the test.
    fn record(&self, what: &str, result: Result<(), tonic::Status>) {
        match result {
            Ok(()) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err(status) if status.code() == Code::ResourceExhausted => {
                self.refused.fetch_add(1, Ordering::Relaxed)
            }
            Err(status) => panic!("{what}: {status:?}"),
        };
    }
}

async fn select_rows(channel: Channel) -> Result<u64, tonic::Status> {
    let mut stream = QueryServiceClient::new(channel)
        .max_decoding_message_size(16 << 20)
        .select(proto::SelectRequest {
            table: sensors(),
            columns: vec!["ts".into(), "sensor_id".into()],
            filter: Some(sensor_id_is(3)),
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk?);
    }
    Ok(crate::referee::ipc_rows(chunks))
}

async fn percentiles(channel: Channel) -> Result<usize, tonic::Status> {
    let response = AnalyticsServiceClient::new(channel)
        .percentiles(proto::PercentilesRequest {
            table: sensors(),
            value_column: "temperature".into(),
            group_by: vec!["region".into()],
            quantiles: vec![0.5, 0.9],
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(response.rows.len())
}

async fn flight_rows(channel: Channel) -> Result<u64, tonic::Status> {
    let mut flight = FlightServiceClient::new(channel);
    let command = serde_json::json!({"select": {
        "table": {"schema": "demo", "table": "sensors"},
        "columns": ["sensor_id"],
        "filter": {"compare": {"column": "sensor_id", "op": "EQ", "value": {"intValue": 3}}},
    }});
    let info = flight
        .get_flight_info(FlightDescriptor::new_cmd(command.to_string()))
        .await?
        .into_inner();
    let mut rows = 0;
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.unwrap();
        let stream = flight.do_get(ticket).await?.into_inner();
        let mut batches = arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(
            stream.map(|r| r.map_err(arrow_flight::error::FlightError::from)),
        );
        while let Some(batch) = batches.next().await {
            match batch {
                Ok(batch) => rows += batch.num_rows() as u64,
                Err(arrow_flight::error::FlightError::Tonic(status)) => return Err(*status),
                Err(other) => panic!("flight decode: {other}"),
            }
        }
    }
    Ok(rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_clients_against_sixteen_slots_get_answers_or_resource_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(
        "max_concurrent_requests = 16\nmax_pending_requests = 16\n",
        dir.path(),
    );
    let pid = server.child.id();
    let expected = duckdb_count("sensors", "sensor_id = 3");
    let regions = crate::referee::duckdb_region_counts("count(*)").len();
    let endpoint =
        tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc)).unwrap();

    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    };
    let outcomes = Arc::new(Outcomes::default());
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let endpoint = endpoint.clone();
        let outcomes = Arc::clone(&outcomes);
        clients.push(tokio::spawn(async move {
            // Each client its own connection, as separate services would be.
            let channel = endpoint.connect().await.expect("connect");
            for round in 0..3 {
                match (i + round) % 3 {
                    0 => {
                        let got = select_rows(channel.clone()).await;
                        outcomes.record("Select", got.map(|rows| assert_eq!(rows, expected)));
                    }
                    1 => {
                        let got = percentiles(channel.clone()).await;
                        outcomes.record("Percentiles", got.map(|g| assert_eq!(g, regions)));
                    }
                    _ => {
                        let got = flight_rows(channel.clone()).await;
                        outcomes.record("Flight", got.map(|rows| assert_eq!(rows, expected)));
                    }
                }
            }
        }));
    }
    for client in clients {
        client
            .await
            .expect("a client panicked: see its message above");
    }
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();

    let (ok, refused) = (
        outcomes.ok.load(Ordering::Relaxed),
        outcomes.refused.load(Ordering::Relaxed),
    );
    let peak = peak.load(Ordering::Relaxed);
    println!(
        "{ok} answered, {refused} refused, peak RSS {} MiB",
        peak / 1024
    );
    assert_eq!(ok + refused, (CLIENTS * 3) as u64);
    assert!(ok >= 16, "too few answered: {ok}");
    assert!(
        refused > 0,
        "200 clients never filled 16 slots and 16 places"
    );
    assert!(peak > 0 && peak < RSS_BOUND_KIB, "peak RSS {peak} KiB");

    // Right after: still alive, answering normally.
    let channel = endpoint.connect().await.unwrap();
    assert_eq!(select_rows(channel.clone()).await.unwrap(), expected);
    assert_eq!(percentiles(channel).await.unwrap(), regions);
}
