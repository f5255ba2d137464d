//! The fields every analytics request shares, whatever the analytic.

use crate::{plan::QueryKind, proto};

/// An analytics request (typed or `Sql`): the table, the filter, the hints and what the
/// planner should size the read for.
pub(crate) trait AnalyticRequest {
    fn table(&self) -> Option<&proto::TableRef>;
    fn filter(&self) -> Option<&proto::Filter>;
    fn hints(&self) -> Option<&proto::QueryHints>;
    fn kind(&self) -> QueryKind;
}

macro_rules! analytic_request {
    ($($request:ty => $kind:ident),* $(,)?) => {$(
        impl AnalyticRequest for $request {
            fn table(&self) -> Option<&proto::TableRef> { self.table.as_ref() }
            fn filter(&self) -> Option<&proto::Filter> { self.filter.as_ref() }
            fn hints(&self) -> Option<&proto::QueryHints> { self.hints.as_ref() }
            fn kind(&self) -> QueryKind { QueryKind::$kind }
        }
    )*};
}

analytic_request!(
    proto::MovingAverageRequest => TimeSeries,
    proto::TrendRequest => Aggregate,
    proto::DetectAnomaliesRequest => TimeSeries,
    proto::WindowAggregateRequest => TimeSeries,
    proto::PercentilesRequest => Aggregate,
    proto::CorrelationRequest => Aggregate,
    proto::HistogramRequest => Aggregate,
    proto::TopNRequest => Aggregate,
    proto::SqlRequest => Aggregate,
);
