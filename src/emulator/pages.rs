//! Reading one page of one sub-split from Parquet, filtered exactly.
//!
//! Row ids are global row indexes. The table is cut into units of [`UNIT_ROWS`] rows (a VAST
//! row group); unit `u` belongs to split `(u / rgps) % num_splits` and, inside it, to sub-split
//! `(u / (rgps * num_splits)) % num_sub_splits`. A page holds at most `limit` matching rows;
//! its `next_row_id` is the first row not yet examined, or [`INVALID_ROW_ID`] when the
//! sub-split is exhausted.

use std::{fs::File, sync::Arc};

use arrow::{
    array::{Array, BooleanArray},
    compute::{concat_batches, filter_record_batch},
    datatypes::SchemaRef,
    record_batch::RecordBatch,
};
use parquet::arrow::{
    ProjectionMask,
    arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector},
};

use crate::{
    backend::local::RowGroupSlice,
    predicate::{Predicate, evaluate},
    vast_protocol::frames::INVALID_ROW_ID,
};

/// Rows of one unit of split assignment (a VAST row group).
pub(super) const UNIT_ROWS: u64 = 65_536;

/// Rows decoded per Parquet read batch.
const READ_BATCH: usize = 8_192;

/// How a request cuts the table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    pub(super) split: u64,
    pub(super) num_splits: u64,
    pub(super) rgps: u64,
    pub(super) num_sub_splits: u64,
}

impl Layout {
    /// Row ranges `[start, end)` of sub-split `sub`, in row order.
    pub(super) fn ranges(&self, sub: u64, total_rows: u64) -> Vec<(u64, u64)> {
        let units = total_rows.div_ceil(UNIT_ROWS);
        let (rgps, splits, subs) = (
            self.rgps.max(1),
            self.num_splits.max(1),
            self.num_sub_splits.max(1),
        );
        let mut out: Vec<(u64, u64)> = Vec::new();
        for u in 0..units {
            let block = u / rgps;
            if block % splits != self.split || (block / splits) % subs != sub {
                continue;
            }
            let (start, end) = (u * UNIT_ROWS, ((u + 1) * UNIT_ROWS).min(total_rows));
            match out.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => out.push((start, end)),
            }
        }
        out
    }
}

/// What to read: the table's row groups, the columns and the filter.
#[derive(Debug)]
pub(super) struct Reader {
    pub(super) slices: Vec<RowGroupSlice>,
    /// Root column indexes read from the files (projection and filter columns), ascending.
    pub(super) read_columns: Vec<usize>,
    /// Indexes into the read batch of the output columns, in output order.
    pub(super) output: Vec<usize>,
    /// The output schema.
    pub(super) output_schema: SchemaRef,
    pub(super) predicate: Option<Predicate>,
}

/// One page: matching rows and the row id to resume from.
#[derive(Debug)]
pub(super) struct Page {
    pub(super) batch: RecordBatch,
    pub(super) next_row_id: u64,
}

impl Reader {
    /// Total rows of the table.
    pub(super) fn total_rows(&self) -> u64 {
        self.slices.last().map_or(0, |s| s.first_row + s.num_rows)
    }

    /// Reads rows `[start, end)` in batches of the read columns.
    fn read_range(
        &self,
        start: u64,
        end: u64,
        mut each: impl FnMut(u64, RecordBatch) -> Result<bool, String>,
    ) -> Result<bool, String> {
        for slice in &self.slices {
            let (s0, s1) = (slice.first_row, slice.first_row + slice.num_rows);
            if s1 <= start || s0 >= end {
                continue;
            }
            // Like VAST, skip what the statistics prove empty: those rows count as examined.
            for (r0, r1) in slice.rows_that_may_match(self.predicate.as_ref()) {
                let (a, b) = (start.max(s0 + r0), end.min(s0 + r1));
                if a >= b {
                    continue;
                }
                if !self.read_rows(slice, (a - s0, b - s0), &mut each)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Reads rows `[a, b)` of one row group (counted from its first row); false once `each`
    /// asks to stop.
    fn read_rows(
        &self,
        slice: &RowGroupSlice,
        (a, b): (u64, u64),
        each: &mut impl FnMut(u64, RecordBatch) -> Result<bool, String>,
    ) -> Result<bool, String> {
        let file = File::open(&slice.path).map_err(|e| format!("{}: {e}", slice.path.display()))?;
        let mask =
            ProjectionMask::roots(slice.metadata.parquet_schema(), self.read_columns.clone());
        let selection = RowSelection::from(vec![
            RowSelector::skip(a as usize),
            RowSelector::select((b - a) as usize),
        ]);
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, slice.metadata.clone())
                .with_projection(mask)
                .with_row_groups(vec![slice.row_group])
                .with_row_selection(selection)
                .with_batch_size(READ_BATCH)
                .build()
                .map_err(|e| format!("{}: {e}", slice.path.display()))?;
        let mut row = slice.first_row + a;
        for batch in reader {
            let batch = batch.map_err(|e| format!("{}: {e}", slice.path.display()))?;
            let n = batch.num_rows() as u64;
            if !each(row, batch)? {
                return Ok(false);
            }
            row += n;
        }
        Ok(true)
    }

    /// The next page of sub-split `sub` from `start_row_id`, at most `limit` rows.
    pub(super) fn page(
        &self,
        layout: &Layout,
        sub: u64,
        start_row_id: u64,
        limit: u64,
    ) -> Result<Page, String> {
        let limit = if limit == 0 { u64::MAX } else { limit };
        let mut parts: Vec<RecordBatch> = Vec::new();
        let mut taken = 0u64;
        let mut next_row_id = INVALID_ROW_ID;
        for (start, end) in layout.ranges(sub, self.total_rows()) {
            if end <= start_row_id {
                continue;
            }
            let finished = self.read_range(start.max(start_row_id), end, |first_row, batch| {
                let Some(predicate) = &self.predicate else {
                    // No filter: the first rows up to the limit, without copying.
                    let rows = (batch.num_rows() as u64).min(limit - taken);
                    taken += rows;
                    let part = batch.slice(0, rows as usize);
                    parts.push(part.project(&self.output).map_err(|e| e.to_string())?);
                    if taken == limit {
                        next_row_id = first_row + rows;
                        return Ok(false);
                    }
                    return Ok(true);
                };
                let mask = evaluate(predicate, &batch).map_err(|e| format!("filter: {e}"))?;
                let mut keep = Vec::with_capacity(batch.num_rows());
                let mut stop_at = None;
                for i in 0..mask.len() {
                    let hit = mask.is_valid(i) && mask.value(i);
                    keep.push(hit);
                    if hit {
                        taken += 1;
                        if taken == limit {
                            stop_at = Some(i + 1);
                            break;
                        }
                    }
                }
                let rows = keep.len();
                let part = filter_record_batch(&batch.slice(0, rows), &BooleanArray::from(keep))
                    .map_err(|e| e.to_string())?;
                parts.push(part.project(&self.output).map_err(|e| e.to_string())?);
                match stop_at {
                    Some(n) => {
                        next_row_id = first_row + n as u64;
                        Ok(false)
                    }
                    None => Ok(true),
                }
            })?;
            if !finished {
                break;
            }
        }
        // A page that stopped exactly at the sub-split's end still resumes there; the next
        // request then returns an empty page with INVALID_ROW_ID.
        let batch = if parts.is_empty() {
            RecordBatch::new_empty(Arc::clone(&self.output_schema))
        } else {
            let with_schema = parts
                .iter()
                .map(|p| {
                    RecordBatch::try_new_with_options(
                        Arc::clone(&self.output_schema),
                        p.columns().to_vec(),
                        &arrow::record_batch::RecordBatchOptions::new()
                            .with_row_count(Some(p.num_rows())),
                    )
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            concat_batches(&self.output_schema, &with_schema).map_err(|e| e.to_string())?
        };
        Ok(Page { batch, next_row_id })
    }
}

#[cfg(test)]
mod tests;
