//! QueryService against DuckDB: every filter operator, nesting, NULLs, empty results, limits,
//! projections and bad input.

use tonic::Code;
use vastgate::proto::{self, CompareOp, Filter, Literal, filter::Kind, literal::Value as Lit};

use crate::{
    harness::{SENSOR_ROWS, TestServer, data_dir, sensors},
    referee::{decode_chunks, duckdb_count, duckdb_sensor_keys, sensor_keys},
    vast_sdk::Emulator,
};

pub(crate) fn lit(v: Lit) -> Literal {
    Literal { value: Some(v) }
}

pub(crate) fn cmp(column: &str, op: CompareOp, v: Lit) -> Filter {
    Filter {
        kind: Some(Kind::Compare(proto::Comparison {
            column: column.into(),
            op: op as i32,
            value: Some(lit(v)),
        })),
    }
}

pub(crate) fn and(filters: Vec<Filter>) -> Filter {
    Filter {
        kind: Some(Kind::And(proto::FilterList { filters })),
    }
}

fn or(filters: Vec<Filter>) -> Filter {
    Filter {
        kind: Some(Kind::Or(proto::FilterList { filters })),
    }
}

fn not(filter: Filter) -> Filter {
    Filter {
        kind: Some(Kind::Not(Box::new(filter))),
    }
}

fn column(name: &str) -> proto::ColumnRef {
    proto::ColumnRef {
        column: name.into(),
    }
}

fn string_match(name: &str, pattern: &str) -> proto::StringMatch {
    proto::StringMatch {
        column: name.into(),
        pattern: pattern.into(),
    }
}

fn ts(seconds: i64) -> Lit {
    Lit::TimestampValue(prost_types::Timestamp { seconds, nanos: 0 })
}

/// 2026-01-01T00:00:00Z, the first demo timestamp.
const START: i64 = 1_767_225_600;

/// Each filter next to the SQL WHERE clause that means the same.
fn cases() -> Vec<(&'static str, Filter, String)> {
    vec![
        (
            "eq int",
            cmp("sensor_id", CompareOp::Eq, Lit::IntValue(3)),
            "sensor_id = 3".into(),
        ),
        (
            "ne string",
            cmp("region", CompareOp::Ne, Lit::StringValue("north".into())),
            "region <> 'north'".into(),
        ),
        (
            "lt float",
            cmp("temperature", CompareOp::Lt, Lit::FloatValue(5.5)),
            "temperature < 5.5".into(),
        ),
        (
            "le float nulls",
            cmp("humidity", CompareOp::Le, Lit::FloatValue(50.0)),
            "humidity <= 50.0".into(),
        ),
        (
            "gt int literal on float",
            cmp("pressure", CompareOp::Gt, Lit::IntValue(1018)),
            "pressure > 1018".into(),
        ),
        (
            "ge timestamp",
            cmp("ts", CompareOp::Ge, ts(START + 86_400 * 10)),
            format!("ts >= to_timestamp({})", START + 86_400 * 10),
        ),
        (
            "in",
            Filter {
                kind: Some(Kind::In(proto::InList {
                    column: "sensor_id".into(),
                    values: vec![
                        lit(Lit::IntValue(1)),
                        lit(Lit::IntValue(5)),
                        lit(Lit::IntValue(17)),
                    ],
                })),
            },
            "sensor_id IN (1, 5, 17)".into(),
        ),
        (
            "between timestamps",
            Filter {
                kind: Some(Kind::Between(proto::Between {
                    column: "ts".into(),
                    low: Some(lit(ts(START + 3_600))),
                    high: Some(lit(ts(START + 7_200))),
                })),
            },
            format!(
                "ts BETWEEN to_timestamp({}) AND to_timestamp({})",
                START + 3_600,
                START + 7_200
            ),
        ),
        (
            "is_null",
            Filter {
                kind: Some(Kind::IsNull(column("humidity"))),
            },
            "humidity IS NULL".into(),
        ),
        (
            "is_not_null",
            Filter {
                kind: Some(Kind::IsNotNull(column("pressure"))),
            },
            "pressure IS NOT NULL".into(),
        ),
        (
            "starts_with",
            Filter {
                kind: Some(Kind::StartsWith(string_match("region", "no"))),
            },
            "starts_with(region, 'no')".into(),
        ),
        (
            "contains",
            Filter {
                kind: Some(Kind::Contains(string_match("status", "ar"))),
            },
            "contains(status, 'ar')".into(),
        ),
        (
            "and/or nesting",
            and(vec![
                or(vec![
                    cmp("region", CompareOp::Eq, Lit::StringValue("east".into())),
                    cmp("temperature", CompareOp::Gt, Lit::FloatValue(30.0)),
                ]),
                cmp("sensor_id", CompareOp::Lt, Lit::IntValue(10)),
            ]),
            "(region = 'east' OR temperature > 30.0) AND sensor_id < 10".into(),
        ),
        (
            "not with NULLs",
            not(cmp("humidity", CompareOp::Gt, Lit::FloatValue(60.0))),
            "NOT (humidity > 60.0)".into(),
        ),
        (
            "or with NULL branch",
            or(vec![
                Filter {
                    kind: Some(Kind::IsNull(column("pressure"))),
                },
                cmp("humidity", CompareOp::Lt, Lit::FloatValue(40.0)),
            ]),
            "pressure IS NULL OR humidity < 40.0".into(),
        ),
        (
            "empty result",
            cmp("temperature", CompareOp::Gt, Lit::FloatValue(1000.0)),
            "temperature > 1000.0".into(),
        ),
    ]
}

#[tokio::test]
async fn select_and_count_agree_with_duckdb_for_every_operator() {
    let server = TestServer::with_config("[exec]\nrows_per_split = 100000\n").await;
    check_every_operator(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vast_select_and_count_agree_with_duckdb_for_every_operator() {
    let (a, b) = (
        Emulator::start(data_dir()).await,
        Emulator::start(data_dir()).await,
    );
    let server =
        TestServer::with_vast(&[&a.url, &b.url], "[exec]\nrows_per_split = 100000\n").await;
    check_every_operator(&server).await;
}

/// Select and Count of every case of [`cases`] against DuckDB.
pub(crate) async fn check_every_operator(server: &TestServer) {
    let mut client = server.query().await;
    for (name, filter, sql) in cases() {
        let expected = duckdb_sensor_keys(&sql);
        let stream = client
            .select(proto::SelectRequest {
                table: sensors(),
                columns: vec!["ts".into(), "sensor_id".into()],
                filter: Some(filter.clone()),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .into_inner();
        let (schema, batches, _) = decode_chunks(stream).await.unwrap();
        assert_eq!(schema.fields().len(), 2, "{name}");
        let got = sensor_keys(&batches);
        assert_eq!(got.len(), expected.len(), "{name}: row count");
        assert!(got == expected, "{name}: rows differ from DuckDB");

        let count = client
            .count(proto::CountRequest {
                table: sensors(),
                filter: Some(filter),
                hints: None,
            })
            .await
            .unwrap()
            .into_inner()
            .count;
        assert_eq!(count, duckdb_count("sensors", &sql), "{name}: count");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn select_all_columns_with_split_hints_and_small_chunks() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        println!("backend: {backend}");
        let mut client = server.query().await;
        let stream = client
            .select(proto::SelectRequest {
                table: sensors(),
                hints: Some(proto::QueryHints {
                    num_splits: 3,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let (schema, batches, largest) = decode_chunks(stream).await.unwrap();
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "ts",
                "sensor_id",
                "region",
                "temperature",
                "humidity",
                "pressure",
                "status"
            ]
        );
        assert_eq!(sensor_keys(&batches), duckdb_sensor_keys("true"));
        assert!(largest < 4 * 1024 * 1024, "a chunk of {largest} bytes");
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows as u64, SENSOR_ROWS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limit_cuts_the_stream() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        println!("backend: {backend}");
        let mut client = server.query().await;
        for (limit, filter) in [
            (10u64, None),
            (70_000, None),
            (5, Some(cmp("sensor_id", CompareOp::Eq, Lit::IntValue(2)))),
            (
                1_000_000,
                Some(cmp("temperature", CompareOp::Gt, Lit::FloatValue(1000.0))),
            ),
        ] {
            let stream = client
                .select(proto::SelectRequest {
                    table: sensors(),
                    columns: vec!["sensor_id".into(), "ts".into()],
                    filter: filter.clone(),
                    limit,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            let (_, batches, _) = decode_chunks(stream).await.unwrap();
            let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
            let total = client
                .count(proto::CountRequest {
                    table: sensors(),
                    filter,
                    hints: None,
                })
                .await
                .unwrap()
                .into_inner()
                .count;
            assert_eq!(rows, limit.min(total), "limit {limit}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metadata_calls() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        println!("backend: {backend}");
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
                bucket: String::new(),
                schema: "demo".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .tables;
        let sensors_row = tables
            .iter()
            .find(|t| t.table.as_ref().is_some_and(|t| t.table == "sensors"))
            .expect("sensors listed");
        assert_eq!(sensors_row.num_rows, SENSOR_ROWS);
        assert!(
            tables
                .iter()
                .any(|t| t.table.as_ref().is_some_and(|t| t.table == "orders"))
        );

        let first = client
            .describe_table(proto::DescribeTableRequest {
                table: sensors(),
                bypass_cache: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!first.from_cache);
        assert_eq!(first.num_rows, SENSOR_ROWS);
        let columns: Vec<_> = first
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.data_type.as_str(), c.nullable))
            .collect();
        assert_eq!(columns[0], ("ts", "Timestamp(µs, \"UTC\")", false));
        assert_eq!(columns[1], ("sensor_id", "Int32", false));
        assert_eq!(columns[4], ("humidity", "Float64", true));
        let second = client
            .describe_table(proto::DescribeTableRequest {
                table: sensors(),
                bypass_cache: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(second.from_cache);
    }
}

async fn select_error(
    client: &mut vastgate::proto::query_service_client::QueryServiceClient<
        tonic::transport::Channel,
    >,
    request: proto::SelectRequest,
) -> tonic::Status {
    match client.select(request).await {
        Err(status) => status,
        Ok(stream) => decode_chunks(stream.into_inner())
            .await
            .expect_err("an error"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_the_right_code_and_names_the_problem() {
    for (backend, server, _emulators) in TestServer::on_both_backends("").await {
        println!("backend: {backend}");
        let mut client = server.query().await;
        let table = |schema: &str, table: &str| {
            Some(proto::TableRef {
                bucket: String::new(),
                schema: schema.into(),
                table: table.into(),
            })
        };
        let select =
            |filter: Option<Filter>, columns: Vec<String>, limit: u64| proto::SelectRequest {
                table: sensors(),
                filter,
                columns,
                limit,
                ..Default::default()
            };
        let in_list = Filter {
            kind: Some(Kind::In(proto::InList {
                column: "region".into(),
                values: vec![],
            })),
        };
        // (request, expected code, text the message must name)
        let cases = [
            (
                proto::SelectRequest {
                    table: table("demo", "sensorz"),
                    ..Default::default()
                },
                Code::NotFound,
                "sensorz",
            ),
            (
                select(
                    Some(cmp("temprature", CompareOp::Gt, Lit::FloatValue(1.0))),
                    vec![],
                    0,
                ),
                Code::InvalidArgument,
                "temprature",
            ),
            (
                select(
                    Some(cmp(
                        "sensor_id",
                        CompareOp::Eq,
                        Lit::StringValue("3".into()),
                    )),
                    vec![],
                    0,
                ),
                Code::InvalidArgument,
                "sensor_id",
            ),
            (
                select(None, vec!["ts".into(), "nope".into()], 0),
                Code::InvalidArgument,
                "nope",
            ),
            (
                select(None, vec![], u64::MAX),
                Code::InvalidArgument,
                "max_select_limit",
            ),
            (
                select(Some(in_list), vec![], 0),
                Code::InvalidArgument,
                "region",
            ),
            (
                proto::SelectRequest {
                    table: None,
                    ..Default::default()
                },
                Code::InvalidArgument,
                "table",
            ),
            (
                proto::SelectRequest {
                    table: table("..", "etc"),
                    ..Default::default()
                },
                Code::InvalidArgument,
                "..",
            ),
        ];
        for (request, code, needle) in cases {
            let count = proto::CountRequest {
                table: request.table.clone(),
                filter: request.filter.clone(),
                hints: None,
            };
            let status = select_error(&mut client, request).await;
            assert_eq!(status.code(), code, "{status:?}");
            assert!(status.message().contains(needle), "{needle}: {status:?}");
            if status.message().contains("columns") || status.message().contains("limit") {
                continue; // Count has neither
            }
            let status = client.count(count).await.unwrap_err();
            assert_eq!(status.code(), code, "Count: {status:?}");
            assert!(
                status.message().contains(needle),
                "Count {needle}: {status:?}"
            );
        }
        let status = client
            .describe_table(proto::DescribeTableRequest {
                table: table("demo", "sensorz"),
                bypass_cache: false,
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
    }
}

#[tokio::test]
async fn select_returns_query_id_metadata() {
    let server = TestServer::start().await;
    let mut client = server.query().await;
    let response = client
        .count(proto::CountRequest {
            table: sensors(),
            filter: None,
            hints: None,
        })
        .await
        .unwrap();
    let header = crate::harness::query_id(&response);
    assert_eq!(response.into_inner().query_id, header);
}

#[tokio::test]
async fn server_deadline_ends_a_long_select_with_deadline_exceeded() {
    let server = TestServer::with_config("[server]\nrequest_timeout = \"1ms\"\n").await;
    let mut client = server.query().await;
    let status = select_error(
        &mut client,
        proto::SelectRequest {
            table: sensors(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("request_timeout"), "{status:?}");
}
