//! The embedded default backend: a folder of Parquet files.
//!
//! `DATA/<schema>/<table>.parquet` or `DATA/<schema>/<table>/*.parquet`. A table's row groups,
//! across its files in name order, are numbered globally; split `i` of `n` reads a contiguous,
//! disjoint range of them. Row groups whose statistics prove the filter false are skipped, then
//! the filter is applied exactly to each batch and the kept rows are gathered into full
//! batches.

mod files;
mod gather;
mod prune;
mod scan;

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;

use crate::predicate::Predicate;

use super::{
    Backend, BackendError, DataVersion, FilterReport, ScanRequest, Split, SplitStream, TableMeta,
    TableRef, TableSummary,
};

pub use files::{RowGroupSlice, TableFiles};

/// A folder of Parquet tables.
#[derive(Debug)]
pub struct LocalBackend {
    root: PathBuf,
    batch_rows: usize,
    footers: files::FooterCache,
}

impl LocalBackend {
    /// Serves `root`; `batch_rows` is the size of record batches read from Parquet.
    pub fn new(root: impl Into<PathBuf>, batch_rows: usize) -> Self {
        Self {
            root: root.into(),
            batch_rows: batch_rows.max(1),
            footers: files::FooterCache::default(),
        }
    }

    /// The data folder.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The files and footers of a table (cached).
    pub async fn table_files(&self, table: &TableRef) -> Result<Arc<TableFiles>, BackendError> {
        let root = self.root.clone();
        let table = table.clone();
        let footers = self.footers.clone();
        tokio::task::spawn_blocking(move || files::open_table(&root, &table, &footers))
            .await
            .map_err(|e| BackendError::Unavailable {
                endpoint: "local".to_owned(),
                message: format!("metadata task failed: {e}"),
            })?
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn list_schemas(&self, _bucket: &str) -> Result<Vec<String>, BackendError> {
        let root = self.root.clone();
        blocking(move || files::list_schemas(&root)).await
    }

    async fn list_tables(
        &self,
        bucket: &str,
        schema: &str,
    ) -> Result<Vec<TableSummary>, BackendError> {
        let names = {
            let root = self.root.clone();
            let schema = schema.to_owned();
            blocking(move || files::list_table_names(&root, &schema)).await?
        };
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let table = TableRef {
                bucket: bucket.to_owned(),
                schema: schema.to_owned(),
                table: name,
            };
            let files = self.table_files(&table).await?;
            out.push(TableSummary {
                table,
                num_rows: files.num_rows(),
                size_bytes: files.size_bytes(),
            });
        }
        Ok(out)
    }

    async fn describe(&self, table: &TableRef) -> Result<TableMeta, BackendError> {
        let files = self.table_files(table).await?;
        // Every row group's statistics of every file: off the async workers.
        let ranges = {
            let files = Arc::clone(&files);
            blocking(move || Ok(files.int_ranges())).await?
        };
        Ok(TableMeta {
            schema: Arc::clone(files.schema()),
            num_rows: files.num_rows(),
            size_bytes: files.size_bytes(),
            num_row_groups: files.row_groups().len() as u64,
            int_ranges: ranges,
        })
    }

    async fn data_version(
        &self,
        table: &TableRef,
        time_column: &str,
    ) -> Result<Option<DataVersion>, BackendError> {
        let (root, footers) = (self.root.clone(), self.footers.clone());
        let (table, column) = (table.clone(), time_column.to_owned());
        blocking(move || files::data_version(&root, &table, &footers, &column).map(Some)).await
    }

    async fn filter_report(
        &self,
        table: &TableRef,
        meta: &TableMeta,
        predicate: Option<&Predicate>,
    ) -> Result<FilterReport, BackendError> {
        let Some(predicate) = predicate.cloned() else {
            return Ok(FilterReport::unpruned(meta, None));
        };
        let files = self.table_files(table).await?;
        let mut report = FilterReport::unpruned(meta, Some(&predicate));
        let (kept, rows) = blocking(move || Ok(files.kept_row_groups(Some(&predicate)))).await?;
        report.row_groups_kept = kept.len() as u64;
        report.rows_kept = rows;
        Ok(report)
    }

    fn scan(
        &self,
        table: &TableRef,
        _meta: &TableMeta,
        req: &ScanRequest,
        split: Split,
    ) -> SplitStream {
        scan::scan(
            self.root.clone(),
            self.footers.clone(),
            table.clone(),
            req.clone(),
            split,
            self.batch_rows,
        )
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BackendError> + Send + 'static,
) -> Result<T, BackendError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BackendError::Unavailable {
            endpoint: "local".to_owned(),
            message: format!("blocking task failed: {e}"),
        })?
}

#[cfg(test)]
mod tests;
