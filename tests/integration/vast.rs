//! The Rust VAST client backend (`backend.kind = "vast"`) against two emulators: metadata, and
//! reads under injected faults (503 SlowDown, dropped connections) with no lost or repeated rows.

use vastgate::{emulator::FaultConfig, proto};

use crate::{
    harness::{SENSOR_ROWS, TestServer, data_dir, sensors},
    query::cmp,
    referee::{decode_chunks, duckdb_sensor_keys, sensor_keys},
    vast_sdk::{ACCESS, BUCKET, Emulator, SECRET},
};

/// Small pages so that every split takes several `query_data` round trips.
const SMALL_PAGES: &str =
    "[exec]\nrows_per_split = 100000\nlimit_rows_per_sub_split = 20000\nsplit_attempts = 1\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vast_metadata_calls_through_the_client() {
    let (a, b) = (
        Emulator::start(data_dir()).await,
        Emulator::start(data_dir()).await,
    );
    let server = TestServer::with_vast(&[&a.url, &b.url], "").await;
    let mut client = server.query().await;
    let schemas = client
        .list_schemas(proto::ListSchemasRequest::default())
        .await
        .unwrap()
        .into_inner()
        .schemas;
    assert_eq!(schemas, ["demo"]);
    let tables = client
        .list_tables(proto::ListTablesRequest {
            bucket: BUCKET.into(),
            schema: "demo".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .tables;
    let row = tables
        .iter()
        .find(|t| t.table.as_ref().is_some_and(|t| t.table == "sensors"))
        .expect("sensors listed");
    assert_eq!(row.num_rows, SENSOR_ROWS);
    let meta = client
        .describe_table(proto::DescribeTableRequest {
            table: sensors(),
            bypass_cache: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(meta.num_rows, SENSOR_ROWS);
    assert_eq!(meta.columns[0].name, "ts");
    assert_eq!(meta.columns[0].data_type, "Timestamp(µs, \"UTC\")");
    let missing = client
        .describe_table(proto::DescribeTableRequest {
            table: Some(proto::TableRef {
                bucket: String::new(),
                schema: "demo".into(),
                table: "nope".into(),
            }),
            bypass_cache: true,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing}");
}

/// `sensor_id = id`.
pub(crate) fn sensor_id_is(id: i64) -> proto::Filter {
    cmp(
        "sensor_id",
        proto::CompareOp::Eq,
        proto::literal::Value::IntValue(id),
    )
}

/// The URL of a loopback port nobody listens on: every connection is refused.
pub(crate) fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

pub(crate) async fn select_keys(
    server: &TestServer,
    filter: Option<proto::Filter>,
) -> Vec<(i64, i32)> {
    let stream = server
        .query()
        .await
        .select(proto::SelectRequest {
            table: sensors(),
            columns: vec!["ts".into(), "sensor_id".into()],
            filter,
            ..Default::default()
        })
        .await
        .expect("select")
        .into_inner();
    let (_, batches, _) = decode_chunks(stream).await.expect("select stream");
    sensor_keys(&batches)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vast_reads_survive_slow_down_and_dropped_connections() {
    let dropping = FaultConfig {
        seed: 1,
        drop_after_frames: Some(22),
        times: Some(4),
        ..Default::default()
    };
    let slow = FaultConfig {
        seed: 2,
        error_rate: 1.0,
        error_status: 503,
        times: Some(4),
        ..Default::default()
    };
    let (a, b) = (
        Emulator::with_faults(data_dir(), dropping).await,
        Emulator::with_faults(data_dir(), slow).await,
    );
    let server = TestServer::with_vast(&[&a.url, &b.url], SMALL_PAGES).await;
    let expected = duckdb_sensor_keys("true");
    let got = select_keys(&server, None).await;
    assert_eq!(got.len(), expected.len(), "row count under faults");
    assert!(got == expected, "rows lost or repeated under faults");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vast_read_fails_cleanly_when_every_endpoint_keeps_failing() {
    let dropping = FaultConfig {
        drop_after_frames: Some(3),
        ..Default::default()
    };
    let (a, b) = (
        Emulator::with_faults(data_dir(), dropping.clone()).await,
        Emulator::with_faults(data_dir(), dropping).await,
    );
    let server = TestServer::with_vast(&[&a.url, &b.url], SMALL_PAGES).await;
    let result = server
        .query()
        .await
        .select(proto::SelectRequest {
            table: sensors(),
            columns: vec!["ts".into()],
            ..Default::default()
        })
        .await;
    let err = match result {
        Err(e) => e,
        Ok(stream) => decode_chunks(stream.into_inner())
            .await
            .expect_err("every response is cut"),
    };
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err}");
    assert!(
        err.message().contains("127.0.0.1") && err.message().contains("query_data"),
        "the error names the endpoint and the call: {err}"
    );
    // Operators see which endpoints failed.
    let endpoints = list_endpoints(&server).await;
    let mut urls: Vec<_> = endpoints.iter().map(|e| e.url.as_str()).collect();
    urls.sort_unstable();
    let mut expected = vec![a.url.as_str(), b.url.as_str()];
    expected.sort_unstable();
    assert_eq!(urls, expected);
    // Whether each endpoint also reached its ejection threshold before the read ran out of
    // attempts depends on how the attempts fell between them (ejection has its own tests in
    // cluster.rs); that each one's failures show is what holds every time.
    for e in &endpoints {
        assert!(e.requests > 0 && e.errors > 0, "{e:?}");
        assert!(e.last_error.contains("query_data"), "{e:?}");
        assert!(e.error_rate > 0.0, "{e:?}");
    }
    // The other splits' requests end as the read is cancelled, just after the client has its
    // error: waited for, up to 5 s.
    let mut in_flight = Vec::new();
    for _ in 0..50 {
        in_flight = list_endpoints(&server)
            .await
            .iter()
            .map(|e| e.in_flight)
            .collect();
        if in_flight.iter().all(|&n| n == 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(in_flight, [0, 0], "requests still in flight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vast_endpoints_report_health_after_reads() {
    let (a, b) = (
        Emulator::start(data_dir()).await,
        Emulator::start(data_dir()).await,
    );
    let server = TestServer::with_vast(&[&a.url, &b.url], SMALL_PAGES).await;
    let count = server
        .query()
        .await
        .count(proto::CountRequest {
            table: sensors(),
            filter: None,
            hints: None,
        })
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(count, SENSOR_ROWS);
    let endpoints = list_endpoints(&server).await;
    assert_eq!(endpoints.len(), 2);
    for e in &endpoints {
        assert!(e.healthy && e.requests > 0 && e.errors == 0, "{e:?}");
        assert!(e.latency_ms > 0.0, "{e:?}");
    }
    // The local backend has no endpoints to report.
    let local = TestServer::start().await;
    let none = list_endpoints(&local).await;
    assert!(none.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vast_breaker_steers_reads_away_from_a_dead_endpoint() {
    let dead = dead_endpoint();
    let live = Emulator::start(data_dir()).await;
    let server = TestServer::with_vast(&[&dead, &live.url], SMALL_PAGES).await;
    let sensor_3 = sensor_id_is(3);
    let expected = duckdb_sensor_keys("sensor_id = 3");
    // Every split that starts on the dead endpoint fails over; enough failures open its breaker.
    for _ in 0..2 {
        assert!(select_keys(&server, Some(sensor_3.clone())).await == expected);
    }
    let by_url = |endpoints: &[proto::Endpoint], url: &str| {
        endpoints
            .iter()
            .find(|e| e.url == url)
            .cloned()
            .unwrap_or_else(|| panic!("{url} not listed: {endpoints:?}"))
    };
    let before = list_endpoints(&server).await;
    let dead_before = by_url(&before, &dead);
    assert_eq!(dead_before.breaker_state, "open", "{dead_before:?}");
    assert!(
        !dead_before.healthy && dead_before.errors >= 3,
        "{dead_before:?}"
    );
    assert_eq!(by_url(&before, &live.url).breaker_state, "closed");
    // While it is open, reads go straight to the live endpoint: no new calls to the dead one.
    assert!(select_keys(&server, Some(sensor_3)).await == expected);
    let after = list_endpoints(&server).await;
    assert_eq!(by_url(&after, &dead).requests, dead_before.requests);
    assert!(by_url(&after, &live.url).requests > by_url(&before, &live.url).requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vast_wrong_secret_is_an_auth_error() {
    let a = Emulator::start(data_dir()).await;
    let server = TestServer::with_vast_secret(&[&a.url], "wrong", "").await;
    let err = server
        .query()
        .await
        .list_schemas(proto::ListSchemasRequest::default())
        .await
        .expect_err("bad signature");
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(err.message().contains("authentication failed"), "{err}");
    assert!(err.message().contains(&a.url), "{err}");
}

/// What `AdminService/ListEndpoints` reports.
pub(crate) async fn list_endpoints(server: &TestServer) -> Vec<proto::Endpoint> {
    server
        .admin()
        .await
        .list_endpoints(proto::ListEndpointsRequest {})
        .await
        .unwrap()
        .into_inner()
        .endpoints
}

fn vast_backend(
    endpoints: &[&str],
    secret: &str,
    buckets: &[&str],
) -> std::sync::Arc<vastgate::backend::vast::VastBackend> {
    vastgate::backend::vast::VastBackend::new(&vastgate::config::VastConfig {
        endpoints: endpoints.iter().map(|e| (*e).to_owned()).collect(),
        access_key: ACCESS.to_owned(),
        secret_key: secret.to_owned(),
        buckets: buckets.iter().map(|b| (*b).to_owned()).collect(),
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vast_startup_check_probes_the_version_and_the_buckets() {
    use vastgate::backend::{Backend, BackendError};
    let a = Emulator::start(data_dir()).await;
    let dead = dead_endpoint();
    // A reachable endpoint with the right keys and bucket; an unreachable one is only logged.
    vast_backend(&[&dead, &a.url], SECRET, &[BUCKET])
        .startup_check()
        .await
        .expect("good configuration");
    let missing = vast_backend(&[&a.url], SECRET, &[BUCKET, "no-such-bucket"])
        .startup_check()
        .await
        .expect_err("missing bucket");
    assert!(
        matches!(&missing, BackendError::NotFound { what } if what.contains("no-such-bucket")),
        "{missing}"
    );
    let auth = vast_backend(&[&a.url], "wrong", &[BUCKET])
        .startup_check()
        .await
        .expect_err("wrong secret");
    assert!(auth.to_string().contains("authentication failed"), "{auth}");
    // Nothing reachable is not a configuration error: the service starts and retries later.
    vast_backend(&[&dead], SECRET, &[BUCKET])
        .startup_check()
        .await
        .expect("unreachable is not fatal");
}

/// A CA and a certificate it signed for `vast.test`, written as PEM files into `dir`:
/// (CA certificate, leaf certificate, leaf key).
fn test_certificates(dir: &std::path::Path) -> (std::path::PathBuf, vastgate::emulator::TlsFiles) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["vast.test".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let files = vastgate::emulator::TlsFiles {
        cert: dir.join("leaf.pem"),
        key: dir.join("leaf.key"),
    };
    std::fs::write(&files.cert, leaf.pem()).unwrap();
    std::fs::write(&files.key, leaf_key.serialize_pem()).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    (ca_file, files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vast_over_https_with_a_ca_file_and_a_tls_server_name() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_file, files) = test_certificates(dir.path());
    let emulator = Emulator::with_tls(data_dir(), files).await;
    assert!(emulator.url.starts_with("https://127.0.0.1:"));
    // The certificate names `vast.test`, the endpoint is an IP: the TLS server name bridges them.
    let toml = format!(
        "[backend]\nkind = \"vast\"\n[vast]\nendpoints = [\"{url}\"]\naccess_key = \"{ACCESS}\"\n\
         secret_key = \"{SECRET}\"\nbuckets = [\"{BUCKET}\"]\nca_file = \"{ca}\"\n\
         [vast.tls_server_names]\n\"{url}\" = \"vast.test\"\n{SMALL_PAGES}",
        url = emulator.url,
        ca = ca_file.display(),
    );
    let server = TestServer::with_config(&toml).await;
    let sensor_3 = sensor_id_is(3);
    assert!(select_keys(&server, Some(sensor_3)).await == duckdb_sensor_keys("sensor_id = 3"));

    // Without the server name the certificate does not match the IP address.
    let mut config = vastgate::config::VastConfig {
        endpoints: vec![emulator.url.clone()],
        access_key: ACCESS.to_owned(),
        secret_key: SECRET.to_owned(),
        buckets: vec![BUCKET.to_owned()],
        ca_file: Some(ca_file.clone()),
        ..Default::default()
    };
    let backend = vastgate::backend::vast::VastBackend::new(&config).unwrap();
    let err = vastgate::backend::Backend::list_schemas(&*backend, "")
        .await
        .expect_err("certificate for another name");
    assert!(err.to_string().contains(&emulator.url), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // Nor without the CA that signed it.
    config.ca_file = None;
    config
        .tls_server_names
        .insert(emulator.url.clone(), "vast.test".to_owned());
    let backend = vastgate::backend::vast::VastBackend::new(&config).unwrap();
    let err = vastgate::backend::Backend::list_schemas(&*backend, "")
        .await
        .expect_err("unknown issuer");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

/// `GET /_emulator/stats` of the emulator at `url` (plain HTTP).
pub(crate) async fn emulator_stats(url: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET /_emulator/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vast_long_reads_keep_their_transaction_alive() {
    // Every response stalls for a while after a few frames: each split read takes > 300 ms.
    let stalling = FaultConfig {
        stall_after_frames: Some(2),
        stall_ms: 300,
        ..Default::default()
    };
    let emulator = Emulator::with_faults(data_dir(), stalling).await;
    let toml = format!(
        "[backend]\nkind = \"vast\"\n[vast]\nendpoints = [\"{url}\"]\naccess_key = \"{ACCESS}\"\n\
         secret_key = \"{SECRET}\"\nbuckets = [\"{BUCKET}\"]\ntx_keepalive = \"50ms\"\n\
         [exec]\nrows_per_split = 300000\n",
        url = emulator.url,
    );
    let server = TestServer::with_config(&toml).await;
    assert_eq!(
        emulator_stats(&emulator.url).await["transaction_status_calls"],
        0
    );
    let sensor_3 = sensor_id_is(3);
    assert!(select_keys(&server, Some(sensor_3)).await == duckdb_sensor_keys("sensor_id = 3"));
    let calls = emulator_stats(&emulator.url).await["transaction_status_calls"]
        .as_u64()
        .unwrap();
    assert!(
        calls >= 2,
        "keep-alives during a read of several 300 ms stalls: {calls}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vast_emulator_page_cache_serves_the_same_rows() {
    let emulator = Emulator::with_page_cache(data_dir()).await;
    let server = TestServer::with_vast(&[&emulator.url], SMALL_PAGES).await;
    let sensor_3 = sensor_id_is(3);
    let all = duckdb_sensor_keys("true");
    let filtered = duckdb_sensor_keys("sensor_id = 3");
    // The second round is answered from the cache; a filtered read must not get cached pages
    // of the unfiltered one.
    for _ in 0..2 {
        assert!(select_keys(&server, None).await == all);
        assert!(select_keys(&server, Some(sensor_3.clone())).await == filtered);
    }
}

/// A folder with `nested/t.parquet`: `id` int64 and `st` struct<x int32, y utf8>, 3 rows.
fn nested_table() -> tempfile::TempDir {
    use arrow::{
        array::{ArrayRef, Int32Array, Int64Array, StringArray, StructArray},
        datatypes::{DataType, Field, Fields, Schema},
        record_batch::RecordBatch,
    };
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("nested")).unwrap();
    let fields = Fields::from(vec![
        Field::new("x", DataType::Int32, true),
        Field::new("y", DataType::Utf8, true),
    ]);
    let st = StructArray::new(
        fields.clone(),
        vec![
            Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef,
            Arc::new(StringArray::from(vec!["a", "b", "c"])),
        ],
        None,
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("st", DataType::Struct(fields), true),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(Int64Array::from(vec![10, 20, 30])), Arc::new(st)],
    )
    .unwrap();
    let file = std::fs::File::create(dir.path().join("nested/t.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vast_nested_columns_are_described_and_refused_clearly_when_read() {
    let data = nested_table();
    let emulator = Emulator::start(data.path()).await;
    let server = TestServer::with_vast(&[&emulator.url], "").await;
    let table = Some(proto::TableRef {
        bucket: BUCKET.into(),
        schema: "nested".into(),
        table: "t".into(),
    });
    let described = server
        .query()
        .await
        .describe_table(proto::DescribeTableRequest {
            table: table.clone(),
            bypass_cache: true,
        })
        .await
        .expect("describe a table with a struct column")
        .into_inner();
    assert_eq!(described.num_rows, 3);
    let select = |columns: Vec<String>| {
        let server = &server;
        let table = table.clone();
        async move {
            let stream = server
                .query()
                .await
                .select(proto::SelectRequest {
                    table,
                    columns,
                    ..Default::default()
                })
                .await?
                .into_inner();
            decode_chunks(stream).await
        }
    };
    // Flat columns of the table read as usual.
    let (_, batches, _) = select(vec!["id".into()]).await.expect("flat column");
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(ids, vec![10, 20, 30]);
    // The struct column: UNIMPLEMENTED, naming the column and its type.
    let err = select(vec!["st".into()]).await.expect_err("struct column");
    assert_eq!(err.code(), tonic::Code::Unimplemented, "{err}");
    assert!(
        err.message().contains("column `st`") && err.message().contains("Struct"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vast_metadata_call_dropped_inside_its_transaction_rolls_it_back() {
    use std::time::Duration;

    use vastgate::backend::{Backend, TableRef, vast::VastBackend};

    // Every call is answered after 2 s, so the describe below is dropped while its
    // transaction is open: begun, its columns asked for, no answer yet.
    let slow = FaultConfig {
        latency_ms: 2_000,
        ..Default::default()
    };
    let emulator = Emulator::with_faults(data_dir(), slow).await;
    let config = vastgate::config::VastConfig {
        endpoints: vec![emulator.url.clone()],
        access_key: ACCESS.to_owned(),
        secret_key: SECRET.to_owned(),
        buckets: vec![BUCKET.to_owned()],
        ..Default::default()
    };
    let backend = VastBackend::new(&config).unwrap();
    let table = TableRef {
        bucket: BUCKET.to_owned(),
        schema: "demo".to_owned(),
        table: "sensors".to_owned(),
    };
    let describe = tokio::spawn(async move { backend.describe(&table).await });
    let count = |stats: &serde_json::Value, key: &str| stats[key].as_u64().unwrap_or(0);
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        while count(&emulator_stats(&emulator.url).await, "transactions_begun") == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the describe never began its transaction");
    // The begin's answer reaches the client at once; the next call waits its 2 s.
    tokio::time::sleep(Duration::from_millis(500)).await;
    describe.abort();
    assert!(describe.await.unwrap_err().is_cancelled());

    let stats = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let stats = emulator_stats(&emulator.url).await;
            if count(&stats, "transactions_rolled_back") > 0 {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the abandoned transaction is rolled back");
    assert_eq!(count(&stats, "transactions_begun"), 1, "{stats}");
    assert_eq!(count(&stats, "transactions_rolled_back"), 1, "{stats}");
    assert_eq!(count(&stats, "transactions_committed"), 0, "{stats}");
}
