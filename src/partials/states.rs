//! Per analytic: the query that computes its partial states per (group, time bucket), and
//! the answer merged from the states of every bucket.
//!
//! A state query reads the input `t` and returns, per group and bucket: the group values as
//! they are (`__r0..`, for ordering) and as text (`__g0..`, for the answer), the bucket
//! number `__k`, the rows it stands for `__rows`, and the analytic's state columns.

mod correlation;
mod histogram;
mod merge;
mod top_n;
mod trend;
mod window;

use arrow::{array::RecordBatch, datatypes::Schema};

use crate::{
    analytics::{Analytic, AnalyticPlan, AnalyticsError, columns::Columns},
    engine::EngineQuery,
};

pub(crate) use self::merge::{bucket_numbers, concat};

/// The state query of one request.
#[derive(Debug, Clone)]
pub(crate) struct StatePlan {
    /// Microseconds of one step of `__k`.
    pub(crate) unit: i64,
    /// Steps of `__k` per cached bucket (a cached bucket is `unit × steps` wide).
    pub(crate) steps: i64,
    /// The scan and the state SQL.
    pub(crate) plan: AnalyticPlan,
}

impl StatePlan {
    /// `sql` over the scanned `columns` (group columns as they are), its `__k` in steps of
    /// `unit` µs, `steps` of them per cached bucket.
    fn new(unit: i64, steps: i64, columns: Columns<'_>, sql: String) -> Self {
        let query = EngineQuery::new(sql).reading_input_once();
        Self {
            unit,
            steps: steps.max(1),
            plan: AnalyticPlan::uncoded(columns, query),
        }
    }

    /// A cached bucket's width in microseconds.
    pub(crate) fn width(&self) -> i64 {
        self.unit.saturating_mul(self.steps)
    }
}

/// An analytic whose answer merges exactly from partial states per time bucket.
pub(crate) trait Incremental: Analytic {
    /// The time column the request names, or none: any timestamp column its filter bounds.
    fn time_column(&self) -> Option<&str>;

    /// The state query over `time_column`, cached in buckets of about `bucket` µs; `Ok(None)`
    /// when this request's answer does not merge (answered uncached).
    fn state_plan(
        &self,
        schema: &Schema,
        time_column: &str,
        bucket: i64,
    ) -> Result<Option<StatePlan>, AnalyticsError>;

    /// The answer from the state rows of every bucket of the time range.
    fn finish(&self, states: &[RecordBatch]) -> Result<Self::Response, AnalyticsError>;

    /// Rows of the answer (checked against `engine.max_response_rows`).
    fn answer_rows(response: &Self::Response) -> usize;
}

/// `(__tu - CASE WHEN __tu < 0 THEN w - 1 ELSE 0 END) // w`: the number of the `width`-µs
/// bucket of the microseconds `__tu`, floored (`//` truncates toward zero).
fn bucket_of(width: i64) -> String {
    format!("(__tu - CASE WHEN __tu < 0 THEN {width} - 1 ELSE 0 END) // {width}")
}

#[cfg(test)]
mod tests;
