//! Gathering the rows a filter keeps into full batches. A selective filter leaves a few rows of
//! every read batch (`sensor_id = 3`: 1 in 20); sent as they are, every consumer pays its
//! per-batch costs (channel hops, DuckDB's Arrow scan, IPC messages) on slivers. The kept rows
//! are copied once, straight into batches of the read size, and sent when one is full — or
//! after [`READ_BATCHES_PER_SEND`] read batches, so that a very selective filter still
//! delivers its first rows early.

use arrow::{
    array::{BooleanArray, RecordBatch},
    compute::BatchCoalescer,
    datatypes::SchemaRef,
    error::ArrowError,
};

/// At most this many read batches pass between two sends while kept rows wait.
pub(super) const READ_BATCHES_PER_SEND: usize = 8;

/// Collects the kept rows of read batches into batches of `batch_rows`.
pub(super) struct Gatherer {
    coalescer: BatchCoalescer,
    /// Rows read since a batch last went out.
    rows_read: usize,
    /// Rows read after which waiting kept rows go out in a short batch.
    send_after_rows_read: usize,
}

impl Gatherer {
    /// A gatherer for batches of `schema`, sending batches of up to `batch_rows` rows.
    pub(super) fn new(schema: SchemaRef, batch_rows: usize) -> Self {
        let batch_rows = batch_rows.max(1);
        Self {
            coalescer: BatchCoalescer::new(schema, batch_rows),
            rows_read: 0,
            send_after_rows_read: batch_rows.saturating_mul(READ_BATCHES_PER_SEND),
        }
    }

    /// Keeps the rows of `batch` where `keep` is true (NULL counts as false) and returns the
    /// batches now ready to send, in row order.
    pub(super) fn push(
        &mut self,
        batch: RecordBatch,
        keep: &BooleanArray,
    ) -> Result<Vec<RecordBatch>, ArrowError> {
        self.rows_read += batch.num_rows();
        self.coalescer.push_batch_with_filter(batch, keep)?;
        if !self.coalescer.has_completed_batch()
            && self.rows_read >= self.send_after_rows_read
            && self.coalescer.get_buffered_rows() > 0
        {
            self.coalescer.finish_buffered_batch()?;
        }
        Ok(self.ready())
    }

    /// The kept rows still waiting, as the last batches.
    pub(super) fn finish(&mut self) -> Result<Vec<RecordBatch>, ArrowError> {
        self.coalescer.finish_buffered_batch()?;
        Ok(self.ready())
    }

    fn ready(&mut self) -> Vec<RecordBatch> {
        let mut ready = Vec::new();
        while let Some(batch) = self.coalescer.next_completed_batch() {
            ready.push(batch);
        }
        if !ready.is_empty() {
            self.rows_read = 0;
        }
        ready
    }
}

#[cfg(test)]
mod tests;
