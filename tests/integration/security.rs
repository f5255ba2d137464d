//! Tokens, roles, schemas, per-caller limits, the metrics token and Flight tickets bound to a
//! caller: a real server with `[auth]` on, called through tonic with and without tokens.

use arrow_flight::{FlightDescriptor, flight_service_client::FlightServiceClient};
use futures::StreamExt;
use tonic::{Code, Request};
use vastgate::{auth::Role, proto};

use crate::{
    harness::{TestServer, parquet_path},
    referee::duckdb_count,
};

/// Tokens of the test callers, and the tokens file listing them.
pub(crate) struct Callers {
    pub(crate) admin: String,
    pub(crate) reader: String,
    /// A reader of schema `secret` only.
    pub(crate) outsider: String,
    pub(crate) file: tempfile::NamedTempFile,
}

impl Callers {
    pub(crate) fn new() -> Self {
        let (admin, admin_entry) = vastgate::auth::new_token("ops", Role::Admin, None);
        let (reader, reader_entry) =
            vastgate::auth::new_token("dashboard", Role::Reader, Some(vec!["demo".into()]));
        let (outsider, outsider_entry) =
            vastgate::auth::new_token("outsider", Role::Reader, Some(vec!["secret".into()]));
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            file.path(),
            format!("{admin_entry}\n{reader_entry}\n{outsider_entry}"),
        )
        .unwrap();
        Self {
            admin,
            reader,
            outsider,
            file,
        }
    }

    pub(crate) fn auth_toml(&self) -> String {
        format!(
            "[auth]\nenabled = true\ntokens_file = \"{}\"\n",
            self.file.path().display()
        )
    }
}

/// `message` with `authorization: Bearer <token>`.
pub(crate) fn bearer<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// A data folder with schemas `demo` and `secret`, both holding the demo `sensors` table.
fn two_schemas() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for schema in ["demo", "secret"] {
        std::fs::create_dir(dir.path().join(schema)).unwrap();
        std::os::unix::fs::symlink(
            parquet_path("sensors"),
            dir.path().join(schema).join("sensors.parquet"),
        )
        .unwrap();
    }
    dir
}

fn table(schema: &str) -> Option<proto::TableRef> {
    Some(proto::TableRef {
        bucket: String::new(),
        schema: schema.into(),
        table: "sensors".into(),
    })
}

fn count(schema: &str) -> proto::CountRequest {
    proto::CountRequest {
        table: table(schema),
        filter: Some(proto::Filter {
            kind: Some(proto::filter::Kind::IsNull(proto::ColumnRef {
                column: "humidity".into(),
            })),
        }),
        hints: None,
    }
}

fn assert_refused(status: &tonic::Status, code: Code, mentions: &str, token: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(mentions), "{status:?}");
    assert!(
        !status.message().contains(token),
        "a refusal leaked the token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_roles_and_schemas_decide_who_reads_what() {
    let callers = Callers::new();
    let data = two_schemas();
    let server = TestServer::over(data.path(), &callers.auth_toml()).await;
    let mut query = server.query().await;
    let mut admin = server.admin().await;
    let nulls = duckdb_count("sensors", "humidity IS NULL");

    // No token, a malformed header, an unknown token: UNAUTHENTICATED before any handler.
    let status = query.count(count("demo")).await.unwrap_err();
    assert_refused(
        &status,
        Code::Unauthenticated,
        "Bearer <token>",
        &callers.admin,
    );
    let mut basic = Request::new(count("demo"));
    basic
        .metadata_mut()
        .insert("authorization", "Token abc".parse().unwrap());
    let status = query.count(basic).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let forged = format!("{}0", callers.reader);
    let status = query
        .count(bearer(count("demo"), &forged))
        .await
        .unwrap_err();
    assert_refused(&status, Code::Unauthenticated, "not valid", &forged);

    // A reader reads its schema; the answer is DuckDB's.
    let got = query
        .count(bearer(count("demo"), &callers.reader))
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(got, nulls);
    // ...but not another one, through any call that names a table.
    let status = query
        .count(bearer(count("secret"), &callers.reader))
        .await
        .unwrap_err();
    assert_refused(
        &status,
        Code::PermissionDenied,
        "schema `secret`",
        &callers.reader,
    );
    let status = query
        .describe_table(bearer(
            proto::DescribeTableRequest {
                table: table("secret"),
                bypass_cache: false,
            },
            &callers.reader,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = query
        .select(bearer(
            proto::SelectRequest {
                table: table("secret"),
                ..Default::default()
            },
            &callers.reader,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // Listings show only what the caller may read.
    let schemas = query
        .list_schemas(bearer(
            proto::ListSchemasRequest::default(),
            &callers.outsider,
        ))
        .await
        .unwrap()
        .into_inner()
        .schemas;
    assert_eq!(schemas, vec!["secret".to_owned()]);
    let got = query
        .count(bearer(count("secret"), &callers.outsider))
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(got, nulls);

    // AdminService: a reader may not read the config; an admin may, and no secret is in it.
    let status = admin
        .get_config(bearer(proto::GetConfigRequest {}, &callers.reader))
        .await
        .unwrap_err();
    assert_refused(
        &status,
        Code::PermissionDenied,
        "admin role",
        &callers.reader,
    );
    let config = admin
        .get_config(bearer(proto::GetConfigRequest {}, &callers.admin))
        .await
        .unwrap()
        .into_inner()
        .toml;
    assert!(config.contains("tokens_file"), "{config}");

    // The query log names callers; a reader sees only its own queries, an admin all.
    let as_reader = admin
        .list_queries(bearer(
            proto::ListQueriesRequest { limit: 0 },
            &callers.reader,
        ))
        .await
        .unwrap()
        .into_inner();
    let callers_seen: Vec<_> = as_reader.recent.iter().map(|q| q.caller.as_str()).collect();
    assert!(!callers_seen.is_empty());
    assert!(
        callers_seen.iter().all(|c| *c == "dashboard"),
        "{callers_seen:?}"
    );
    let as_admin = admin
        .list_queries(bearer(
            proto::ListQueriesRequest { limit: 0 },
            &callers.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut all: Vec<_> = as_admin.recent.iter().map(|q| q.caller.clone()).collect();
    all.sort();
    all.dedup();
    assert_eq!(all, ["dashboard", "outsider"]);

    // Health needs no token (kubelets and load balancers carry none).
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.raw_channel().await);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "vastgate.v1.QueryService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        serving,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_cancels_only_its_own_queries() {
    let callers = Callers::new();
    let server = TestServer::with_config(&callers.auth_toml()).await;
    let mut query = server.query().await;
    let mut admin = server.admin().await;
    // An admin's Select held open: its stream is not read past the first message.
    let select = |token: &str| {
        bearer(
            proto::SelectRequest {
                table: crate::harness::sensors(),
                ..Default::default()
            },
            token,
        )
    };
    let response = query.select(select(&callers.admin)).await.unwrap();
    let id = crate::harness::query_id(&response);
    let mut stream = response.into_inner();
    assert!(stream.next().await.unwrap().is_ok());
    let running = admin
        .list_queries(bearer(
            proto::ListQueriesRequest { limit: 0 },
            &callers.reader,
        ))
        .await
        .unwrap()
        .into_inner()
        .running;
    assert!(
        running.iter().all(|q| q.query_id != id),
        "a reader saw another's query"
    );
    let status = admin
        .cancel_query(bearer(
            proto::CancelQueryRequest {
                query_id: id.clone(),
            },
            &callers.reader,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let running = admin
        .list_queries(bearer(
            proto::ListQueriesRequest { limit: 0 },
            &callers.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .running;
    let mine = running
        .iter()
        .find(|q| q.query_id == id)
        .expect("admin sees it");
    assert_eq!(mine.caller, "ops");
    admin
        .cancel_query(bearer(
            proto::CancelQueryRequest { query_id: id },
            &callers.admin,
        ))
        .await
        .unwrap();
    let mut ended = None;
    while let Some(item) = stream.next().await {
        if let Err(status) = item {
            ended = Some(status.code());
            break;
        }
    }
    assert_eq!(ended, Some(Code::Cancelled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_per_caller_refuse_with_resource_exhausted_and_spare_others() {
    let callers = Callers::new();
    let server = TestServer::with_config(&format!(
        "{}[limits]\nmax_concurrent_queries_per_caller = 1\n",
        callers.auth_toml()
    ))
    .await;
    let mut query = server.query().await;
    let hold = query
        .select(bearer(
            proto::SelectRequest {
                table: crate::harness::sensors(),
                ..Default::default()
            },
            &callers.reader,
        ))
        .await
        .unwrap();
    let mut held = hold.into_inner();
    assert!(held.next().await.unwrap().is_ok());
    // The same caller is refused a second query; another caller is not.
    let status = query
        .count(bearer(count("demo"), &callers.reader))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains("max_concurrent_queries_per_caller"),
        "{status:?}"
    );
    let other = query
        .count(bearer(count("demo"), &callers.admin))
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(other, duckdb_count("sensors", "humidity IS NULL"));
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_scanning_more_than_max_rows_per_query_is_resource_exhausted() {
    let server = TestServer::with_config("[limits]\nmax_rows_per_query = 200000\n").await;
    // Rows are counted as the backend delivers them, after its filter: most of the table.
    let mut most = count("demo");
    most.filter = Some(proto::Filter {
        kind: Some(proto::filter::Kind::IsNotNull(proto::ColumnRef {
            column: "humidity".into(),
        })),
    });
    assert!(duckdb_count("sensors", "humidity IS NOT NULL") > 200_000);
    let status = server.query().await.count(most).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("max_rows_per_query"),
        "{status:?}"
    );
    // A query under the limit runs.
    let mut small = count("demo");
    small.filter = Some(crate::vast::sensor_id_is(3));
    let got = server
        .query()
        .await
        .count(small)
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(got, duckdb_count("sensors", "sensor_id = 3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_past_max_query_duration_is_resource_exhausted() {
    let server = TestServer::with_config("[limits]\nmax_query_duration = \"1ms\"\n").await;
    let mut query = server.query().await;
    let mut stream = query
        .select(proto::SelectRequest {
            table: crate::harness::sensors(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner());
    let status = loop {
        match &mut stream {
            Err(status) => break status.clone(),
            Ok(s) => match s.next().await {
                Some(Err(status)) => break status,
                Some(Ok(_)) => continue,
                None => panic!("600,000 rows streamed within 1 ms"),
            },
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("max_query_duration"),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flight_tickets_are_bound_to_the_caller_who_asked() {
    let callers = Callers::new();
    let server = TestServer::with_config(&callers.auth_toml()).await;
    let mut flight = FlightServiceClient::new(server.raw_channel().await);
    let descriptor = FlightDescriptor::new_path(vec!["demo".into(), "sensors".into()]);
    let status = flight
        .get_flight_info(Request::new(descriptor.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let info = flight
        .get_flight_info(bearer(descriptor, &callers.reader))
        .await
        .unwrap()
        .into_inner();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    // Another caller's ticket is refused, even for an admin.
    let status = flight
        .do_get(bearer(ticket.clone(), &callers.admin))
        .await
        .unwrap_err();
    assert_refused(
        &status,
        Code::PermissionDenied,
        "another caller",
        &callers.admin,
    );
    // Its own caller reads it.
    let mut data = flight
        .do_get(bearer(ticket, &callers.reader))
        .await
        .unwrap()
        .into_inner();
    let mut messages = 0;
    while let Some(item) = data.next().await {
        item.unwrap();
        messages += 1;
    }
    assert!(messages > 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_take_the_metrics_token_and_health_stays_open() {
    let server = TestServer::with_config("[server]\nmetrics_token = \"scrape-me\"\n").await;
    let get = |path: &'static str, token: Option<&'static str>| {
        let addr = server.http;
        async move {
            let mut request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
            if let Some(token) = token {
                request.push_str(&format!("Authorization: Bearer {token}\r\n"));
            }
            request.push_str("\r\n");
            crate::tls::http_exchange(
                tokio::net::TcpStream::connect(addr).await.unwrap(),
                &request,
            )
            .await
        }
    };
    let refused = get("/metrics", None).await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let wrong = get("/metrics", Some("scrape-you")).await;
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    let metrics = get("/metrics", Some("scrape-me")).await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("vastgate_"), "{metrics}");
    for open in ["/healthz", "/readyz"] {
        let response = get(open, None).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{open}: {response}");
    }
}
