//! Correlation: per (group, bucket) and per pair of columns, the co-moments of the pair
//! ([`CoMoments`], as Trend's), merged pairwise; r = Σ(x−x̄)(y−ȳ) / √(Σ(x−x̄)² Σ(y−ȳ)²).

use std::sync::Arc;

use arrow::{
    array::{ArrayRef, Float64Array, Int64Array, RecordBatch},
    datatypes::Schema,
};

use super::{
    Incremental, StatePlan, bucket_of, merge,
    trend::{CoMomentColumns, CoMoments},
};
use crate::{
    analytics::{
        self, AnalyticsError,
        columns::{Columns, invalid},
        correlation::pairs,
        decode::Rows,
    },
    engine::quote_ident,
    proto,
};

/// Most columns whose pairs are cached (6 state columns per pair); more are answered uncached.
const MAX_CACHED_COLUMNS: usize = 16;

impl Incremental for proto::CorrelationRequest {
    fn time_column(&self) -> Option<&str> {
        None
    }

    fn state_plan(
        &self,
        schema: &Schema,
        time_column: &str,
        bucket: i64,
    ) -> Result<Option<StatePlan>, AnalyticsError> {
        if self.columns.len() < 2 {
            return Err(invalid("columns must name two or more numeric columns"));
        }
        if self.columns.len() > MAX_CACHED_COLUMNS {
            return Ok(None);
        }
        let mut columns = Columns::new(schema);
        let groups = columns.groups(&self.group_by)?;
        let time = columns.time("filter", time_column)?;
        for (i, name) in self.columns.iter().enumerate() {
            columns.numeric("columns", name)?;
            if self.columns[..i].contains(name) {
                return Err(invalid(format!("columns: `{name}` is listed twice")));
            }
        }
        let values: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, name)| format!("CAST({} AS DOUBLE) AS __c{i}", quote_ident(name)))
            .collect();
        let moments: Vec<String> = pairs(self.columns.len())
            .enumerate()
            .map(|(k, (i, j))| {
                CoMoments::sql(&format!("__c{j}"), &format!("__c{i}"), &format!("__p{k}_"))
            })
            .collect();
        let sql = format!(
            "SELECT {g_raw}{g_text}__k, count(*) AS __rows, {moments} \
             FROM (SELECT {g}{values}, {bucket_of} AS __k \
                   FROM (SELECT *, {time} AS __tu FROM t)) \
             GROUP BY {g}__k",
            g_raw = groups.select_raw(),
            g_text = groups.select_text(),
            g = groups.list_comma(),
            values = values.join(", "),
            moments = moments.join(", "),
            bucket_of = bucket_of(bucket),
        );
        Ok(Some(StatePlan::new(bucket, 1, columns, sql)))
    }

    fn finish(&self, states: &[RecordBatch]) -> Result<Self::Response, AnalyticsError> {
        let groups = self.group_by.len();
        let count = pairs(self.columns.len()).count();
        let columns = |rows: &Rows<'_>| {
            (0..count)
                .map(|k| CoMoments::columns(rows, &format!("__p{k}_")))
                .collect::<Result<Vec<_>, _>>()
        };
        let merged = merge::by_group(
            states,
            groups,
            columns,
            |acc: &mut Vec<CoMoments>, columns: &Vec<CoMomentColumns>, row| {
                acc.resize(count, CoMoments::default());
                for (moments, pair) in acc.iter_mut().zip(columns) {
                    *moments = moments.merge(pair.read(row));
                }
                Ok(())
            },
        )?;
        let texts: Vec<&[Option<String>]> = merged.iter().map(|m| m.text.as_slice()).collect();
        let mut columns: Vec<(String, ArrayRef)> = Vec::new();
        for k in 0..count {
            let moments =
                |m: &merge::Merged<Vec<CoMoments>>| m.state.get(k).copied().unwrap_or_default();
            let r: Float64Array = merged.iter().map(|m| moments(m).correlation()).collect();
            let n: Int64Array = merged.iter().map(|m| Some(moments(m).n as i64)).collect();
            columns.push((format!("__r{k}"), Arc::new(r)));
            columns.push((format!("__n{k}"), Arc::new(n)));
        }
        let columns = columns
            .iter()
            .map(|(name, a)| (name.as_str(), Arc::clone(a)))
            .collect();
        let batch = merge::text_batch(groups, &texts, columns)?;
        analytics::correlation::decode(&[batch], self)
    }

    fn answer_rows(response: &Self::Response) -> usize {
        response.pairs.len()
    }
}
