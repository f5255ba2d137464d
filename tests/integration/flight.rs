//! Arrow Flight with arrow-flight's own Rust `FlightClient`.

use arrow::{array::AsArray, datatypes::Int64Type};
use arrow_flight::{FlightClient, FlightDescriptor, Ticket};
use futures::TryStreamExt;
use tonic::Code;

use crate::{
    harness::{SENSOR_ROWS, TestServer},
    referee::{duckdb_count, duckdb_region_counts, duckdb_sensor_keys, sensor_keys},
};

/// `(region, column)` of a Flight result, in the order received.
fn region_counts(batches: &[arrow::record_batch::RecordBatch], column: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for batch in batches {
        let region = batch.column_by_name("region").unwrap().as_string::<i32>();
        let value = batch
            .column_by_name(column)
            .unwrap()
            .as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            out.push((region.value(row).to_owned(), value.value(row)));
        }
    }
    out
}

/// Redeems one ticket on its own client (connection shared), as a parallel reader would.
async fn read_all(
    channel: &tonic::transport::Channel,
    ticket: Ticket,
) -> Vec<arrow::record_batch::RecordBatch> {
    let mut client = FlightClient::new(channel.clone());
    client
        .do_get(ticket)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn list_flights_and_schema() {
    let server = TestServer::start().await;
    let channel = server.raw_channel().await;
    let mut client = FlightClient::new(channel.clone());
    let infos: Vec<_> = client
        .list_flights(bytes::Bytes::new())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let sensors = infos
        .iter()
        .find(|i| {
            i.flight_descriptor
                .as_ref()
                .is_some_and(|d| d.path == ["demo", "sensors"])
        })
        .expect("demo.sensors listed");
    assert_eq!(sensors.total_records, SENSOR_ROWS as i64);
    assert!(infos.iter().any(|i| {
        i.flight_descriptor
            .as_ref()
            .is_some_and(|d| d.path == ["demo", "orders"])
    }));
    let schema = client
        .get_schema(FlightDescriptor::new_path(vec![
            "demo".into(),
            "sensors".into(),
        ]))
        .await
        .unwrap();
    assert_eq!(schema.fields().len(), 7);
    assert_eq!(schema.field(0).name(), "ts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_table_by_path_and_filtered_select_split_four_ways() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        println!("backend: {backend}");
        let channel = server.raw_channel().await;
        let mut client = FlightClient::new(channel.clone());
        let info = client
            .get_flight_info(FlightDescriptor::new_path(vec![
                "demo".into(),
                "sensors".into(),
            ]))
            .await
            .unwrap();
        assert_eq!(info.total_records, SENSOR_ROWS as i64);
        let mut batches = Vec::new();
        for endpoint in &info.endpoint {
            batches.extend(read_all(&channel, endpoint.ticket.clone().unwrap()).await);
        }
        assert_eq!(sensor_keys(&batches), duckdb_sensor_keys("true"));

        let command = r#"{"select": {
            "table": {"schema": "demo", "table": "sensors"},
            "columns": ["ts", "sensor_id", "temperature"],
            "filter": {"or": {"filters": [
                {"compare": {"column": "region", "op": "EQ", "value": {"stringValue": "west"}}},
                {"compare": {"column": "temperature", "op": "GT", "value": {"floatValue": 25}}}]}},
            "hints": {"numSplits": 4}}}"#;
        let info = client
            .get_flight_info(FlightDescriptor::new_cmd(command))
            .await
            .unwrap();
        assert_eq!(info.endpoint.len(), 4, "split four ways as hinted");
        let schema = info.clone().try_decode_schema().unwrap();
        assert_eq!(schema.fields().len(), 3);
        // Every endpoint at once, as a parallel client would.
        let reads = info
            .endpoint
            .iter()
            .map(|e| read_all(&channel, e.ticket.clone().unwrap()));
        let batches: Vec<_> = futures::future::join_all(reads)
            .await
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(
            sensor_keys(&batches),
            duckdb_sensor_keys("region = 'west' OR temperature > 25")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sql_and_analytics_commands() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        println!("backend: {backend}");
        let channel = server.raw_channel().await;
        let mut client = FlightClient::new(channel.clone());
        let command = r#"{"sql": {"table": {"schema": "demo", "table": "sensors"},
            "filter": {"compare": {"column": "sensor_id", "op": "LT", "value": {"intValue": "5"}}},
            "sql": "SELECT count(*) AS n FROM t"}}"#;
        let info = client
            .get_flight_info(FlightDescriptor::new_cmd(command))
            .await
            .unwrap();
        assert_eq!(info.endpoint.len(), 1);
        let batches = read_all(&channel, info.endpoint[0].ticket.clone().unwrap()).await;
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        let expected = duckdb_count("sensors", "sensor_id < 5");
        assert!(text.contains(&format!("| {expected} |")), "{text}");

        let command = r#"{"percentiles": {"table": {"schema": "demo", "table": "sensors"},
            "groupBy": ["region"], "valueColumn": "temperature", "quantiles": [0.5]}}"#;
        let info = client
            .get_flight_info(FlightDescriptor::new_cmd(command))
            .await
            .unwrap();
        let batches = read_all(&channel, info.endpoint[0].ticket.clone().unwrap()).await;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 4, "one row per region");
        // The response's names, in GetFlightInfo's schema and in the data alike.
        let announced = info.try_decode_schema().unwrap();
        let names: Vec<&String> = announced.fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, ["region", "n", "values"]);
        assert_eq!(batches[0].schema().as_ref(), &announced);
        // Groups by name in string order (the engine saw them as codes), with their counts.
        assert_eq!(
            region_counts(&batches, "n"),
            duckdb_region_counts("count(temperature)")
        );

        // A histogram: one row per (region, bin), adding up to each region's rows.
        let command = r#"{"histogram": {"table": {"schema": "demo", "table": "sensors"},
            "groupBy": ["region"], "valueColumn": "temperature", "bins": 4}}"#;
        let info = client
            .get_flight_info(FlightDescriptor::new_cmd(command))
            .await
            .unwrap();
        let batches = read_all(&channel, info.endpoint[0].ticket.clone().unwrap()).await;
        let mut totals: Vec<(String, i64)> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for batch in &batches {
            let region = batch.column_by_name("region").unwrap().as_string::<i32>();
            let bin = batch
                .column_by_name("bin")
                .unwrap()
                .as_primitive::<Int64Type>();
            let count = batch
                .column_by_name("count")
                .unwrap()
                .as_primitive::<Int64Type>();
            for row in 0..batch.num_rows() {
                let name = region.value(row).to_owned();
                assert!(
                    seen.insert((name.clone(), bin.value(row))),
                    "{name} bin twice"
                );
                match totals.last_mut() {
                    Some((last, total)) if *last == name => *total += count.value(row),
                    _ => totals.push((name, count.value(row))),
                }
            }
        }
        assert_eq!(totals, duckdb_region_counts("count(*)"));

        let bad = client
            .get_flight_info(FlightDescriptor::new_cmd(r#"{"percentiles": {"table": {"schema": "demo", "table": "sensors"}, "valueColumn": "status"}}"#))
            .await
            .unwrap_err();
        assert!(bad.to_string().contains("status"), "{bad}");
    }
}

#[tokio::test]
async fn tampered_and_expired_tickets_are_refused() {
    let server = TestServer::with_config("[flight]\nticket_ttl = \"0s\"\n").await;
    let channel = server.raw_channel().await;
    let mut client = FlightClient::new(channel.clone());
    let info = client
        .get_flight_info(FlightDescriptor::new_path(vec![
            "demo".into(),
            "orders".into(),
        ]))
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let mut altered = ticket.ticket.to_vec();
    altered[4] ^= 0x40;
    let status = refusal(&mut client, Ticket::new(altered)).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("altered"), "{status:?}");

    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let status = refusal(&mut client, ticket).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("expired"), "{status:?}");
    let status = refusal(&mut client, Ticket::new(vec![1, 2, 3])).await;
    assert_eq!(status.code(), Code::InvalidArgument);
}

/// The status a refused `DoGet` ends with.
async fn refusal(client: &mut FlightClient, ticket: Ticket) -> tonic::Status {
    match client.do_get(ticket).await {
        Err(arrow_flight::error::FlightError::Tonic(status)) => *status,
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the ticket was accepted"),
    }
}

/// pyarrow.flight, the client data tools use, against the same server (see the script's doc).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_flight_client() {
    let server = TestServer::start().await;
    let parquet = crate::harness::parquet_path("sensors");
    let stdout = crate::python::run_script(
        "tests/python/flight_pyarrow.py",
        vec![server.grpc.to_string(), parquet.display().to_string()],
    )
    .await;
    assert!(stdout.contains("flight checks passed"), "{stdout}");
}
