//! Performance trends: per method and time bucket, count, errors and latency percentiles.

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use super::{QueryRecord, QueryState};

/// One bucket of one method.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendBucket {
    /// Bucket start.
    pub start: SystemTime,
    /// RPC name.
    pub method: String,
    /// Queries finished in the bucket.
    pub queries: u64,
    /// Of which failed.
    pub errors: u64,
    /// Latency percentiles in milliseconds (nearest rank).
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Rows scanned by the bucket's queries.
    pub rows_scanned: u64,
}

pub(super) fn compute(records: &[QueryRecord], bucket: Duration) -> Vec<TrendBucket> {
    let width = bucket.as_secs().max(1);
    let mut groups: BTreeMap<(u64, String), Vec<&QueryRecord>> = BTreeMap::new();
    for r in records {
        let secs = r
            .started
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        groups
            .entry((secs - secs % width, r.method.clone()))
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .map(|((start, method), rs)| {
            let mut latencies: Vec<f64> = rs.iter().map(|r| r.duration_ms).collect();
            latencies.sort_by(f64::total_cmp);
            TrendBucket {
                start: UNIX_EPOCH + Duration::from_secs(start),
                method,
                queries: rs.len() as u64,
                errors: rs.iter().filter(|r| r.state == QueryState::Error).count() as u64,
                p50_ms: nearest_rank(&latencies, 0.50),
                p95_ms: nearest_rank(&latencies, 0.95),
                p99_ms: nearest_rank(&latencies, 0.99),
                rows_scanned: rs.iter().map(|r| r.rows_scanned).sum(),
            }
        })
        .collect()
}

/// The nearest-rank percentile of sorted values (0 for none).
pub(super) fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
