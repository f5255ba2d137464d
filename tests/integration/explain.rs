//! `QueryService/Explain` on both backends: the plan's numbers checked against the Parquet
//! footers and DuckDB, and against the query they explain when it runs.

use std::fs::File;

use parquet::file::{reader::FileReader, serialized_reader::SerializedFileReader, statistics};
use tonic::Code;
use vastgate::proto::{
    self, CompareOp, ExplainRequest, ExplainResponse, Filter, explain_request::Query,
    literal::Value as Lit,
};

use crate::{
    harness::{TestServer, parquet_path, sensors},
    query::{and, cmp},
    referee::{decode_chunks, duckdb_count},
};

/// Splits of 100,000 rows: the 600,000-row test table is cut as a large one would be.
const SMALL_SPLITS: &str = "[exec]\nrows_per_split = 100000\n";

async fn explain(server: &TestServer, query: Query) -> Result<ExplainResponse, tonic::Status> {
    server
        .query()
        .await
        .explain(ExplainRequest { query: Some(query) })
        .await
        .map(tonic::Response::into_inner)
}

fn east_below(id: i64) -> Filter {
    and(vec![
        cmp("sensor_id", CompareOp::Lt, Lit::IntValue(id)),
        cmp("region", CompareOp::Eq, Lit::StringValue("east".into())),
    ])
}

fn select(filter: Filter) -> proto::SelectRequest {
    proto::SelectRequest {
        table: sensors(),
        columns: vec!["sensor_id".into(), "temperature".into()],
        filter: Some(filter),
        ..Default::default()
    }
}

/// `(min, max)` of `sensor_id`, by DuckDB.
fn duckdb_sensor_range() -> (i64, i64) {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sql = format!(
        "SELECT min(sensor_id), max(sensor_id) FROM read_parquet('{}')",
        parquet_path("sensors").display()
    );
    conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
}

/// Rows of each row group of the sensors file, and the smallest and largest `ts` its
/// statistics record.
fn row_groups_with_ts_range() -> Vec<(u64, i64, i64)> {
    let reader = SerializedFileReader::new(File::open(parquet_path("sensors")).unwrap()).unwrap();
    let metadata = reader.metadata();
    let ts = metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.name() == "ts")
        .unwrap();
    metadata
        .row_groups()
        .iter()
        .map(|rg| match rg.column(ts).statistics().unwrap() {
            statistics::Statistics::Int64(s) => (
                rg.num_rows() as u64,
                *s.min_opt().unwrap(),
                *s.max_opt().unwrap(),
            ),
            other => panic!("ts statistics {other:?}"),
        })
        .collect()
}

/// Runs a Select and returns its rows and its record in the query log.
async fn run_select(server: &TestServer, request: proto::SelectRequest) -> (u64, proto::QueryInfo) {
    let response = server.query().await.select(request).await.unwrap();
    let query_id = crate::harness::query_id(&response);
    let (_, batches, _) = decode_chunks(response.into_inner()).await.unwrap();
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    let record = server
        .admin()
        .await
        .get_query(proto::GetQueryRequest { query_id })
        .await
        .unwrap()
        .into_inner()
        .query
        .unwrap();
    (rows, record)
}

#[tokio::test]
async fn explain_shows_the_plan_the_select_then_runs_on_both_backends() {
    let rows = duckdb_count("sensors", "true");
    let matching = duckdb_count("sensors", "sensor_id < 5 AND region = 'east'");
    assert!(matching > 0);
    let (min, max) = duckdb_sensor_range();
    let row_groups = row_groups_with_ts_range().len() as u64;
    for (backend, server, emulators) in TestServer::on_both_backends(SMALL_SPLITS).await {
        let plan = explain(&server, Query::Select(select(east_below(5))))
            .await
            .unwrap();
        assert_eq!(plan.table_rows, rows, "{backend}");
        assert_eq!(plan.columns, ["sensor_id", "temperature"], "{backend}");
        assert_eq!(
            (plan.query_kind.as_str(), plan.planner.as_str()),
            ("read", "adaptive")
        );
        assert_eq!(
            plan.metadata_cache, "miss",
            "{backend}: first look at the table"
        );
        let splits = plan.splits.clone().unwrap();
        // 600,000 rows want 6 splits of 100,000, no more than the row groups (5 locally,
        // 10 VAST units of 65,536 rows).
        let expected = if backend == "local" { 5 } else { 6 };
        assert_eq!(splits.value, expected, "{backend}: {}", splits.reason);
        assert!(
            splits.reason.contains("exec.rows_per_split 100000"),
            "{}",
            splits.reason
        );
        let filter = "sensor_id < 5 AND region = 'east'";
        match backend {
            "local" => {
                assert_eq!(plan.row_groups, row_groups);
                assert_eq!(
                    (plan.pushed_filter.as_str(), plan.residual_filter.as_str()),
                    ("", filter)
                );
                assert_eq!(plan.healthy_endpoints, 0);
                // Uniform ids in [min, max]: those below 5.
                let share = (5 - min) as f64 / (max - min + 1) as f64;
                assert_eq!(plan.estimated_rows, (rows as f64 * share).round() as u64);
                assert!(
                    plan.estimate_reason.contains("sensor_id"),
                    "{}",
                    plan.estimate_reason
                );
                let sub = plan.sub_splits.unwrap();
                assert!(sub.reason.contains("local"), "{}", sub.reason);
            }
            _ => {
                assert_eq!(plan.row_groups, rows.div_ceil(65_536));
                assert_eq!(
                    (plan.pushed_filter.as_str(), plan.residual_filter.as_str()),
                    (filter, "")
                );
                assert_eq!(plan.healthy_endpoints, emulators.len() as u32);
                assert_eq!(
                    plan.estimated_rows, rows,
                    "VAST keeps no statistics to read"
                );
                // 10 units over 6 splits: 2 per split, so 2 of the 4 configured streams.
                assert_eq!(plan.sub_splits.unwrap().value, 2);
            }
        }
        assert_eq!(
            plan.row_groups_pruned, 0,
            "{backend}: every row group has ids below 5"
        );
        assert_eq!(plan.rows_to_scan, rows, "{backend}");

        // The Select runs the plan: its splits, whose rows add up to DuckDB's count.
        let (got, record) = run_select(&server, select(east_below(5))).await;
        assert_eq!(got, matching, "{backend}");
        assert_eq!(u64::from(record.splits), expected, "{backend}");
        assert_eq!(u64::from(record.splits_done), expected, "{backend}");
        let per_split: u64 = record.split_details.iter().map(|s| s.rows).sum();
        assert_eq!(per_split, matching, "{backend}");
        for split in &record.split_details {
            for endpoint in &split.endpoints {
                assert!(emulators.iter().any(|e| &e.url == endpoint), "{endpoint}");
            }
        }
        let again = explain(&server, Query::Select(select(east_below(5))))
            .await
            .unwrap();
        assert_eq!(again.metadata_cache, "hit", "{backend}");
    }
}

#[tokio::test]
async fn a_time_range_prunes_row_groups_locally_and_splits_cut_what_is_left() {
    let groups = row_groups_with_ts_range();
    assert!(groups.len() >= 4, "{} row groups", groups.len());
    // After the third row group's first timestamp: the statistics rule out the first two
    // (the data is in time order; a row group may end in the minute the next one starts).
    let bound_us = groups[2].1;
    let since = cmp(
        "ts",
        CompareOp::Gt,
        Lit::TimestampValue(prost_types::Timestamp {
            seconds: bound_us.div_euclid(1_000_000),
            nanos: (bound_us.rem_euclid(1_000_000) * 1_000) as i32,
        }),
    );
    let kept: Vec<_> = groups
        .iter()
        .filter(|(_, _, max)| *max > bound_us)
        .collect();
    assert_eq!(kept.len(), groups.len() - 2);
    let kept_rows: u64 = kept.iter().map(|(rows, _, _)| rows).sum();
    let where_sql = format!("epoch_us(ts) > {bound_us}");
    let server = TestServer::with_config(SMALL_SPLITS).await;
    let plan = explain(&server, Query::Select(select(since.clone())))
        .await
        .unwrap();
    assert_eq!(plan.row_groups_pruned, 2);
    assert_eq!(plan.rows_to_scan, kept_rows);
    let splits = plan.splits.unwrap();
    assert_eq!(splits.value as usize, kept.len(), "{}", splits.reason);
    assert!(splits.reason.contains("pruned 2 of"), "{}", splits.reason);

    let (rows, record) = run_select(&server, select(since.clone())).await;
    assert_eq!(rows, duckdb_count("sensors", &where_sql));
    assert_eq!(record.splits as usize, kept.len());
    // Every split got a row group of its own, none is empty.
    assert!(
        record.split_details.iter().all(|s| s.rows > 0),
        "{:?}",
        record.split_details
    );

    let count = server
        .query()
        .await
        .count(proto::CountRequest {
            table: sensors(),
            filter: Some(since),
            hints: Some(proto::QueryHints {
                num_splits: 9,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(
        count,
        duckdb_count("sensors", &where_sql),
        "hinted splits beyond the row groups"
    );
}

#[tokio::test]
async fn explain_of_analytics_shows_the_kind_and_the_engine_sql() {
    let server = TestServer::start().await;
    let percentiles = explain(
        &server,
        Query::Percentiles(proto::PercentilesRequest {
            table: sensors(),
            value_column: "temperature".into(),
            quantiles: vec![0.5, 0.95],
            group_by: vec!["region".into()],
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(percentiles.query_kind, "aggregate");
    assert!(
        percentiles.engine_sql.contains("quantile"),
        "{}",
        percentiles.engine_sql
    );
    assert_eq!(percentiles.columns, ["region", "temperature"]);

    let moving = explain(
        &server,
        Query::MovingAverage(proto::MovingAverageRequest {
            table: sensors(),
            value_column: "temperature".into(),
            time_column: "ts".into(),
            window_rows: 5,
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(moving.query_kind, "time_series");
    assert!(
        moving
            .splits
            .unwrap()
            .reason
            .contains("orders each series by time")
    );

    let sql = explain(
        &server,
        Query::Sql(proto::SqlRequest {
            table: sensors(),
            sql: "SELECT region, count(*) FROM t GROUP BY region".into(),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert!(
        sql.engine_sql.to_lowercase().contains("group by"),
        "{}",
        sql.engine_sql
    );

    let count = explain(
        &server,
        Query::Count(proto::CountRequest {
            table: sensors(),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        (count.query_kind.as_str(), count.columns.len()),
        ("count", 0)
    );
}

#[tokio::test]
async fn a_limit_reads_one_split_one_stream_and_pages_of_the_limit_on_vast() {
    let emulator = crate::vast_sdk::Emulator::start(crate::harness::data_dir()).await;
    let server = TestServer::with_vast(&[&emulator.url], "").await;
    let mut request = select(east_below(5));
    request.limit = 10;
    let plan = explain(&server, Query::Select(request.clone()))
        .await
        .unwrap();
    let numbers = |c: Option<proto::PlanChoice>| c.unwrap().value;
    assert_eq!(numbers(plan.splits), 1);
    assert_eq!(numbers(plan.sub_splits), 1);
    assert_eq!(numbers(plan.rows_per_sub_split), 10);
    let (rows, record) = run_select(&server, request).await;
    assert_eq!(rows, 10);
    assert_eq!(record.splits, 1);

    let fixed = TestServer::with_vast(&[&emulator.url], "[exec]\nplanner = \"fixed\"\n").await;
    let plan = explain(&fixed, Query::Select(select(east_below(5))))
        .await
        .unwrap();
    assert_eq!(plan.planner, "fixed");
    assert_eq!(
        numbers(plan.splits),
        1,
        "600,000 rows / exec.rows_per_split 1,000,000"
    );
    assert_eq!(numbers(plan.sub_splits), 4, "exec.num_sub_splits");
}

#[tokio::test]
async fn explain_refuses_what_the_query_would_refuse() {
    let server = TestServer::start().await;
    let empty = server
        .query()
        .await
        .explain(ExplainRequest { query: None })
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert!(
        empty.message().contains("`query` is required"),
        "{}",
        empty.message()
    );

    let mut unknown = select(east_below(5));
    unknown.columns = vec!["humidty".into()];
    let err = explain(&server, Query::Select(unknown)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("humidty"), "{}", err.message());

    let mut missing = select(east_below(5));
    missing.table.as_mut().unwrap().table = "sensorz".into();
    let err = explain(&server, Query::Select(missing)).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());
}

/// `(table, item) → (value, why)` of plan rows.
fn plan_facts(batches: &[arrow::array::RecordBatch]) -> Vec<(String, String, String, String)> {
    let column = |name: &str| crate::flight_sql::strings(batches, name);
    let (tables, items, values, whys) = (
        column("table"),
        column("item"),
        column("value"),
        column("why"),
    );
    (0..tables.len())
        .map(|i| {
            (
                tables[i].clone(),
                items[i].clone(),
                values[i].clone(),
                whys[i].clone(),
            )
        })
        .collect()
}

fn fact<'a>(facts: &'a [(String, String, String, String)], table: &str, item: &str) -> &'a str {
    facts
        .iter()
        .find(|f| f.0 == table && f.1 == item)
        .map(|f| f.2.as_str())
        .unwrap_or_else(|| panic!("no {table} {item} in {facts:?}"))
}

#[tokio::test]
async fn explain_statements_answer_the_plan_through_sql_and_flight_sql() {
    let server = TestServer::with_config(SMALL_SPLITS).await;
    // The Sql RPC: EXPLAIN before the query over `t`, the same plan as QueryService/Explain.
    let request = proto::SqlRequest {
        table: sensors(),
        filter: Some(east_below(5)),
        sql: "SELECT region, avg(temperature) FROM t GROUP BY region".into(),
        ..Default::default()
    };
    let direct = explain(&server, Query::Sql(request.clone())).await.unwrap();
    let explained = proto::SqlRequest {
        sql: format!("-- plan first\nEXPLAIN {}", request.sql),
        ..request.clone()
    };
    let response = server.analytics().await.sql(explained).await.unwrap();
    let (_, batches, _) = decode_chunks(response.into_inner()).await.unwrap();
    let facts = plan_facts(&batches);
    let splits = direct.splits.unwrap().value.to_string();
    assert_eq!(fact(&facts, "demo.sensors", "splits"), splits);
    assert_eq!(
        fact(&facts, "demo.sensors", "residual filter"),
        "sensor_id < 5 AND region = 'east'"
    );
    assert!(fact(&facts, "demo.sensors", "engine sql").contains("avg"));

    // Flight SQL: a join plans one scan per table, each with its own columns and filter.
    let mut client = crate::flight_sql::client(&server).await;
    let info = client
        .execute(
            "EXPLAIN SELECT s.region, count(*) FROM demo.sensors s \
             JOIN demo.orders o ON s.sensor_id = o.customer_id % 20 \
             WHERE s.sensor_id < 5 GROUP BY s.region"
                .to_owned(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(info.endpoint.len(), 1);
    let facts = plan_facts(&crate::flight_sql::fetch(&mut client, info).await);
    assert_eq!(fact(&facts, "demo.sensors", "query kind"), "aggregate");
    assert_eq!(
        fact(&facts, "demo.sensors", "residual filter"),
        "sensor_id < 5"
    );
    assert_eq!(fact(&facts, "demo.sensors", "columns"), "sensor_id, region");
    assert_eq!(fact(&facts, "demo.orders", "residual filter"), "(none)");
    assert_eq!(
        fact(&facts, "demo.orders", "table").to_owned(),
        "demo.orders"
    );
    // Nothing was read, and a plain statement still runs on the same connection.
    let refused = client
        .execute(
            "EXPLAIN ANALYZE SELECT 1 FROM demo.sensors".to_owned(),
            None,
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("EXPLAIN ANALYZE"), "{refused}");
    let info = client
        .execute("SELECT count(*) FROM demo.orders".to_owned(), None)
        .await
        .unwrap();
    assert_eq!(
        crate::flight_sql::fetch(&mut client, info).await[0].num_rows(),
        1
    );
}
