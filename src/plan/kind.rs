//! What a query does with the rows it reads, which the planner sizes for.

/// The kind of a query, as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryKind {
    /// Every matching row goes to the client (Select, Flight reads, plain SQL projections).
    #[default]
    Read,
    /// The engine reduces the rows to groups (Percentiles, TopN, SQL with aggregates…).
    Aggregate,
    /// The engine orders each series by time (MovingAverage, DetectAnomalies,
    /// WindowAggregate).
    TimeSeries,
    /// Only the number of matching rows.
    Count,
}

impl QueryKind {
    /// The name `Explain` shows.
    pub fn name(self) -> &'static str {
        match self {
            QueryKind::Read => "read",
            QueryKind::Aggregate => "aggregate",
            QueryKind::TimeSeries => "time_series",
            QueryKind::Count => "count",
        }
    }

    /// Why splitting the read does not change the answer of this kind.
    pub(super) fn split_note(self) -> &'static str {
        match self {
            QueryKind::Read => "rows stream to the client as each split yields them",
            QueryKind::Aggregate => "the engine aggregates the splits' rows as they arrive",
            QueryKind::TimeSeries => {
                "the engine orders each series by time itself, so splits may arrive in any order"
            }
            QueryKind::Count => "each split counts its own rows",
        }
    }
}
