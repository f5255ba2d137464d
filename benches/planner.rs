//! The adaptive planner against the fixed one (`exec.planner`), in one run: three emulators
//! (child processes, page cache on) serve a small, a medium and a large copy of the demo
//! table; two in-process servers, one per planner, answer the same queries of each kind; then
//! the same over the local backend on the same files.
//! Reported per (table, query): the plan each chose (splits x sub-splits, rows per page, from
//! `Explain`), the median time of `VG_RUNS` (default 7) runs taken in turns, and the CPU
//! seconds per query of this process (client + server) and of the emulators.
//!
//! `cargo bench --bench planner` (`VG_PLANNER_ROWS=small,medium,large`, default
//! `100000,1000000,10000000`; `VG_PLANNER_DATA=DIR` keeps the generated tables).

mod common;

use std::{path::Path, time::Instant};

use common::{ACCESS, BUCKET, Process, SECRET};
use futures::StreamExt;
use tonic::transport::Channel;
use vastgate::{
    config::{BackendKind, PlannerMode},
    proto::{
        self, CompareOp, ExplainRequest, analytics_service_client::AnalyticsServiceClient,
        explain_request::Query, query_service_client::QueryServiceClient,
    },
};

const TABLES: [&str; 3] = ["small", "medium", "large"];

fn main() {
    let rows: Vec<u64> = std::env::var("VG_PLANNER_ROWS")
        .unwrap_or_else(|_| "100000,1000000,10000000".to_owned())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    assert_eq!(rows.len(), 3, "VG_PLANNER_ROWS: three row counts");
    let runs: usize = std::env::var("VG_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let (root, _guard) = match std::env::var("VG_PLANNER_DATA") {
        Ok(dir) => (std::path::PathBuf::from(dir), None),
        Err(_) => {
            let tmp = tempfile::tempdir().expect("temp dir");
            (tmp.path().to_owned(), Some(tmp))
        }
    };
    for (table, rows) in TABLES.iter().zip(&rows) {
        generate(&root, table, *rows);
    }
    let emulators: Vec<(Process, String)> = (0..3).map(|_| common::emulator(&root)).collect();
    let urls: Vec<String> = emulators.iter().map(|(_, url)| url.clone()).collect();
    let emulator_cpu = || emulators.iter().map(|(p, _)| p.cpu_seconds()).sum::<f64>();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!("{runs} runs per cell taken in turns, median; CPU s per query: this process (client + server) + the 3 emulators");
        println!();
        println!(
            "| backend | table | query | fixed plan | adaptive plan | fixed ms | adaptive ms | fixed / adaptive | CPU fixed | CPU adaptive |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for backend in [BackendKind::Vast, BackendKind::Local] {
            let fixed = server(&root, &urls, backend, PlannerMode::Fixed).await;
            let adaptive = server(&root, &urls, backend, PlannerMode::Adaptive).await;
            let name = match backend {
                BackendKind::Vast => "VAST",
                BackendKind::Local => "local",
            };
            for (table, rows) in TABLES.iter().zip(&rows) {
                for query in queries(backend, table, *rows) {
                    let mut clients = [fixed.clone(), adaptive.clone()];
                    let plans = [
                        plan(&mut clients[0], &query).await,
                        plan(&mut clients[1], &query).await,
                    ];
                    let mut times = [Vec::new(), Vec::new()];
                    let mut cpu = [(0.0, 0.0); 2];
                    for client in &mut clients {
                        run(client, &query).await; // warm: pages cached, connections open
                    }
                    for _ in 0..runs {
                        for (i, client) in clients.iter_mut().enumerate() {
                            let (own, emu) = (common::cpu_seconds("self"), emulator_cpu());
                            let started = Instant::now();
                            run(client, &query).await;
                            times[i].push(started.elapsed().as_secs_f64() * 1e3);
                            cpu[i].0 += common::cpu_seconds("self") - own;
                            cpu[i].1 += emulator_cpu() - emu;
                        }
                    }
                    let [f, a] = [median(&mut times[0]), median(&mut times[1])];
                    let per = |c: (f64, f64)| {
                        format!("{:.3} + {:.3}", c.0 / runs as f64, c.1 / runs as f64)
                    };
                    println!(
                        "| {name} | {table} ({rows} rows) | {} | {} | {} | {f:.1} | {a:.1} | {:.2}x | {} | {} |",
                        query.label,
                        plans[0],
                        plans[1],
                        f / a,
                        per(cpu[0]),
                        per(cpu[1]),
                    );
                }
            }
        }
    });
}

/// `ROOT/<table>/sensors.parquet` with `rows` demo rows, generated unless present.
fn generate(root: &Path, table: &str, rows: u64) {
    let target = root.join(table).join("sensors.parquet");
    if target.exists() {
        return;
    }
    let scratch = root.join(format!(".gen-{table}"));
    let started = Instant::now();
    vastgate::gen_data::generate(&scratch, rows, 42).expect("generate");
    std::fs::create_dir_all(root.join(table)).expect("table folder");
    std::fs::rename(scratch.join("demo/sensors.parquet"), &target).expect("move");
    std::fs::remove_dir_all(&scratch).expect("clean up");
    eprintln!(
        "{table}: {rows} rows in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// One server's clients.
#[derive(Clone)]
struct Clients {
    query: QueryServiceClient<Channel>,
    analytics: AnalyticsServiceClient<Channel>,
}

async fn server(
    root: &Path,
    urls: &[String],
    backend: BackendKind,
    planner: PlannerMode,
) -> Clients {
    let addr = common::start(root.to_owned(), |config| {
        config.backend.kind = backend;
        config.vast.endpoints = urls.to_vec();
        config.vast.access_key = ACCESS.into();
        config.vast.secret_key = SECRET.into();
        config.vast.buckets = vec![BUCKET.into()];
        config.exec.planner = planner;
    })
    .await;
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Clients {
        query: QueryServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20),
        analytics: AnalyticsServiceClient::new(channel).max_decoding_message_size(64 << 20),
    }
}

struct BenchQuery {
    label: &'static str,
    query: Query,
}

fn queries(backend: BackendKind, table: &str, rows: u64) -> Vec<BenchQuery> {
    let bucket = match backend {
        BackendKind::Vast => BUCKET,
        BackendKind::Local => "",
    };
    let table = Some(proto::TableRef {
        bucket: bucket.into(),
        schema: table.into(),
        table: "sensors".into(),
    });
    let below = |n: i64| {
        Some(proto::Filter {
            kind: Some(proto::filter::Kind::Compare(proto::Comparison {
                column: "sensor_id".into(),
                op: CompareOp::Lt as i32,
                value: Some(proto::Literal {
                    value: Some(proto::literal::Value::IntValue(n)),
                }),
            })),
        })
    };
    vec![
        BenchQuery {
            label: "read: Select 2 columns",
            query: Query::Select(proto::SelectRequest {
                table: table.clone(),
                columns: vec!["sensor_id".into(), "temperature".into()],
                ..Default::default()
            }),
        },
        BenchQuery {
            label: "limit: Select LIMIT 100",
            query: Query::Select(proto::SelectRequest {
                table: table.clone(),
                columns: vec!["sensor_id".into(), "temperature".into()],
                limit: 100,
                ..Default::default()
            }),
        },
        BenchQuery {
            label: "count: sensor_id < 2",
            query: Query::Count(proto::CountRequest {
                table: table.clone(),
                filter: below(2),
                ..Default::default()
            }),
        },
        BenchQuery {
            label: "aggregate: Percentiles by region",
            query: Query::Percentiles(proto::PercentilesRequest {
                table: table.clone(),
                group_by: vec!["region".into()],
                value_column: "temperature".into(),
                quantiles: vec![0.5, 0.95, 0.99],
                ..Default::default()
            }),
        },
        BenchQuery {
            label: "time range: WindowAggregate 1 h, last 7 days",
            query: Query::WindowAggregate(proto::WindowAggregateRequest {
                table: table.clone(),
                filter: last_week(rows),
                group_by: vec!["region".into()],
                time_column: "ts".into(),
                interval: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                value_columns: vec!["temperature".into()],
                functions: vec!["avg".into(), "max".into()],
                ..Default::default()
            }),
        },
        BenchQuery {
            label: "time series: WindowAggregate 1 h",
            query: Query::WindowAggregate(proto::WindowAggregateRequest {
                table: table.clone(),
                group_by: vec!["region".into()],
                time_column: "ts".into(),
                interval: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                value_columns: vec!["temperature".into()],
                functions: vec!["avg".into(), "max".into()],
                ..Default::default()
            }),
        },
    ]
}

/// `ts >=` seven days before the last row (the demo data has 20 rows a minute).
fn last_week(rows: u64) -> Option<proto::Filter> {
    let minutes = (rows / 20).saturating_sub(7 * 24 * 60) as i64;
    let micros = vastgate::gen_data::START_MICROS + minutes * 60_000_000;
    Some(proto::Filter {
        kind: Some(proto::filter::Kind::Compare(proto::Comparison {
            column: "ts".into(),
            op: CompareOp::Ge as i32,
            value: Some(proto::Literal {
                value: Some(proto::literal::Value::TimestampValue(
                    prost_types::Timestamp {
                        seconds: micros.div_euclid(1_000_000),
                        nanos: 0,
                    },
                )),
            }),
        })),
    })
}

/// The plan as `splits x sub-splits, page rows`.
async fn plan(clients: &mut Clients, query: &BenchQuery) -> String {
    let plan = clients
        .query
        .explain(ExplainRequest {
            query: Some(query.query.clone()),
        })
        .await
        .expect("explain")
        .into_inner();
    let value = |c: Option<proto::PlanChoice>| c.map_or(0, |c| c.value);
    format!(
        "{} x {}, {}",
        value(plan.splits),
        value(plan.sub_splits),
        value(plan.rows_per_sub_split)
    )
}

/// Runs the query to its end; panics on an error.
async fn run(clients: &mut Clients, query: &BenchQuery) {
    let (client, analytics) = (&mut clients.query, &mut clients.analytics);
    match &query.query {
        Query::Select(r) => {
            let mut chunks = client.select(r.clone()).await.expect("select").into_inner();
            while let Some(chunk) = chunks.next().await {
                chunk.expect("chunk");
            }
        }
        Query::Count(r) => {
            client.count(r.clone()).await.expect("count");
        }
        Query::Percentiles(r) => {
            analytics.percentiles(r.clone()).await.expect("percentiles");
        }
        Query::WindowAggregate(r) => {
            analytics
                .window_aggregate(r.clone())
                .await
                .expect("window aggregate");
        }
        _ => unreachable!("not benchmarked"),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
