//! Reading one split of a local table: a disjoint range of row groups, pruned (row groups by
//! their statistics, then pages by the page index), filtered exactly, projected, the kept rows
//! gathered into full batches, streamed through a small bounded channel from a blocking thread.

use std::{fs::File, path::PathBuf, sync::Arc};

use arrow::{
    datatypes::{DataType, FieldRef, Schema, SchemaRef},
    record_batch::RecordBatch,
};
use futures::StreamExt;
use parquet::arrow::{
    ProjectionMask,
    arrow_reader::{
        ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
        RowSelector,
    },
};
use tokio::sync::mpsc;

use super::{files, gather::Gatherer, prune};
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
    let dictionaries = DictionaryColumns::new(files.schema(), request);
    let output = Output::new(&dictionaries.schema, request)?;
    let mut gatherer = Gatherer::new(Arc::clone(&output.schema), batch_rows);
    let (kept, _) = files.kept_row_groups(request.predicate.as_ref());
    let (start, end) = split_range(kept.len(), split);
    let mine = &kept[start..end];

    // Row groups of this split, grouped by file (the global order keeps files contiguous).
    let mut by_file: Vec<(usize, Vec<usize>)> = Vec::new();
    for rg in mine {
        match by_file.last_mut() {
            Some((file, groups)) if *file == rg.file => groups.push(rg.row_group),
            _ => by_file.push((rg.file, vec![rg.row_group])),
        }
    }

    for (file_index, keep) in by_file {
        let info = &files.files[file_index];
        let location = || info.path.display().to_string();
        let file = File::open(&info.path).map_err(|e| BackendError::Unavailable {
            endpoint: location(),
            message: e.to_string(),
        })?;
        let mask =
            ProjectionMask::roots(info.metadata.parquet_schema(), output.read_columns.clone());
        let metadata =
            dictionaries
                .reader_metadata(&info.metadata)
                .map_err(|e| BackendError::Data {
                    location: location(),
                    message: format!("reading string columns as dictionaries: {e}"),
                })?;
        let (keep, rows) = rows_to_read(request, &info.metadata, keep);
        if keep.is_empty() {
            continue;
        }
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata)
            .with_projection(mask)
            .with_row_groups(keep)
            .with_batch_size(batch_rows);
        if let Some(rows) = rows {
            builder = builder.with_row_selection(rows);
        }
        let reader = builder.build().map_err(|e| BackendError::Data {
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
            let ready = match &request.predicate {
                Some(predicate) => predicate::evaluate(predicate, &batch)
                    .and_then(|keep| gatherer.push(output.project(batch)?, &keep)),
                None => output.project(batch).map(|batch| vec![batch]),
            }
            .map_err(|e| BackendError::Data {
                location: location(),
                message: format!("applying the filter: {e}"),
            })?;
            if !send_all(tx, ready) {
                return Ok(()); // the consumer is gone: stop reading
            }
        }
    }
    let rest = gatherer.finish().map_err(|e| BackendError::Data {
        location: table.to_string(),
        message: format!("gathering the filtered rows: {e}"),
    })?;
    // Whether the consumer is still there no longer matters: nothing is left to read.
    send_all(tx, rest);
    Ok(())
}

/// The row groups to read and, when the page index rules out pages of them, the rows to read
/// across those row groups (a selection spans the kept row groups back to back).
fn rows_to_read(
    request: &ScanRequest,
    metadata: &ArrowReaderMetadata,
    row_groups: Vec<usize>,
) -> (Vec<usize>, Option<RowSelection>) {
    let mut kept = Vec::with_capacity(row_groups.len());
    let mut selectors = Vec::new();
    let mut narrowed = false;
    for row_group in row_groups {
        let rows = metadata.metadata().row_group(row_group).num_rows().max(0) as usize;
        match prune::rows_to_read(request.predicate.as_ref(), metadata, row_group) {
            Some(selection) if !selection.selects_any() => narrowed = true,
            Some(selection) => {
                narrowed = true;
                kept.push(row_group);
                selectors.extend(selection.iter().copied());
            }
            None => {
                kept.push(row_group);
                selectors.push(RowSelector::select(rows));
            }
        }
    }
    let selection = narrowed.then(|| RowSelection::from(selectors));
    (kept, selection)
}

/// Sends `batches` in order; false once the consumer is gone.
fn send_all(
    tx: &mpsc::Sender<Result<RecordBatch, BackendError>>,
    batches: Vec<RecordBatch>,
) -> bool {
    batches
        .into_iter()
        .all(|batch| tx.blocking_send(Ok(batch)).is_ok())
}

/// The string columns read as `Dictionary(Int32, Utf8)` ([`ScanRequest::dictionary_columns`]):
/// the Parquet reader then hands over each page's dictionary and the keys instead of
/// rebuilding every string. Not the filter's columns, which the predicate reads as strings.
struct DictionaryColumns {
    /// The table schema with those columns as dictionaries.
    schema: SchemaRef,
    any: bool,
}

impl DictionaryColumns {
    fn new(table: &SchemaRef, request: &ScanRequest) -> Self {
        let filtered: Vec<&str> = request
            .predicate
            .as_ref()
            .map(|p| p.columns())
            .unwrap_or_default();
        let mut any = false;
        let fields: Vec<FieldRef> = table
            .fields()
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let wanted = request.dictionary_columns.contains(&i)
                    && field.data_type() == &DataType::Utf8
                    && !filtered.contains(&field.name().as_str());
                if wanted {
                    any = true;
                    let dictionary =
                        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                    Arc::new(field.as_ref().clone().with_data_type(dictionary))
                } else {
                    Arc::clone(field)
                }
            })
            .collect();
        Self {
            schema: Arc::new(Schema::new_with_metadata(fields, table.metadata().clone())),
            any,
        }
    }

    /// A file's footer with the Arrow schema asking for those dictionaries.
    fn reader_metadata(
        &self,
        metadata: &ArrowReaderMetadata,
    ) -> Result<ArrowReaderMetadata, parquet::errors::ParquetError> {
        if !self.any {
            return Ok(metadata.clone());
        }
        ArrowReaderMetadata::try_new(
            Arc::clone(metadata.metadata()),
            ArrowReaderOptions::new().with_schema(Arc::clone(&self.schema)),
        )
    }
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

    fn project(&self, batch: RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
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
