//! WindowAggregate: the cached bucket holds whole request buckets (a whole number of
//! intervals), and a request bucket's values depend only on its own rows. So a bucket's
//! state is its final values, merging is putting rows side by side, and every function —
//! p50/p95/p99 included — is cached exactly.

use arrow::{array::RecordBatch, datatypes::Schema};

use super::{Incremental, StatePlan, bucket_of, merge};
use crate::{
    analytics::{
        self, AnalyticsError,
        columns::Columns,
        window::{aggregates, interval_micros, outputs, value_list},
    },
    proto,
};

impl Incremental for proto::WindowAggregateRequest {
    fn time_column(&self) -> Option<&str> {
        Some(&self.time_column)
    }

    fn state_plan(
        &self,
        schema: &Schema,
        time_column: &str,
        bucket: i64,
    ) -> Result<Option<StatePlan>, AnalyticsError> {
        let interval = interval_micros(self)?;
        let outputs = outputs(self)?;
        let mut columns = Columns::new(schema);
        let groups = columns.groups(&self.group_by)?;
        let time = columns.time("time_column", time_column)?;
        for column in &self.value_columns {
            columns.numeric("value_columns", column)?;
        }
        let aggregates = aggregates(&outputs)?;
        let values = value_list(self);
        let sql = format!(
            "SELECT {g_raw}{g_text}__k, __k * {interval} AS __b, count(*) AS __rows, {aggregates} \
             FROM (SELECT {g}{bucket_of} AS __k{values} \
                   FROM (SELECT *, {time} AS __tu FROM t) WHERE __tu IS NOT NULL) \
             GROUP BY {g}__k",
            g_raw = groups.select_raw(),
            g_text = groups.select_text(),
            g = groups.list_comma(),
            bucket_of = bucket_of(interval),
            aggregates = aggregates.join(", "),
        );
        let steps = (bucket + interval - 1) / interval;
        Ok(Some(StatePlan::new(interval, steps, columns, sql)))
    }

    fn finish(&self, states: &[RecordBatch]) -> Result<Self::Response, AnalyticsError> {
        match merge::sorted_by_group(states, self.group_by.len(), "__k")? {
            Some(sorted) => analytics::window::decode(&[sorted], self),
            None => analytics::window::decode(&[], self),
        }
    }

    fn answer_rows(response: &Self::Response) -> usize {
        response.buckets.len()
    }
}
