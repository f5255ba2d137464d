//! The HTTP port: `/metrics`, `/healthz`, `/readyz`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vastgate::proto;

use crate::harness::TestServer;

pub(crate) async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn metrics_health_and_readiness() {
    let server = TestServer::start().await;
    let mut query = server.query().await;
    let table = Some(proto::TableRef {
        bucket: String::new(),
        schema: "demo".into(),
        table: "sensors".into(),
    });
    let count = query
        .count(proto::CountRequest {
            table: table.clone(),
            filter: None,
            hints: None,
        })
        .await
        .unwrap()
        .into_inner()
        .count;
    query
        .describe_table(proto::DescribeTableRequest {
            table,
            bypass_cache: false,
        })
        .await
        .unwrap();
    let _ = query
        .list_tables(proto::ListTablesRequest {
            bucket: String::new(),
            schema: "nope".into(),
        })
        .await
        .unwrap_err();

    assert_eq!(get(server.http, "/healthz").await.0, 200);
    assert_eq!(get(server.http, "/readyz").await.0, 200);
    let (status, body) = get(server.http, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(
            r#"vastgate_requests_total{code="Ok",method="Count",service="QueryService"} 1"#
        ),
        "{body}"
    );
    assert!(
        body.contains(r#"vastgate_requests_total{code="NotFound",method="ListTables",service="QueryService"} 1"#),
        "{body}"
    );
    assert!(
        body.contains("vastgate_request_duration_seconds_bucket"),
        "{body}"
    );
    // Only the Count read a table.
    assert!(
        body.contains("vastgate_scan_duration_seconds_count 1"),
        "{body}"
    );
    assert!(body.contains("vastgate_cache_hits_total 1"), "{body}");
    assert!(body.contains("vastgate_cache_misses_total 1"), "{body}");
    assert!(body.contains("vastgate_cache_entries 1"), "{body}");
    assert!(
        body.contains(&format!("vastgate_rows_scanned_total {count}")),
        "{body}"
    );
    server.stop().await;
}
