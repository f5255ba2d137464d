//! Flight SQL on 10M rows of `demo.sensors`: the ADBC driver (from PyPI) and arrow-flight's
//! Rust `FlightSqlServiceClient` next to the same query through the typed `Sql` RPC and next to
//! DuckDB's official Python build reading the Parquet file (2 threads), alternating.
//!
//! `VASTGATE_BENCH_DATA=/tmp/bench10m cargo bench --bench flight_sql` (needs `.venv` with
//! `adbc-driver-flightsql` and `duckdb`, e.g. from a test run, or `VASTGATE_PYTHON`).
//! Prints Markdown.

mod common;

use std::{process::Command, time::Instant};

use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use vastgate::proto::{self, analytics_service_client::AnalyticsServiceClient};

const ROUNDS: usize = 5;

/// (name, Flight SQL statement, the Sql RPC's query over `t`, its pushed filter, the columns
/// it reads).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    proto::Filter,
    &'static [&'static str],
);

fn statements() -> Vec<Case> {
    let below = |n: i64| proto::Filter {
        kind: Some(proto::filter::Kind::Compare(proto::Comparison {
            column: "sensor_id".into(),
            op: proto::CompareOp::Lt.into(),
            value: Some(proto::Literal {
                value: Some(proto::literal::Value::IntValue(n)),
            }),
        })),
    };
    let (below_5, below_0) = (below(5), below(0));
    vec![
        (
            "group_by",
            "SELECT region, avg(temperature) AS avg_t FROM demo.sensors WHERE sensor_id < 5 \
             GROUP BY region",
            "SELECT region, avg(temperature) AS avg_t FROM t WHERE sensor_id < 5 GROUP BY region",
            below_5.clone(),
            &["sensor_id", "region", "temperature"],
        ),
        (
            "read_2_columns",
            "SELECT ts, temperature FROM demo.sensors WHERE sensor_id < 5",
            "SELECT ts, temperature FROM t WHERE sensor_id < 5",
            below_5,
            &["ts", "sensor_id", "temperature"],
        ),
        (
            "pruned_to_nothing",
            "SELECT ts FROM demo.sensors WHERE sensor_id < 0",
            "SELECT ts FROM t WHERE sensor_id < 0",
            below_0,
            &["ts", "sensor_id"],
        ),
        (
            "group_by_all_rows",
            "SELECT region, avg(temperature) AS avg_t FROM demo.sensors GROUP BY region",
            "SELECT region, avg(temperature) AS avg_t FROM t GROUP BY region",
            proto::Filter::default(),
            &["region", "temperature"],
        ),
    ]
}

fn main() {
    let (data, _guard) = common::data();
    let parquet = data.join("demo/sensors.parquet");
    let python = common::python();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(common::start(data, |_| {}));

    // ADBC and DuckDB's official build, alternating inside one Python process.
    let server_cpu_before = common::cpu_seconds("self");
    let out = Command::new(&python)
        .env("OPENBLAS_NUM_THREADS", "1")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/flight_sql_adbc.py"
        ))
        .arg(addr.to_string())
        .arg(&parquet)
        .arg(ROUNDS.to_string())
        .output()
        .expect(
            "run benches/flight_sql_adbc.py (needs adbc-driver-flightsql; set VASTGATE_PYTHON)",
        );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server_cpu_adbc = common::cpu_seconds("self") - server_cpu_before;
    let adbc: Vec<(String, f64, f64, u64, f64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: Vec<&str> = line.split_whitespace().collect();
            (
                v[0].to_owned(),
                v[1].parse().unwrap(),
                v[2].parse().unwrap(),
                v[3].parse().unwrap(),
                v[4].parse().unwrap(),
            )
        })
        .collect();

    println!(
        "| statement | rows | ADBC (s) | Rust Flight SQL client (s) | Sql RPC (s) | DuckDB official (s) | ADBC vs DuckDB | Sql RPC vs DuckDB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, statement, over_t, filter, columns) in statements() {
        let (best_flight, best_rpc) = runtime.block_on(async {
            let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut sql = FlightSqlServiceClient::new(channel.clone());
            let mut rpc = AnalyticsServiceClient::new(channel).max_decoding_message_size(64 << 20);
            let (mut best_flight, mut best_rpc) = (f64::MAX, f64::MAX);
            for _ in 0..ROUNDS {
                let started = Instant::now();
                let info = sql.execute(statement.to_owned(), None).await.unwrap();
                let mut reads = Vec::new();
                for endpoint in info.endpoint {
                    let mut client = sql.clone();
                    reads.push(tokio::spawn(async move {
                        let stream = client.do_get(endpoint.ticket.unwrap()).await.unwrap();
                        stream.try_collect::<Vec<_>>().await.unwrap()
                    }));
                }
                for read in reads {
                    read.await.unwrap();
                }
                best_flight = best_flight.min(started.elapsed().as_secs_f64());

                let started = Instant::now();
                let request = proto::SqlRequest {
                    table: Some(proto::TableRef {
                        bucket: String::new(),
                        schema: "demo".into(),
                        table: "sensors".into(),
                    }),
                    filter: filter.kind.is_some().then(|| filter.clone()),
                    sql: over_t.to_owned(),
                    columns: columns.iter().map(|c| (*c).to_owned()).collect(),
                    ..Default::default()
                };
                let mut stream = rpc.sql(request).await.unwrap().into_inner();
                while stream.message().await.unwrap().is_some() {}
                best_rpc = best_rpc.min(started.elapsed().as_secs_f64());
            }
            (best_flight, best_rpc)
        });
        let Some((_, adbc_s, duck_s, rows, _)) = adbc.iter().find(|a| a.0 == name) else {
            panic!("no ADBC line for {name}")
        };
        println!(
            "| {name} | {rows} | {adbc_s:.3} | {best_flight:.3} | {best_rpc:.3} | {duck_s:.3} | {:.2}x | {:.2}x |",
            adbc_s / duck_s,
            best_rpc / duck_s
        );
    }
    let client_cpu: f64 = adbc.iter().map(|a| a.4).sum();
    println!();
    println!(
        "CPU during the ADBC script ({ROUNDS} rounds of each statement, each round also running \
         DuckDB in the client): server {server_cpu_adbc:.2} s; ADBC client per run (best) {client_cpu:.3} s summed over statements."
    );
}
