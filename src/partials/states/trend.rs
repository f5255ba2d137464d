//! Trend: per (group, bucket) the co-moments of value on epoch seconds — n, the means and
//! the sums of squared deviations and products — merged pairwise (Chan et al.). Merging
//! deviations, not raw Σx² with x ≈ 1.7e9 s, keeps the merged slope as exact as one pass.

use std::sync::Arc;

use arrow::{
    array::{Float64Array, Int64Array, RecordBatch},
    datatypes::Schema,
};

use super::{Incremental, StatePlan, bucket_of, merge};
use crate::{
    analytics::{
        self, AnalyticsError,
        columns::Columns,
        decode::{F64Column, I64Column, Rows},
    },
    engine::quote_ident,
    proto,
};

/// Co-moments of (x, y) over n pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CoMoments {
    pub(crate) n: u64,
    pub(crate) mean_x: f64,
    pub(crate) mean_y: f64,
    pub(crate) sxx: f64,
    pub(crate) syy: f64,
    pub(crate) sxy: f64,
}

impl CoMoments {
    /// Both sets of pairs as one.
    pub(crate) fn merge(self, other: Self) -> Self {
        if other.n == 0 {
            return self;
        }
        if self.n == 0 {
            return other;
        }
        let n = self.n + other.n;
        let (na, nb, nf) = (self.n as f64, other.n as f64, n as f64);
        let dx = other.mean_x - self.mean_x;
        let dy = other.mean_y - self.mean_y;
        let weight = na * nb / nf;
        Self {
            n,
            mean_x: self.mean_x + dx * nb / nf,
            mean_y: self.mean_y + dy * nb / nf,
            sxx: self.sxx + other.sxx + dx * dx * weight,
            syy: self.syy + other.syy + dy * dy * weight,
            sxy: self.sxy + other.sxy + dx * dy * weight,
        }
    }

    /// DuckDB's `regr_slope`: NULL without variance in x.
    pub(crate) fn slope(&self) -> Option<f64> {
        (self.n > 0 && self.sxx != 0.0).then(|| self.sxy / self.sxx)
    }

    /// DuckDB's `regr_intercept`.
    pub(crate) fn intercept(&self) -> Option<f64> {
        self.slope().map(|s| self.mean_y - s * self.mean_x)
    }

    /// DuckDB's `regr_r2`: NULL without variance in x, 1 without variance in y.
    pub(crate) fn r_squared(&self) -> Option<f64> {
        if self.n == 0 || self.sxx == 0.0 {
            return None;
        }
        if self.syy == 0.0 {
            return Some(1.0);
        }
        Some(self.sxy * self.sxy / (self.sxx * self.syy))
    }

    /// Pearson r; NULL over no pairs, NaN without variance (as DuckDB's `corr`).
    pub(crate) fn correlation(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sxy / (self.sxx * self.syy).sqrt())
    }

    /// The state columns `{prefix}n`, `{prefix}mx`, … of `rows`, downcast once.
    pub(crate) fn columns(
        rows: &Rows<'_>,
        prefix: &str,
    ) -> Result<CoMomentColumns, AnalyticsError> {
        let f = |name: &str| rows.f64(&format!("{prefix}{name}"));
        Ok(CoMomentColumns {
            n: rows.i64(&format!("{prefix}n"))?,
            mean_x: f("mx")?,
            mean_y: f("my")?,
            sxx: f("sxx")?,
            syy: f("syy")?,
            sxy: f("sxy")?,
        })
    }

    /// The SQL of the state columns of `y` on `x`, named `{prefix}n`, `{prefix}mx`, ….
    pub(crate) fn sql(y: &str, x: &str, prefix: &str) -> String {
        let f = |function: &str, name: &str| {
            format!("CAST({function}({y}, {x}) AS DOUBLE) AS {prefix}{name}")
        };
        format!(
            "CAST(regr_count({y}, {x}) AS BIGINT) AS {prefix}n, {}, {}, {}, {}, {}",
            f("regr_avgx", "mx"),
            f("regr_avgy", "my"),
            f("regr_sxx", "sxx"),
            f("regr_syy", "syy"),
            f("regr_sxy", "sxy"),
        )
    }
}

/// The co-moment state columns of a batch of state rows.
pub(crate) struct CoMomentColumns {
    n: I64Column,
    mean_x: F64Column,
    mean_y: F64Column,
    sxx: F64Column,
    syy: F64Column,
    sxy: F64Column,
}

impl CoMomentColumns {
    /// The co-moments of row `row` (none over no pairs).
    pub(crate) fn read(&self, row: usize) -> CoMoments {
        let n = self.n.count(row);
        if n == 0 {
            return CoMoments::default();
        }
        let f = |column: &F64Column| column.get(row).unwrap_or(0.0);
        CoMoments {
            n,
            mean_x: f(&self.mean_x),
            mean_y: f(&self.mean_y),
            sxx: f(&self.sxx),
            syy: f(&self.syy),
            sxy: f(&self.sxy),
        }
    }
}

impl Incremental for proto::TrendRequest {
    fn time_column(&self) -> Option<&str> {
        Some(&self.time_column)
    }

    fn state_plan(
        &self,
        schema: &Schema,
        time_column: &str,
        bucket: i64,
    ) -> Result<Option<StatePlan>, AnalyticsError> {
        let mut columns = Columns::new(schema);
        let groups = columns.groups(&self.group_by)?;
        let time = columns.time("time_column", time_column)?;
        columns.numeric("value_column", &self.value_column)?;
        let value = quote_ident(&self.value_column);
        let sql = format!(
            "SELECT {g_raw}{g_text}__k, count(*) AS __rows, {moments} \
             FROM (SELECT {g}CAST({value} AS DOUBLE) AS __y, __tu / 1e6 AS __x, {bucket_of} AS __k \
                   FROM (SELECT *, {time} AS __tu FROM t) WHERE __tu IS NOT NULL) \
             GROUP BY {g}__k",
            g_raw = groups.select_raw(),
            g_text = groups.select_text(),
            g = groups.list_comma(),
            moments = CoMoments::sql("__y", "__x", "__"),
            bucket_of = bucket_of(bucket),
        );
        Ok(Some(StatePlan::new(bucket, 1, columns, sql)))
    }

    fn finish(&self, states: &[RecordBatch]) -> Result<Self::Response, AnalyticsError> {
        let groups = self.group_by.len();
        let columns = |rows: &Rows<'_>| CoMoments::columns(rows, "__");
        let merged = merge::by_group(
            states,
            groups,
            columns,
            |acc: &mut CoMoments, columns: &CoMomentColumns, row| {
                *acc = acc.merge(columns.read(row));
                Ok(())
            },
        )?;
        let texts: Vec<&[Option<String>]> = merged.iter().map(|m| m.text.as_slice()).collect();
        let column = |f: fn(&CoMoments) -> Option<f64>| {
            Arc::new(merged.iter().map(|m| f(&m.state)).collect::<Float64Array>())
        };
        let n: Int64Array = merged.iter().map(|m| Some(m.state.n as i64)).collect();
        let batch = merge::text_batch(
            groups,
            &texts,
            vec![
                ("__slope", column(CoMoments::slope)),
                ("__intercept", column(CoMoments::intercept)),
                ("__r2", column(CoMoments::r_squared)),
                ("__n", Arc::new(n)),
            ],
        )?;
        analytics::trend::decode(&[batch], self)
    }

    fn answer_rows(response: &Self::Response) -> usize {
        response.trends.len()
    }
}
