//! AdminService, health, reflection, overload and the query log.

use std::time::Duration;

use futures::StreamExt;
use tonic::Code;
use vastgate::proto;

use crate::harness::{TestServer, sensors};

#[tokio::test]
async fn cache_stats_and_invalidation() {
    let server = TestServer::start().await;
    let mut query = server.query().await;
    let mut admin = server.admin().await;
    for _ in 0..3 {
        query
            .describe_table(proto::DescribeTableRequest {
                table: sensors(),
                bypass_cache: false,
            })
            .await
            .unwrap();
    }
    let stats = admin
        .cache_stats(proto::CacheStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((stats.entries, stats.hits, stats.misses), (1, 2, 1));
    assert!((stats.hit_rate - 2.0 / 3.0).abs() < 1e-9);
    let dropped = admin
        .invalidate_cache(proto::InvalidateCacheRequest { table: sensors() })
        .await
        .unwrap()
        .into_inner()
        .invalidated;
    assert_eq!(dropped, 1);
    let again = query
        .describe_table(proto::DescribeTableRequest {
            table: sensors(),
            bypass_cache: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.from_cache);
    let all = admin
        .invalidate_cache(proto::InvalidateCacheRequest { table: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.invalidated, 1);
}

#[tokio::test]
async fn an_analytics_request_looks_the_table_up_once() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    server
        .analytics()
        .await
        .percentiles(proto::PercentilesRequest {
            table: sensors(),
            value_column: "temperature".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let stats = admin
        .cache_stats(proto::CacheStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((stats.hits, stats.misses), (0, 1), "{stats:?}");
}

#[tokio::test]
async fn query_log_records_and_exports() {
    let server = TestServer::start().await;
    let mut query = server.query().await;
    let mut admin = server.admin().await;
    let count = query
        .count(proto::CountRequest {
            table: sensors(),
            filter: None,
            hints: None,
        })
        .await
        .unwrap()
        .into_inner();
    let log = admin
        .list_queries(proto::ListQueriesRequest { limit: 10 })
        .await
        .unwrap()
        .into_inner();
    let entry = log
        .recent
        .iter()
        .find(|q| q.query_id == count.query_id)
        .expect("count is logged");
    assert_eq!(entry.method, "Count");
    assert_eq!(entry.table, "demo.sensors");
    assert_eq!(entry.state, "ok");
    assert_eq!(entry.rows_scanned, count.count);
    let csv = admin
        .export_query_log(proto::ExportQueryLogRequest {
            format: "csv".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let text = String::from_utf8(csv.data).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with(&count.query_id)),
        "{text}"
    );
    let bad = admin
        .export_query_log(proto::ExportQueryLogRequest {
            format: "xml".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let slow = admin
        .slow_queries(proto::SlowQueriesRequest {
            limit: 10,
            min_duration_ms: 0.000_001,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(slow.queries.iter().any(|q| q.query_id == count.query_id));
    let trends = admin
        .performance_trends(proto::PerformanceTrendsRequest {
            bucket_seconds: 3600,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        trends
            .buckets
            .iter()
            .any(|b| b.method == "Count" && b.queries >= 1)
    );
    let config = admin
        .get_config(proto::GetConfigRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(config.toml.contains("[catalog]"), "{}", config.toml);
}

#[tokio::test]
async fn overload_is_resource_exhausted_and_admin_still_answers() {
    let server = TestServer::with_config(
        "[server]\nmax_concurrent_requests = 1\nmax_pending_requests = 0\n",
    )
    .await;
    let mut query = server.query().await;
    // A Select holds its slot until its stream ends; read one chunk and keep it open.
    let mut open = query
        .select(proto::SelectRequest {
            table: sensors(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(open.next().await.unwrap().is_ok());
    let mut other = server.query().await;
    let status = other
        .count(proto::CountRequest {
            table: sensors(),
            filter: None,
            hints: None,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let mut admin = server.admin().await;
    let running = admin
        .list_queries(proto::ListQueriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .running;
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].method, "Select");
    // Cancelling the running query ends its stream with CANCELLED and frees the slot.
    admin
        .cancel_query(proto::CancelQueryRequest {
            query_id: running[0].query_id.clone(),
        })
        .await
        .unwrap();
    let mut ended = None;
    while let Some(item) = open.next().await {
        if let Err(status) = item {
            ended = Some(status.code());
        }
    }
    assert_eq!(ended, Some(Code::Cancelled));
    drop(open);
    tokio::time::sleep(Duration::from_millis(50)).await;
    other
        .count(proto::CountRequest {
            table: sensors(),
            filter: None,
            hints: None,
        })
        .await
        .expect("the slot is free again");
}

#[tokio::test]
async fn grpc_health_and_reflection() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.raw_channel().await);
    let status = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status(), ServingStatus::Serving);
    let status = health
        .check(HealthCheckRequest {
            service: "vastgate.v1.QueryService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status(), ServingStatus::Serving);

    let mut reflection = ServerReflectionClient::new(server.raw_channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "vastgate.v1.QueryService",
        "vastgate.v1.AnalyticsService",
        "vastgate.v1.AdminService",
        "grpc.health.v1.Health",
        "arrow.flight.protocol.FlightService",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
}

/// Health tells the truth: with the only VAST endpoint unreachable, gRPC health and
/// `AdminService/Health` say `NOT_SERVING` and why, and `/readyz` is 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_reports_an_unreachable_backend() {
    let dead = crate::vast::dead_endpoint();
    let server = TestServer::with_vast(&[&dead], "").await;
    let health = server
        .admin()
        .await
        .health(proto::HealthRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status, "NOT_SERVING");
    assert!(
        health.reason.contains("backend not reachable"),
        "{health:?}"
    );
    let mut grpc_health =
        tonic_health::pb::health_client::HealthClient::new(server.raw_channel().await);
    let status = grpc_health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "vastgate.v1.QueryService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
    );

    // A reachable backend: SERVING with no reason.
    let healthy = TestServer::start().await;
    let health = healthy
        .admin()
        .await
        .health(proto::HealthRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (health.status.as_str(), health.reason.as_str()),
        ("SERVING", "")
    );
}
