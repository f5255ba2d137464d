//! The flight recorder: `GetQuery` and `WatchQuery` with per-split records, on both backends,
//! checked against what the query returned and DuckDB's count of the same rows.

use futures::StreamExt;
use tonic::Code;
use vastgate::{emulator::FaultConfig, proto};

use crate::{
    harness::{TestServer, data_dir, sensors},
    referee::duckdb_count,
    vast_sdk::Emulator,
};

fn filter_region(region: &str) -> Option<proto::Filter> {
    Some(proto::Filter {
        kind: Some(proto::filter::Kind::Compare(proto::Comparison {
            column: "region".into(),
            op: proto::CompareOp::Eq as i32,
            value: Some(proto::Literal {
                value: Some(proto::literal::Value::StringValue(region.into())),
            }),
        })),
    })
}

/// Runs a 4-split Select of `region = 'east'` to the end; its query id and rows.
async fn select_east(server: &TestServer) -> (String, u64) {
    let response = server
        .query()
        .await
        .select(proto::SelectRequest {
            table: sensors(),
            columns: vec!["sensor_id".into()],
            filter: filter_region("east"),
            hints: Some(proto::QueryHints {
                num_splits: 4,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let query_id = crate::harness::query_id(&response);
    let (_, batches, _) = crate::referee::decode_chunks(response.into_inner())
        .await
        .unwrap();
    (query_id, batches.iter().map(|b| b.num_rows() as u64).sum())
}

#[tokio::test]
async fn get_query_shows_every_split_and_its_rows_add_up_to_the_answer() {
    for (backend, server, emulators) in TestServer::on_both_backends("").await {
        let configured: Vec<&str> = emulators.iter().map(|e| e.url.as_str()).collect();
        let (query_id, rows) = select_east(&server).await;
        assert_eq!(
            rows,
            duckdb_count("sensors", "region = 'east'"),
            "{backend}"
        );

        let query = server
            .admin()
            .await
            .get_query(proto::GetQueryRequest {
                query_id: query_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .query
            .unwrap();
        assert_eq!(
            (query.state.as_str(), query.phase.as_str()),
            ("ok", "ok"),
            "{backend}"
        );
        assert_eq!((query.splits, query.splits_done), (4, 4), "{backend}");
        assert_eq!(query.split_details.len(), 4, "{backend}: {query:?}");
        let split_rows: u64 = query.split_details.iter().map(|s| s.rows).sum();
        assert_eq!(
            split_rows, rows,
            "{backend}: rows per split add up to the answer"
        );
        assert_eq!(query.rows_scanned, rows, "{backend}");
        for split in &query.split_details {
            assert_eq!(split.state, "done", "{backend}: {split:?}");
            assert!(split.pages > 0 || split.rows == 0, "{backend}: {split:?}");
            if backend == "vast" {
                assert!(!split.endpoints.is_empty(), "{split:?}");
                for endpoint in &split.endpoints {
                    assert!(
                        configured.contains(&endpoint.as_str()),
                        "{endpoint} not configured"
                    );
                }
            } else {
                assert!(split.endpoints.is_empty(), "{split:?}");
            }
        }
        // Lists show progress without the per-split records.
        let listed = server
            .admin()
            .await
            .list_queries(proto::ListQueriesRequest { limit: 10 })
            .await
            .unwrap()
            .into_inner();
        let mine = listed
            .recent
            .iter()
            .find(|q| q.query_id == query_id)
            .unwrap();
        assert_eq!(mine.splits_done, 4);
        assert!(mine.split_details.is_empty());

        let missing = server
            .admin()
            .await
            .get_query(proto::GetQueryRequest {
                query_id: "no-such-query".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound, "{backend}");
    }
}

#[tokio::test]
async fn watch_query_follows_a_slow_scan_split_by_split_to_its_end() {
    // Every emulator answer waits 40 ms and splits read small pages: the scan takes a while.
    let faults = FaultConfig {
        latency_ms: 40,
        ..Default::default()
    };
    let emulator = Emulator::with_faults(data_dir(), faults).await;
    let server = TestServer::with_vast(
        &[&emulator.url],
        "[exec]\nsplit_concurrency = 2\nlimit_rows_per_sub_split = 8192\n",
    )
    .await;
    let scan = {
        let mut query = server.query().await;
        tokio::spawn(async move {
            let response = query
                .select(proto::SelectRequest {
                    table: sensors(),
                    columns: vec!["sensor_id".into()],
                    filter: filter_region("east"),
                    hints: Some(proto::QueryHints {
                        num_splits: 6,
                        num_sub_splits: 1,
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .unwrap();
            let (_, batches, _) = crate::referee::decode_chunks(response.into_inner())
                .await
                .unwrap();
            batches.iter().map(|b| b.num_rows() as u64).sum::<u64>()
        })
    };
    let mut admin = server.admin().await;
    let query_id = running_select(&mut admin).await;
    let mut watch = admin
        .watch_query(proto::WatchQueryRequest {
            query_id,
            interval_ms: 20,
        })
        .await
        .unwrap()
        .into_inner();
    let mut snapshots = Vec::new();
    while let Some(snapshot) = watch.next().await {
        snapshots.push(snapshot.unwrap().query.unwrap());
    }
    let rows = scan.await.unwrap();

    assert!(snapshots.len() >= 3, "{} snapshots", snapshots.len());
    let done: Vec<u32> = snapshots.iter().map(|q| q.splits_done).collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    assert!(
        snapshots
            .iter()
            .any(|q| q.phase == "scanning" && q.split_details.iter().any(|s| s.state == "running")),
        "no snapshot caught a split running"
    );
    let last = snapshots.last().unwrap();
    assert_eq!(last.state, "ok");
    assert_eq!((last.splits, last.splits_done), (6, 6));
    assert_eq!(last.split_details.iter().map(|s| s.rows).sum::<u64>(), rows);
    assert_eq!(rows, duckdb_count("sensors", "region = 'east'"));
    for split in &last.split_details {
        assert_eq!(split.endpoints, vec![emulator.url.clone()], "{split:?}");
        assert!(split.backend_wait_ms > 0.0, "{split:?}");
    }
}

/// The id of the Select that `admin`'s server runs, once it is listed.
pub(crate) async fn running_select(
    admin: &mut proto::admin_service_client::AdminServiceClient<tonic::transport::Channel>,
) -> String {
    loop {
        let listed = admin
            .list_queries(proto::ListQueriesRequest { limit: 10 })
            .await
            .unwrap()
            .into_inner();
        if let Some(q) = listed.running.iter().find(|q| q.method == "Select") {
            return q.query_id.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn watch_query_and_the_status_page_follow_a_local_scan_held_by_its_reader() {
    // 4 splits of the local table, every column (tens of MB); the client reads one chunk and
    // then nothing: the bounded channels and flow control hold the scan until it reads on.
    let server = TestServer::with_config("[exec]\nrows_per_split = 150000\n").await;
    let response = server
        .query()
        .await
        .select(proto::SelectRequest {
            table: sensors(),
            ..Default::default()
        })
        .await
        .unwrap();
    let query_id = crate::harness::query_id(&response);
    let mut chunks = response.into_inner();
    let first = chunks.next().await.unwrap().unwrap();

    let mut admin = server.admin().await;
    let mut watch = admin
        .watch_query(proto::WatchQueryRequest {
            query_id: query_id.clone(),
            interval_ms: 20,
        })
        .await
        .unwrap()
        .into_inner();
    let running = watch.next().await.unwrap().unwrap().query.unwrap();
    assert_eq!(running.state, "running");
    assert_eq!(running.splits, 4, "600,000 rows / 150,000");
    assert_eq!(running.split_details.len(), 4);
    assert!(running.splits_done < 4, "{running:?}");

    // The status page lists it, server-rendered, with a cell per split.
    let (status, page) = crate::http::get(server.http, "/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("data-query-id=\"{query_id}\"")),
        "{page}"
    );
    assert_eq!(page.matches("class=\"split ").count(), 4, "{page}");

    // Read on: the watch follows the scan to its end, the splits' rows add up to the answer.
    let mut chunk_bytes = vec![first];
    while let Some(chunk) = chunks.next().await {
        chunk_bytes.push(chunk.unwrap());
    }
    let rows = crate::referee::ipc_rows(chunk_bytes);
    let mut last = running;
    while let Some(snapshot) = watch.next().await {
        last = snapshot.unwrap().query.unwrap();
    }
    assert_eq!((last.state.as_str(), last.splits_done), ("ok", 4));
    assert_eq!(rows, duckdb_count("sensors", "true"));
    assert_eq!(last.split_details.iter().map(|s| s.rows).sum::<u64>(), rows);
    assert!(
        last.split_details.iter().all(|s| s.endpoints.is_empty()),
        "local: no endpoints"
    );
}
