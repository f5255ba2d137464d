//! Flight SQL statements through arrow-flight's own `FlightSqlServiceClient`, on the local
//! backend and over two emulators: every answer equals DuckDB's running the same SQL over
//! the same Parquet files (each table a view `demo.<table>`).

use arrow::{
    array::{Array, Int64Array, RecordBatch, StringArray},
    datatypes::{DataType, Field, Schema},
    util::display::array_value_to_string,
};
use arrow_flight::{CancelFlightInfoRequest, CancelStatus, FlightClient};
use futures::TryStreamExt;
use std::sync::Arc;
use tonic::Code;
use vastgate::proto;

use crate::{
    flight_sql::{client, fetch},
    harness::{SENSOR_ROWS, TestServer, parquet_path},
};

/// DuckDB over the demo Parquet files, each table the view `demo.<table>`.
fn referee() -> duckdb::Connection {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE SCHEMA demo").unwrap();
    for table in ["sensors", "orders"] {
        let path = parquet_path(table);
        conn.execute_batch(&format!(
            "CREATE VIEW demo.{table} AS SELECT * FROM read_parquet('{}')",
            path.display()
        ))
        .unwrap();
    }
    conn
}

fn float_text(v: f64) -> String {
    format!("{v:.9e}")
}

/// DuckDB's rows for `sql`, one canonical string per row, sorted.
fn duckdb_rows(sql: &str, params: &[duckdb::types::Value]) -> Vec<String> {
    duckdb_result(sql, params).1
}

/// DuckDB's column names and canonical rows for `sql`.
fn duckdb_result(sql: &str, params: &[duckdb::types::Value]) -> (Vec<String>, Vec<String>) {
    use duckdb::types::Value;
    let conn = referee();
    let mut stmt = conn.prepare(sql).unwrap();
    let mut rows = stmt.query(duckdb::params_from_iter(params)).unwrap();
    let names = rows.as_ref().unwrap().column_names();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let n = row.as_ref().column_count();
        let cells: Vec<String> = (0..n)
            .map(|i| match row.get::<_, Value>(i).unwrap() {
                Value::Null => "NULL".to_owned(),
                Value::Double(v) => float_text(v),
                Value::Float(v) => float_text(v.into()),
                Value::Text(s) => s,
                Value::Boolean(b) => b.to_string(),
                Value::TinyInt(v) => v.to_string(),
                Value::SmallInt(v) => v.to_string(),
                Value::Int(v) => v.to_string(),
                Value::BigInt(v) => v.to_string(),
                Value::HugeInt(v) => v.to_string(),
                Value::UBigInt(v) => v.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        out.push(cells.join("|"));
    }
    out.sort();
    (names, out)
}

/// The same canonical rows of Arrow batches.
fn arrow_rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = batch
                .columns()
                .iter()
                .map(|column| {
                    if column.is_null(row) {
                        return "NULL".to_owned();
                    }
                    match column.data_type() {
                        DataType::Float64 | DataType::Float32 => {
                            let cast =
                                arrow::compute::cast(&column.slice(row, 1), &DataType::Float64)
                                    .unwrap();
                            let v = cast
                                .as_any()
                                .downcast_ref::<arrow::array::Float64Array>()
                                .unwrap()
                                .value(0);
                            float_text(v)
                        }
                        _ => array_value_to_string(column, row).unwrap(),
                    }
                })
                .collect();
            out.push(cells.join("|"));
        }
    }
    out.sort();
    out
}

/// Statements every backend must answer as DuckDB does.
const STATEMENTS: [&str; 8] = [
    // A filtered 2-column read: a plain scan, one endpoint per split, its whole WHERE pushed
    // (the engine is skipped).
    "SELECT sensor_id, temperature FROM demo.sensors WHERE sensor_id < 5 AND temperature > 20",
    // Renamed, reordered, one column twice: still a bare scan.
    "SELECT Region AS r, TEMPERATURE, sensors.region FROM demo.sensors \
     WHERE sensor_id IN (1, 2) AND temperature BETWEEN 20 AND 21",
    // A plain scan whose WHERE is not all pushed: the engine filters the rest, per split.
    "SELECT sensor_id, region FROM demo.sensors WHERE upper(region) = 'EAST' AND sensor_id = 2",
    "SELECT region, avg(temperature) AS avg_t, count(*) AS n FROM demo.sensors \
     WHERE sensor_id < 5 GROUP BY region",
    // A join of two tables, each with its own filter.
    "SELECT s.region, o.category, count(*) AS n, sum(o.quantity) AS q \
     FROM demo.sensors s JOIN demo.orders o ON s.sensor_id = o.customer_id % 20 \
     WHERE s.sensor_id = 1 AND s.temperature > 30 AND o.customer_id < 100 GROUP BY 1, 2",
    // A subquery over the same table.
    "SELECT count(*) AS hot FROM demo.sensors \
     WHERE temperature > (SELECT avg(temperature) FROM demo.sensors WHERE region = 'east')",
    "WITH r AS (SELECT region, max(pressure) AS p FROM demo.sensors GROUP BY region) \
     SELECT region, p FROM r ORDER BY p DESC LIMIT 2",
    "SELECT status, count(*) FROM demo.sensors WHERE region LIKE 'we%' OR humidity IS NULL \
     GROUP BY ALL",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statements_answer_as_duckdb_does_on_both_backends() {
    // Splits of 100k rows: the plain scan gets several endpoints.
    let splits = "[exec]\nrows_per_split = 100000\n";
    for (backend, server, _emulators) in TestServer::on_both_backends(splits).await {
        let mut sql = client(&server).await;
        for statement in STATEMENTS {
            let info = sql
                .execute(statement.to_owned(), None)
                .await
                .unwrap_or_else(|e| panic!("{backend}: {statement}: {e}"));
            if statement.starts_with("SELECT sensor_id") {
                assert!(info.endpoint.len() > 1, "{backend}: one endpoint per split");
            }
            let schema: arrow::datatypes::Schema = info.clone().try_decode_schema().unwrap();
            let batches = fetch(&mut sql, info).await;
            let (names, want) = duckdb_result(statement, &[]);
            let got_names: Vec<_> = schema.fields().iter().map(|f| f.name().clone()).collect();
            assert_eq!(got_names, names, "{backend}: {statement}");
            assert!(!want.is_empty(), "{statement}");
            assert_eq!(arrow_rows(&batches), want, "{backend}: {statement}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_prepared_statement_runs_with_each_bound_value() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        let mut sql = client(&server).await;
        let text = "SELECT region, count(*) AS n, min(temperature) AS lo FROM demo.sensors \
                    WHERE sensor_id < ? AND region <> ? GROUP BY region";
        let mut prepared = sql.prepare(text.to_owned(), None).await.unwrap();
        assert_eq!(prepared.parameter_schema().unwrap().fields().len(), 2);
        let names: Vec<_> = prepared
            .dataset_schema()
            .unwrap()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["region", "n", "lo"]);
        for bound in [3_i64, 8] {
            let schema = Arc::new(Schema::new(vec![
                Field::new("a", DataType::Int64, false),
                Field::new("b", DataType::Utf8, false),
            ]));
            let batch = RecordBatch::try_new(
                schema,
                vec![
                    Arc::new(Int64Array::from(vec![bound])),
                    Arc::new(StringArray::from(vec!["north"])),
                ],
            )
            .unwrap();
            prepared.set_parameters(batch).unwrap();
            let info = prepared.execute().await.unwrap();
            let got = arrow_rows(&fetch(&mut sql, info).await);
            let params = [
                duckdb::types::Value::BigInt(bound),
                duckdb::types::Value::Text("north".into()),
            ];
            assert_eq!(got, duckdb_rows(text, &params), "{backend}: ? = {bound}");
        }
        prepared.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_and_forbidden_sql_is_refused_and_the_connection_stays_usable() {
    let server = TestServer::start().await;
    let mut sql = client(&server).await;
    for (statement, needle) in [
        ("SELEC 1", "syntax error"),
        ("SELECT no_such_column FROM demo.sensors", "no_such_column"),
        ("SELECT * FROM demo.no_such_table", "no_such_table"),
        (
            "SELECT * FROM read_parquet('/etc/passwd')",
            "table functions",
        ),
        ("SELECT * FROM '/etc/passwd'", "unknown table"),
        ("COPY demo.sensors TO '/tmp/x.csv'", "only queries"),
        ("ATTACH '/tmp/x.db'", "only queries"),
        ("SET threads = 1", "only queries"),
        ("SELECT 1; SELECT 2", "one statement"),
    ] {
        let err = sql.execute(statement.to_owned(), None).await.unwrap_err();
        let arrow_flight::error::FlightError::Tonic(status) = &err else {
            panic!("{statement}: {err}")
        };
        assert!(
            matches!(status.code(), Code::InvalidArgument | Code::NotFound),
            "{statement}: {status}"
        );
        assert!(status.message().contains(needle), "{statement}: {status}");
        // The same connection answers the next statement.
        let info = sql
            .execute("SELECT count(*) FROM demo.orders".to_owned(), None)
            .await
            .unwrap();
        assert_eq!(
            arrow_rows(&fetch(&mut sql, info).await),
            duckdb_rows("SELECT count(*) FROM demo.orders", &[])
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_selective_where_reads_fewer_rows_from_vast_than_the_table_has() {
    let servers = TestServer::on_both_backends("").await;
    let (_, server, _emulators) = &servers[1];
    let mut sql = client(server).await;
    let statement = "SELECT region, temperature FROM demo.sensors WHERE sensor_id = 3";
    let info = sql.execute(statement.to_owned(), None).await.unwrap();
    let got = arrow_rows(&fetch(&mut sql, info).await);
    assert_eq!(got.len(), duckdb_rows(statement, &[]).len());
    let queries = server
        .admin()
        .await
        .list_queries(proto::ListQueriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .recent;
    let scanned: u64 = queries
        .iter()
        .filter(|q| q.method == "FlightSql/DoGet")
        .map(|q| q.rows_scanned)
        .sum();
    assert!(scanned >= got.len() as u64, "{scanned} < {}", got.len());
    assert!(
        scanned < SENSOR_ROWS / 10,
        "the emulator sent {scanned} of {SENSOR_ROWS} rows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_flight_info_stops_the_statement() {
    let server = TestServer::start().await;
    let mut sql = client(&server).await;
    let info = sql
        .execute(
            "SELECT region, count(*) FROM demo.sensors GROUP BY region".to_owned(),
            None,
        )
        .await
        .unwrap();
    let mut flight = FlightClient::new(server.raw_channel().await);
    let result = flight
        .cancel_flight_info(CancelFlightInfoRequest::new(info.clone()))
        .await
        .unwrap();
    assert_eq!(result.status(), CancelStatus::Cancelled);
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let err = match sql.do_get(ticket).await {
        Ok(stream) => stream.try_collect::<Vec<_>>().await.unwrap_err(),
        Err(err) => err,
    };
    assert!(err.to_string().contains("cancelled"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_adbc_driver_from_pypi_connects_and_queries_on_both_backends() {
    let demo = parquet_path("sensors")
        .parent()
        .unwrap()
        .display()
        .to_string();
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        let stdout = crate::python::run_script(
            "tests/python/flight_sql_adbc.py",
            vec![server.grpc.to_string(), demo.clone()],
        )
        .await;
        assert!(stdout.contains("adbc checks passed"), "{backend}: {stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_adbc_driver_sends_a_bearer_token() {
    let callers = crate::security::Callers::new();
    let server = TestServer::with_config(&callers.auth_toml()).await;
    let demo = parquet_path("sensors")
        .parent()
        .unwrap()
        .display()
        .to_string();
    let stdout = crate::python::run_script(
        "tests/python/flight_sql_adbc.py",
        vec![
            server.grpc.to_string(),
            demo,
            callers.reader.clone(),
            callers.outsider.clone(),
        ],
    )
    .await;
    assert!(stdout.contains("refused without a token"), "{stdout}");
    assert!(stdout.contains("adbc checks passed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_flight_info_stops_a_running_statement() {
    let server = TestServer::start().await;
    let mut sql = client(&server).await;
    // 600k × 600k rows: it runs until something stops it.
    let info = sql
        .execute(
            "SELECT count(*) FROM demo.sensors a, demo.sensors b WHERE a.temperature < b.humidity"
                .to_owned(),
            None,
        )
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let mut reader = sql.clone();
    let read = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let result = match reader.do_get(ticket).await {
            Ok(stream) => stream.try_collect::<Vec<_>>().await.map(|_| ()),
            Err(err) => Err(err),
        };
        (result, started.elapsed())
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut flight = FlightClient::new(server.raw_channel().await);
    let result = flight
        .cancel_flight_info(CancelFlightInfoRequest::new(info))
        .await
        .unwrap();
    assert_eq!(result.status(), CancelStatus::Cancelled);
    let (result, elapsed) = tokio::time::timeout(std::time::Duration::from_secs(20), read)
        .await
        .expect("the statement stops")
        .unwrap();
    let err = result.unwrap_err();
    assert!(err.to_string().contains("cancel"), "{err}");
    assert!(elapsed.as_secs() < 20, "{elapsed:?}");
}
