//! Reading one split of a local table: a disjoint range of row groups, pruned, filtered exactly,
//! projected, streamed through a small bounded channel from a blocking thread.

use std::{fs::File, path::PathBuf, sync::Arc};

use arrow::{compute::filter_record_batch, datatypes::SchemaRef, record_batch::RecordBatch};
use futures::StreamExt;
use parquet::arrow::{ProjectionMask, arrow_reader::ParquetRecordBatchReaderBuilder};
use tokio::sync::mpsc;

use super::{files, prune};
use crate::{
    backend::{BackendError, ScanRequest, Split, SplitStream, TableRef},
    predicate,
};

/// Batches buffered between the reading thread and the executor, per split.
const CHANNEL_CAPACITY: usize = 2;

pub(super) fn scan(
    root: PathBuf,
    footers: files::FooterCache,
    table: TableRef,
    request: ScanRequest,
    split: Split,
    batch_rows: usize,
) -> SplitStream {
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    tokio::task::spawn_blocking(move || {
        if let Err(err) = read_split(&root, &footers, &table, &request, split, batch_rows, &tx) {
            // The receiver may be gone (client left); then nobody needs the error.
            let _ = tx.blocking_send(Err(err));
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
}

/// The row groups `[start, end)` (global numbering) that split `index` of `count` owns.
pub(super) fn split_range(total: usize, split: Split) -> (usize, usize) {
    let count = split.count.max(1) as usize;
    let index = (split.index as usize).min(count);
    (
        total * index / count,
        total * (index + 1).min(count) / count,
    )
}

fn read_split(
    root: &std::path::Path,
    footers: &files::FooterCache,
    table: &TableRef,
    request: &ScanRequest,
    split: Split,
    batch_rows: usize,
    tx: &mpsc::Sender<Result<RecordBatch, BackendError>>,
) -> Result<(), BackendError> {
    let files = files::open_table(root, table, footers)?;
    let schema = files.schema();
    let output = Output::new(schema, request)?;
    let (start, end) = split_range(files.row_groups().len(), split);
    let mine = &files.row_groups()[start..end];

    // Row groups of this split, grouped by file (the global order keeps files contiguous).
    let mut by_file: Vec<(usize, Vec<usize>)> = Vec::new();
    for rg in mine {
        match by_file.last_mut() {
            Some((file, groups)) if *file == rg.file => groups.push(rg.row_group),
            _ => by_file.push((rg.file, vec![rg.row_group])),
        }
    }

    for (file_index, groups) in by_file {
        let info = &files.files[file_index];
        let keep = prune::row_groups_to_read(request.predicate.as_ref(), &info.metadata, &groups);
        if keep.is_empty() {
            continue;
        }
        let location = || info.path.display().to_string();
        let file = File::open(&info.path).map_err(|e| BackendError::Unavailable {
            endpoint: location(),
            message: e.to_string(),
        })?;
        let mask =
            ProjectionMask::roots(info.metadata.parquet_schema(), output.read_columns.clone());
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, info.metadata.clone())
                .with_projection(mask)
                .with_row_groups(keep)
                .with_batch_size(batch_rows)
                .build()
                .map_err(|e| BackendError::Data {
                    location: location(),
                    message: e.to_string(),
                })?;
        for batch in reader {
            // Also when a selective filter sends nothing for a while: stop once nobody reads.
            if tx.is_closed() {
                return Ok(());
            }
            let batch = batch.map_err(|e| BackendError::Data {
                location: location(),
                message: e.to_string(),
            })?;
            let batch = output
                .apply(request, batch)
                .map_err(|e| BackendError::Data {
                    location: location(),
                    message: format!("applying the filter: {e}"),
                })?;
            if batch.num_rows() == 0 {
                continue;
            }
            if tx.blocking_send(Ok(batch)).is_err() {
                return Ok(()); // the consumer is gone: stop reading
            }
        }
    }
    Ok(())
}

/// Which columns to read and how to turn a read batch into an output batch.
struct Output {
    /// Root column indexes read from the file: projection plus filter columns.
    read_columns: Vec<usize>,
    /// Names of the output columns, in output order.
    names: Vec<String>,
    schema: SchemaRef,
}

impl Output {
    fn new(schema: &SchemaRef, request: &ScanRequest) -> Result<Self, BackendError> {
        let projection: Vec<usize> = match &request.projection {
            Some(p) => p.clone(),
            None => (0..schema.fields().len()).collect(),
        };
        let mut read_columns = projection.clone();
        if let Some(predicate) = &request.predicate {
            for column in predicate.columns() {
                let index = schema.index_of(column).map_err(|_| {
                    BackendError::Invalid(format!("filter column `{column}` is not in the table"))
                })?;
                read_columns.push(index);
            }
        }
        read_columns.sort_unstable();
        read_columns.dedup();
        let names = projection
            .iter()
            .map(|&i| {
                schema
                    .fields()
                    .get(i)
                    .map(|f| f.name().clone())
                    .ok_or_else(|| BackendError::Invalid(format!("column index {i} out of range")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out_schema = Arc::new(
            schema
                .project(&projection)
                .map_err(|e| BackendError::Invalid(format!("projection: {e}")))?,
        );
        Ok(Self {
            read_columns,
            names,
            schema: out_schema,
        })
    }

    fn apply(
        &self,
        request: &ScanRequest,
        batch: RecordBatch,
    ) -> Result<RecordBatch, arrow::error::ArrowError> {
        let batch = match &request.predicate {
            Some(p) => filter_record_batch(&batch, &predicate::evaluate(p, &batch)?)?,
            None => batch,
        };
        let columns = self
            .names
            .iter()
            .map(|name| {
                batch.column_by_name(name).cloned().ok_or_else(|| {
                    arrow::error::ArrowError::SchemaError(format!("column `{name}` not read"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )
    }
}
