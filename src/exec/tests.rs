use std::{sync::Arc, time::Duration};

use arrow::array::{Array, Int64Array};
use futures::StreamExt;

use super::*;
use crate::backend::{ScanRequest, TableMeta, testing::MemoryBackend};

fn plan(backend: &MemoryBackend, splits: u32) -> ScanPlan {
    let meta = TableMeta {
        schema: backend.batches[0].schema(),
        num_rows: 0,
        size_bytes: 0,
        num_row_groups: backend.batches.len() as u64,
        int_ranges: Default::default(),
    };
    ScanPlan {
        table: MemoryBackend::table(),
        output_schema: Arc::clone(&meta.schema),
        choices: Arc::new(crate::plan::PlanChoices::given(splits, &meta)),
        meta,
        request: ScanRequest {
            projection: None,
            predicate: None,
            num_sub_splits: 1,
            limit_rows_per_sub_split: 1,
            priority: 0,
            dictionary_columns: Vec::new(),
            endpoints: crate::backend::EndpointLog::default(),
        },
        num_splits: splits,
    }
}

fn config() -> ExecConfig {
    ExecConfig {
        split_concurrency: 3,
        channel_capacity: 2,
        ..Default::default()
    }
}

async fn collect_values(stream: BatchStream) -> Result<Vec<i64>, ExecError> {
    let batches: Vec<_> = stream.collect().await;
    let mut out = Vec::new();
    for batch in batches {
        let batch = batch?;
        let col = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        out.extend(col.values().iter().copied());
    }
    out.sort_unstable();
    Ok(out)
}

#[tokio::test]
async fn every_row_once_across_splits() {
    let backend = MemoryBackend::counting(10, 7);
    let plan = plan(&backend, 4);
    let exec = Executor::new(Arc::new(backend), config());
    let stats = Arc::new(ScanStats::default());
    let values = collect_values(exec.execute(plan, CancellationToken::new(), Arc::clone(&stats)))
        .await
        .unwrap();
    assert_eq!(values, (0..70).collect::<Vec<_>>());
    assert_eq!(stats.rows.load(Ordering::Relaxed), 70);
    assert_eq!(stats.splits_done.load(Ordering::Relaxed), 4);
}

#[tokio::test]
async fn retryable_failure_before_first_batch_is_retried() {
    let backend = MemoryBackend {
        fail_first_scans: 2,
        ..MemoryBackend::counting(4, 5)
    };
    let plan = plan(&backend, 1);
    let exec = Executor::new(Arc::new(backend), config());
    let stats = Arc::new(ScanStats::default());
    let values = collect_values(exec.execute(plan, CancellationToken::new(), Arc::clone(&stats)))
        .await
        .unwrap();
    assert_eq!(values, (0..20).collect::<Vec<_>>());
    assert_eq!(stats.retries.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn attempts_run_out_with_the_backend_error() {
    let backend = MemoryBackend {
        fail_first_scans: 10,
        ..MemoryBackend::counting(4, 5)
    };
    let plan = plan(&backend, 1);
    let exec = Executor::new(Arc::new(backend), config());
    let err = collect_values(exec.execute(plan, CancellationToken::new(), Default::default()))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("split 0/1 of mem.t") && text.contains("injected failure"),
        "{text}"
    );
}

#[tokio::test]
async fn cancel_stops_the_scan() {
    let backend = MemoryBackend {
        delay: Some(Duration::from_millis(50)),
        ..MemoryBackend::counting(100, 1)
    };
    let plan = plan(&backend, 2);
    let exec = Executor::new(Arc::new(backend), config());
    let cancel = CancellationToken::new();
    let mut stream = exec.execute(plan, cancel.clone(), Default::default());
    assert!(stream.next().await.unwrap().is_ok());
    cancel.cancel();
    let mut saw_cancel = false;
    while let Some(item) = stream.next().await {
        if matches!(item, Err(ExecError::Cancelled)) {
            saw_cancel = true;
        }
    }
    assert!(saw_cancel);
}

#[tokio::test]
async fn dropping_the_stream_stops_the_splits() {
    let backend = Arc::new(MemoryBackend {
        delay: Some(Duration::from_millis(10)),
        ..MemoryBackend::counting(50, 1)
    });
    let plan = plan(&backend, 1);
    let exec = Executor::new(Arc::clone(&backend) as Arc<dyn Backend>, config());
    let stats = Arc::new(ScanStats::default());
    let mut stream = exec.execute(plan, CancellationToken::new(), Arc::clone(&stats));
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.column(0).len(), 1);
    drop(stream);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let delivered = stats.rows.load(Ordering::Relaxed);
    assert!(
        delivered < 10,
        "the scan kept going after the consumer left: {delivered} rows"
    );
}
