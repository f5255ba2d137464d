//! The fields every analytics request shares, whatever the analytic.

use crate::proto;

/// An analytics request (typed or `Sql`): the table, the filter and the hints.
pub(crate) trait AnalyticRequest {
    fn table(&self) -> Option<&proto::TableRef>;
    fn filter(&self) -> Option<&proto::Filter>;
    fn hints(&self) -> Option<&proto::QueryHints>;
}

macro_rules! analytic_request {
    ($($request:ty),* $(,)?) => {$(
        impl AnalyticRequest for $request {
            fn table(&self) -> Option<&proto::TableRef> { self.table.as_ref() }
            fn filter(&self) -> Option<&proto::Filter> { self.filter.as_ref() }
            fn hints(&self) -> Option<&proto::QueryHints> { self.hints.as_ref() }
        }
    )*};
}

analytic_request!(
    proto::MovingAverageRequest,
    proto::TrendRequest,
    proto::DetectAnomaliesRequest,
    proto::WindowAggregateRequest,
    proto::PercentilesRequest,
    proto::CorrelationRequest,
    proto::HistogramRequest,
    proto::TopNRequest,
    proto::SqlRequest,
);
