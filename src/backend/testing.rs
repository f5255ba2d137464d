//! An in-memory backend for unit tests: one table whose batches are dealt to splits
//! round-robin, with call counting, injected failures and delays.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use arrow::{
    array::Int64Array,
    datatypes::{DataType, Field, Schema},
    record_batch::RecordBatch,
};
use async_trait::async_trait;
use futures::StreamExt;

use super::{
    Backend, BackendError, ScanRequest, Split, SplitStream, TableMeta, TableRef, TableSummary,
};

#[derive(Debug, Default)]
pub(crate) struct MemoryBackend {
    pub(crate) batches: Vec<RecordBatch>,
    pub(crate) describe_calls: AtomicU32,
    pub(crate) scan_calls: AtomicU32,
    /// The first N scans fail with a retryable error before any batch.
    pub(crate) fail_first_scans: u32,
    /// Pause before each batch.
    pub(crate) delay: Option<Duration>,
    /// Pause inside describe.
    pub(crate) describe_delay: Option<Duration>,
}

impl MemoryBackend {
    /// `n` batches of one `x: Int64` column holding `0..rows_per_batch*n`.
    pub(crate) fn counting(n: usize, rows_per_batch: usize) -> Self {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batches = (0..n)
            .map(|b| {
                let start = (b * rows_per_batch) as i64;
                let values: Vec<i64> = (start..start + rows_per_batch as i64).collect();
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![Arc::new(Int64Array::from(values))],
                )
                .unwrap()
            })
            .collect();
        Self {
            batches,
            ..Default::default()
        }
    }

    pub(crate) fn table() -> TableRef {
        TableRef {
            bucket: String::new(),
            schema: "mem".into(),
            table: "t".into(),
        }
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn list_schemas(&self, _bucket: &str) -> Result<Vec<String>, BackendError> {
        Ok(vec!["mem".into()])
    }

    async fn list_tables(&self, _: &str, _: &str) -> Result<Vec<TableSummary>, BackendError> {
        Ok(Vec::new())
    }

    async fn describe(&self, table: &TableRef) -> Result<TableMeta, BackendError> {
        self.describe_calls.fetch_add(1, Ordering::SeqCst);
        if let Some(d) = self.describe_delay {
            tokio::time::sleep(d).await;
        }
        // `t`, and `t2`, `t3`… for tests that need several tables.
        if !table.table.starts_with('t') {
            return Err(BackendError::NotFound {
                what: format!("table `{table}`"),
            });
        }
        Ok(TableMeta {
            schema: self.batches[0].schema(),
            num_rows: self.batches.iter().map(|b| b.num_rows() as u64).sum(),
            size_bytes: 0,
            num_row_groups: self.batches.len() as u64,
            int_ranges: Default::default(),
        })
    }

    fn scan(&self, _: &TableRef, _: &TableMeta, _: &ScanRequest, split: Split) -> SplitStream {
        let call = self.scan_calls.fetch_add(1, Ordering::SeqCst);
        if call < self.fail_first_scans {
            return futures::stream::once(async {
                Err(BackendError::Unavailable {
                    endpoint: "memory".into(),
                    message: "injected failure".into(),
                })
            })
            .boxed();
        }
        let mine: Vec<RecordBatch> = self
            .batches
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u32 % split.count == split.index)
            .map(|(_, b)| b.clone())
            .collect();
        let delay = self.delay;
        futures::stream::iter(mine)
            .then(move |b| async move {
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
                Ok(b)
            })
            .boxed()
    }
}

/// Writes `batch` as table `s.t` under `root` (`s/t.parquet`) in row groups of 100 rows and
/// data pages of 10, with a page index: a small table that statistics prune below the row
/// group. Returns its reference.
pub(crate) fn write_paged_table(root: &std::path::Path, batch: &RecordBatch) -> TableRef {
    use parquet::{arrow::ArrowWriter, file::properties::WriterProperties};
    std::fs::create_dir_all(root.join("s")).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(100))
        .set_data_page_row_count_limit(10)
        .set_write_batch_size(10)
        .build();
    let file = std::fs::File::create(root.join("s/t.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
    TableRef {
        bucket: String::new(),
        schema: "s".into(),
        table: "t".into(),
    }
}
