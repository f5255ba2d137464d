//! The typed analytics of `AnalyticsService`, one module each. Every analytic is pure
//! planning and decoding, so it is testable against the engine alone:
//!
//! - `plan(request, table_schema)` validates the request against the table's Arrow schema and
//!   returns the columns the scan must read plus the SQL over the input `t`. Identifiers come
//!   only from the schema and are quoted; literals are bound parameters or typed-encoded
//!   numbers (never pasted user text).
//! - `decode(batches, request)` turns the engine's result batches into the typed response
//!   (`query_id` left empty for the caller).
//!
//! [`Analytic`] ties the two together for each request type, so the request layer can be
//! generic.
//! `Sql` is planned here too but its output is streamed as-is.

pub mod anomalies;
pub mod coding_lessons;
pub mod correlation;
pub mod group_codes;
pub mod histogram;
pub mod moving_average;
pub mod narrowing;
pub mod percentiles;
pub mod public_names;
pub mod sql;
pub mod top_n;
pub mod trend;
pub mod window;

pub(crate) mod columns;
pub(crate) mod decode;

#[cfg(test)]
pub(crate) mod testing;

use arrow::{array::RecordBatch, datatypes::Schema};

use self::columns::{Columns, Groups};
use crate::{engine::EngineQuery, proto};

/// Why an analytics request cannot be planned or its result decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    /// The request does not fit the table or is malformed; the message names the problem.
    #[error("{0}")]
    InvalidArgument(String),
    /// The engine's result did not have the expected shape (a bug).
    #[error("internal analytics error: {0}")]
    Internal(String),
}

/// What to scan and what to run for one analytics request.
#[derive(Debug, Clone)]
pub struct AnalyticPlan {
    /// Table columns the scan must read (only those the query needs), in table order.
    pub columns: Vec<String>,
    /// The SQL over the input `t` (whose columns are exactly `columns`).
    pub query: EngineQuery,
    /// Group columns the query may see as integer codes ([`group_codes`]): all string
    /// columns, and the SQL only groups, partitions, joins and orders by them, returns them as
    /// `__g0..` text in request order and orders its result by them first. Empty when not.
    pub codable_groups: Vec<String>,
    /// Integer group columns the query uses only to group, partition, join, order and show
    /// as text, so that a narrower integer type shows the same answer
    /// ([`narrowing::NarrowedGroups`]).
    pub narrowable_groups: Vec<String>,
    /// Whether the query is faster with its group columns as 8-bit integers (narrowed
    /// integers, [`group_codes::CodeWidth::U8`] codes), which DuckDB groups by array index
    /// (its perfect-hash aggregate); false where that aggregate is slower than hashing.
    pub eight_bit_groups: bool,
    /// The SQL to run instead of `query`'s when the group columns are coded, for a query whose
    /// answer depends on how the group values sort (codes do not sort like the strings).
    pub coded_sql: Option<CodedSql>,
}

/// A query's SQL for coded group columns ([`AnalyticPlan::coded_sql`]).
#[derive(Debug, Clone)]
pub struct CodedSql {
    /// Runs in place of the plan's SQL.
    pub sql: String,
    /// The most rows a complete result has. The SQL asks for one more: a result that has it
    /// is cut short, and the request runs again over the strings.
    pub max_rows: usize,
}

impl AnalyticPlan {
    /// The common shape: the scanned `columns`, `query` over them, group columns that may be
    /// coded or narrowed and that gain by 8 bits. Change it with the `with_*` methods.
    pub(crate) fn grouped(columns: Columns<'_>, groups: &Groups, query: EngineQuery) -> Self {
        Self {
            narrowable_groups: columns.group_only(),
            columns: columns.into_names(),
            query,
            codable_groups: groups.codable(),
            coded_sql: None,
            eight_bit_groups: true,
        }
    }

    /// With `coded` run in place of the SQL over coded group columns.
    pub(crate) fn with_coded_sql(mut self, coded: Option<CodedSql>) -> Self {
        self.coded_sql = coded;
        self
    }

    /// A query over `columns` that gets its group columns as they are: no codes, no
    /// narrowing (the partial states, which keep the group values themselves).
    pub(crate) fn uncoded(columns: Columns<'_>, query: EngineQuery) -> Self {
        Self {
            columns: columns.into_names(),
            query,
            codable_groups: Vec::new(),
            narrowable_groups: Vec::new(),
            eight_bit_groups: false,
            coded_sql: None,
        }
    }

    /// Without 8-bit group columns, for a query that is slower on DuckDB's perfect-hash
    /// aggregate than on its hash table.
    pub(crate) fn without_eight_bit_groups(mut self) -> Self {
        self.eight_bit_groups = false;
        self
    }

    /// Puts the coded SQL, if the plan has one, in place of its SQL, for a run over coded
    /// group columns; returns it (with the most rows a complete result of it has).
    pub fn use_coded_sql(&mut self) -> Option<CodedSql> {
        let coded = self.coded_sql.take()?;
        self.query.sql.clone_from(&coded.sql);
        Some(coded)
    }
}

/// A typed analytics request: plan it, then decode the engine's result into its response.
pub trait Analytic {
    /// The typed response message.
    type Response;

    /// Validates the request against `table_schema` and builds the scan and the SQL.
    fn plan(&self, table_schema: &Schema) -> Result<AnalyticPlan, AnalyticsError>;

    /// Builds the response from the result batches of the planned query.
    fn decode(&self, batches: &[RecordBatch]) -> Result<Self::Response, AnalyticsError>;
}

macro_rules! analytic {
    ($request:ty, $response:ty, $module:ident) => {
        impl Analytic for $request {
            type Response = $response;

            fn plan(&self, table_schema: &Schema) -> Result<AnalyticPlan, AnalyticsError> {
                $module::plan(self, table_schema)
            }

            fn decode(&self, batches: &[RecordBatch]) -> Result<Self::Response, AnalyticsError> {
                $module::decode(batches, self)
            }
        }
    };
}

analytic!(
    proto::MovingAverageRequest,
    proto::MovingAverageResponse,
    moving_average
);
analytic!(proto::TrendRequest, proto::TrendResponse, trend);
analytic!(
    proto::DetectAnomaliesRequest,
    proto::DetectAnomaliesResponse,
    anomalies
);
analytic!(
    proto::WindowAggregateRequest,
    proto::WindowAggregateResponse,
    window
);
analytic!(
    proto::PercentilesRequest,
    proto::PercentilesResponse,
    percentiles
);
analytic!(
    proto::CorrelationRequest,
    proto::CorrelationResponse,
    correlation
);
analytic!(proto::HistogramRequest, proto::HistogramResponse, histogram);
analytic!(proto::TopNRequest, proto::TopNResponse, top_n);
