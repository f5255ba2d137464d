//! Histogram with explicit edges: per (group, bucket) the count of each bin (and of
//! underflow, overflow and NULL); merged by adding the counts of a bin. Equal-width bins
//! depend on each group's min and max over the whole range, so they are answered uncached.

use arrow::{array::RecordBatch, datatypes::Schema};

use super::{Incremental, StatePlan, bucket_of, merge};
use crate::{
    analytics::{
        self, AnalyticsError,
        columns::Columns,
        histogram::{Binning, binning, edges_case},
    },
    engine::quote_ident,
    proto,
};

impl Incremental for proto::HistogramRequest {
    fn time_column(&self) -> Option<&str> {
        None
    }

    fn state_plan(
        &self,
        schema: &Schema,
        time_column: &str,
        bucket: i64,
    ) -> Result<Option<StatePlan>, AnalyticsError> {
        let Binning::Edges(edges) = binning(self)? else {
            return Ok(None);
        };
        let mut columns = Columns::new(schema);
        let groups = columns.groups(&self.group_by)?;
        let time = columns.time("filter", time_column)?;
        columns.numeric("value_column", &self.value_column)?;
        let value = quote_ident(&self.value_column);
        let sql = format!(
            "SELECT {g_raw}{g_text}__k, __idx, count(*) AS __c, count(*) AS __rows \
             FROM (SELECT {g}CAST({case} AS BIGINT) AS __idx, __k \
                   FROM (SELECT {g}CAST({value} AS DOUBLE) AS __v, {bucket_of} AS __k \
                         FROM (SELECT *, {time} AS __tu FROM t))) \
             GROUP BY {g}__k, __idx",
            g_raw = groups.select_raw(),
            g_text = groups.select_text(),
            g = groups.list_comma(),
            case = edges_case(edges),
            bucket_of = bucket_of(bucket),
        );
        Ok(Some(StatePlan::new(bucket, 1, columns, sql)))
    }

    fn finish(&self, states: &[RecordBatch]) -> Result<Self::Response, AnalyticsError> {
        // The decoder adds the counts of a group's rows with the same bin: the state rows
        // only need to come grouped, in result order.
        match merge::sorted_by_group(states, self.group_by.len(), "__idx")? {
            Some(sorted) => analytics::histogram::decode(&[sorted], self),
            None => analytics::histogram::decode(&[], self),
        }
    }

    fn answer_rows(response: &Self::Response) -> usize {
        response.histograms.len()
    }
}
