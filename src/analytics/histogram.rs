//! Histogram: counts of a value in explicit bins (`edges`) or in `bins` equal-width bins over
//! each group's [min, max] of its finite values; bins are `[lower, upper)`, the last one
//! closed; underflow, overflow and NULL counts; per group. -inf counts as underflow, +inf and
//! NaN (which DuckDB orders above every number) as overflow.

use arrow::{array::RecordBatch, datatypes::Schema};

use super::{
    AnalyticPlan, AnalyticsError,
    columns::{Columns, double_literal, invalid},
    decode::Rows,
};
use crate::{
    engine::{EngineQuery, quote_ident},
    proto,
};

#[cfg(test)]
mod tests;

/// Most bins (explicit or equal-width) one request may ask for.
pub const MAX_BINS: usize = 10_000;

const NULLS: i64 = -3;
const OVERFLOW: i64 = -2;
const UNDERFLOW: i64 = -1;

/// How a request bins its values.
pub(crate) enum Binning<'a> {
    /// Explicit ascending edges.
    Edges(&'a [f64]),
    /// This many equal-width bins over each group's finite [min, max].
    Equal(usize),
}

/// The request's binning, validated.
pub(crate) fn binning(req: &proto::HistogramRequest) -> Result<Binning<'_>, AnalyticsError> {
    match (req.edges.is_empty(), req.bins) {
        (false, 0) => {
            let edges = &req.edges;
            if edges.len() < 2 {
                return Err(invalid(
                    "edges: give two or more edges (one bin needs a lower and an upper edge)",
                ));
            }
            if edges.len() > MAX_BINS + 1 {
                return Err(invalid(format!("edges: at most {} edges", MAX_BINS + 1)));
            }
            if let Some(bad) = edges.iter().find(|e| !e.is_finite()) {
                return Err(invalid(format!("edges: {bad} is not a finite number")));
            }
            if let Some(w) = edges.windows(2).find(|w| w[0] >= w[1]) {
                return Err(invalid(format!(
                    "edges must be strictly ascending, but {} is followed by {}",
                    w[0], w[1]
                )));
            }
            Ok(Binning::Edges(edges))
        }
        (true, 0) => Err(invalid(
            "give either edges (two or more) or bins (a bin count)",
        )),
        (true, bins) => {
            let bins = bins as usize;
            if bins > MAX_BINS {
                return Err(invalid(format!(
                    "bins must be in 1..={MAX_BINS}, got {bins}"
                )));
            }
            Ok(Binning::Equal(bins))
        }
        (false, _) => Err(invalid("give either edges or bins, not both")),
    }
}

/// Validates `req` and builds the scan and SQL.
pub fn plan(
    req: &proto::HistogramRequest,
    schema: &Schema,
) -> Result<AnalyticPlan, AnalyticsError> {
    let binning = binning(req)?;
    let mut columns = Columns::new(schema);
    let groups = columns.groups(&req.group_by)?;
    columns.numeric("value_column", &req.value_column)?;
    let value = quote_ident(&req.value_column);
    let source = format!(
        "SELECT {g}CAST({value} AS DOUBLE) AS __v FROM t",
        g = groups.list_comma()
    );
    let sql = match binning {
        Binning::Edges(edges) => {
            let case = edges_case(edges);
            format!(
                "SELECT {g_text}__idx, count(*) AS __c FROM (SELECT {g}{case} AS __idx FROM ({source})) \
                 GROUP BY {g}__idx{order}",
                g_text = groups.select_text(),
                g = groups.list_comma(),
                order = groups.order_by("__idx"),
            )
        }
        // Each group's finite [min, max] comes first (`__k`, one row per group), then rows are
        // counted per (group number, floor of the bin position): group values are hashed once
        // and each row costs one division. `HAVING count(*) >= 0` makes DuckDB, without
        // statistics for the input stream, build the join's hash table on the groups. On the
        // counted rows (`__b`) NULL counts as NULL, the maximum joins the last bin, -inf
        // underflows, +inf and NaN overflow; equal values (or none finite) get width 1.
        Binning::Equal(bins) => format!(
            "WITH __s AS MATERIALIZED ({source}), \
             __k AS (SELECT {g}row_number() OVER () AS __gid, {lo} AS __lo, {hi} AS __hi, \
               coalesce({lo}, 0) AS __base, \
               CASE WHEN ({hi} - {lo}) / {bins} > 0 THEN ({hi} - {lo}) / {bins} ELSE 1 END AS __w \
               FROM __s{group_by} HAVING count(*) >= 0), \
             __n AS (SELECT __gid, floor((__v - __base) / __w) AS __f, count(*) AS __c \
               FROM __s JOIN __k ON {same_group} GROUP BY __gid, __f), \
             __b AS (SELECT __gid, CASE WHEN __f IS NULL THEN {NULLS} WHEN __f < 0 THEN {UNDERFLOW} \
               WHEN NOT isfinite(__f) THEN {OVERFLOW} ELSE CAST(least(__f, {last}) AS BIGINT) END \
               AS __idx, CAST(sum(__c) AS BIGINT) AS __c FROM __n GROUP BY ALL) \
             SELECT {g_text}__idx, __c, __lo, __hi FROM __b JOIN __k USING (__gid){order}",
            lo = "min(__v) FILTER (WHERE isfinite(__v))",
            hi = "max(__v) FILTER (WHERE isfinite(__v))",
            g = groups.list_comma(),
            group_by = groups.group_by(),
            same_group = groups.same_group("__s", "__k"),
            last = bins - 1,
            g_text = groups.select_text(),
            order = groups.order_by("__idx"),
        ),
    };
    let query = EngineQuery::new(sql).reading_input_once();
    Ok(AnalyticPlan::grouped(columns, &groups, query))
}

/// `CASE … END`: the bin index of `__v` between explicit `edges` (NULL, underflow and
/// overflow as their negative indexes).
pub(crate) fn edges_case(edges: &[f64]) -> String {
    let last = edges.len() - 1;
    let mut case = format!(
        "CASE WHEN __v IS NULL THEN {NULLS} WHEN __v < {lo} THEN {UNDERFLOW} WHEN __v > {hi} THEN {OVERFLOW}",
        lo = double_literal(edges[0]),
        hi = double_literal(edges[last]),
    );
    for (i, upper) in edges[1..last].iter().enumerate() {
        case.push_str(&format!(" WHEN __v < {} THEN {i}", double_literal(*upper)));
    }
    case.push_str(&format!(" ELSE {} END", last - 1));
    case
}

/// Counts of one group while decoding.
struct Acc {
    group: proto::Group,
    counts: Vec<(i64, u64)>,
    range: Option<(f64, f64)>,
}

/// Builds the response from the result of [`plan`]'s query.
pub fn decode(
    batches: &[RecordBatch],
    req: &proto::HistogramRequest,
) -> Result<proto::HistogramResponse, AnalyticsError> {
    let binning = binning(req)?;
    let mut accs: Vec<Acc> = Vec::new();
    for batch in batches {
        let rows = Rows::new(batch, req.group_by.len())?;
        let (idx, count) = (rows.i64("__idx")?, rows.i64("__c")?);
        let range = match binning {
            Binning::Equal(_) => Some((rows.f64("__lo")?, rows.f64("__hi")?)),
            Binning::Edges(_) => None,
        };
        for row in 0..rows.len() {
            let group = rows.group(row);
            if accs.last().is_none_or(|acc| acc.group != group) {
                accs.push(Acc {
                    group,
                    counts: Vec::new(),
                    range: None,
                });
            }
            let Some(acc) = accs.last_mut() else { continue };
            let i = idx
                .get(row)
                .ok_or_else(|| AnalyticsError::Internal("NULL bin index".to_owned()))?;
            acc.counts.push((i, count.count(row)));
            if let Some((lo, hi)) = &range
                && let (Some(lo), Some(hi)) = (lo.get(row), hi.get(row))
            {
                acc.range = Some((lo, hi));
            }
        }
    }
    let histograms = accs.into_iter().map(|acc| finish(acc, &binning)).collect();
    Ok(proto::HistogramResponse {
        histograms,
        query_id: String::new(),
    })
}

fn finish(acc: Acc, binning: &Binning<'_>) -> proto::HistogramRow {
    let mut bins: Vec<proto::HistogramBin> = match binning {
        Binning::Edges(edges) => edges
            .windows(2)
            .map(|w| proto::HistogramBin {
                lower: w[0],
                upper: w[1],
                count: 0,
            })
            .collect(),
        Binning::Equal(k) => match acc.range {
            None => Vec::new(),
            Some((lo, hi)) if lo == hi => vec![proto::HistogramBin {
                lower: lo,
                upper: hi,
                count: 0,
            }],
            Some((lo, hi)) => {
                let width = (hi - lo) / *k as f64;
                (0..*k)
                    .map(|i| proto::HistogramBin {
                        lower: lo + i as f64 * width,
                        upper: if i + 1 == *k {
                            hi
                        } else {
                            lo + (i + 1) as f64 * width
                        },
                        count: 0,
                    })
                    .collect()
            }
        },
    };
    let mut row = proto::HistogramRow {
        group: Some(acc.group),
        ..Default::default()
    };
    for (idx, count) in acc.counts {
        match idx {
            NULLS => row.nulls += count,
            UNDERFLOW => row.underflow += count,
            OVERFLOW => row.overflow += count,
            i => {
                if let Some(bin) = usize::try_from(i).ok().and_then(|i| bins.get_mut(i)) {
                    bin.count += count;
                }
            }
        }
    }
    row.bins = bins;
    row
}
