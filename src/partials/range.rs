//! A request's time range: the conjuncts of its filter that bound one timestamp column on
//! both sides, the buckets wholly inside it, and the filter that reads only what the cached
//! buckets do not cover.

use std::ops::Range;

use arrow::datatypes::{DataType, Schema};

use crate::proto::{self, CompareOp, filter::Kind, literal::Value};

const NANOS_PER_MICRO: i128 = 1_000;

/// A time bound in nanoseconds since the epoch, and whether it admits its own instant.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    nanos: i128,
    inclusive: bool,
}

/// The time range of a request's filter, and the rest of the filter.
#[derive(Debug, Clone)]
pub(crate) struct TimeRange {
    /// The bounded timestamp column.
    pub(crate) column: String,
    /// The conjuncts on `column` that make the range, as the request gave them.
    bounds: Vec<proto::Filter>,
    /// Every other conjunct: the filter without the time range.
    pub(crate) rest: Vec<proto::Filter>,
    lower: Bound,
    upper: Bound,
}

impl TimeRange {
    /// Finds the time range of `filter`: `column`'s when given, else the first timestamp
    /// column of `schema` the filter bounds below and above with timestamp literals (`>=`,
    /// `>`, `<`, `<=`, BETWEEN, joined by AND). None when there is no such range.
    pub(crate) fn find(
        filter: Option<&proto::Filter>,
        schema: &Schema,
        column: Option<&str>,
    ) -> Option<Self> {
        let mut conjuncts = Vec::new();
        flatten(filter?, &mut conjuncts);
        let is_timestamp = |name: &str| {
            schema
                .field_with_name(name)
                .is_ok_and(|f| matches!(f.data_type(), DataType::Timestamp(_, _)))
        };
        let candidates: Vec<&str> = match column {
            Some(c) => vec![c],
            None => conjuncts.iter().filter_map(|c| bound_column(c)).collect(),
        };
        candidates
            .into_iter()
            .filter(|c| is_timestamp(c))
            .find_map(|c| Self::over(c, &conjuncts))
    }

    /// Whether `filter` bounds some column below and above with timestamp literals: what
    /// [`Self::find`] needs, checked without a schema.
    pub(crate) fn possible(filter: Option<&proto::Filter>) -> bool {
        let Some(filter) = filter else {
            return false;
        };
        let mut conjuncts = Vec::new();
        flatten(filter, &mut conjuncts);
        conjuncts
            .iter()
            .filter_map(bound_column)
            .any(|c| Self::over(c, &conjuncts).is_some())
    }

    fn over(column: &str, conjuncts: &[proto::Filter]) -> Option<Self> {
        let (mut lower, mut upper): (Option<Bound>, Option<Bound>) = (None, None);
        let (mut bounds, mut rest) = (Vec::new(), Vec::new());
        for conjunct in conjuncts {
            let found = bounds_of(conjunct).filter(|(c, _, _)| *c == column);
            let Some((_, low, high)) = found else {
                rest.push(conjunct.clone());
                continue;
            };
            if let Some(low) = low {
                lower = Some(match lower {
                    Some(l) if (l.nanos, !l.inclusive) >= (low.nanos, !low.inclusive) => l,
                    _ => low,
                });
            }
            if let Some(high) = high {
                upper = Some(match upper {
                    Some(u) if (u.nanos, u.inclusive) <= (high.nanos, high.inclusive) => u,
                    _ => high,
                });
            }
            bounds.push(conjunct.clone());
        }
        Some(Self {
            column: column.to_owned(),
            bounds,
            rest,
            lower: lower?,
            upper: upper?,
        })
    }

    /// The buckets of `width` microseconds (bucket `c` is `[c·width, (c+1)·width)`) that lie
    /// wholly inside the range.
    pub(crate) fn whole_buckets(&self, width: i64) -> Range<i64> {
        let width = i128::from(width.max(1)) * NANOS_PER_MICRO;
        let first = if self.lower.inclusive {
            ceil_div(self.lower.nanos, width)
        } else {
            self.lower.nanos.div_euclid(width) + 1
        };
        // Bucket c ends at (c+1)·width, at or before the upper bound.
        let end = self.upper.nanos.div_euclid(width);
        let clamp = |v: i128| v.clamp(i128::from(i64::MIN / 2), i128::from(i64::MAX / 2)) as i64;
        clamp(first)..clamp(end).max(clamp(first))
    }

    /// The filter that reads the range without the buckets `cached` (sorted bucket numbers of
    /// `width` µs, all inside [`Self::whole_buckets`]): the request's filter, narrowed by
    /// `column >= start` and `column < end` of what is left and, for each run of cached
    /// buckets in between, `column < run start OR column >= run end` — one column's terms,
    /// which both backends push down. None when the cached buckets cover the whole range.
    pub(crate) fn uncovered_filter(&self, width: i64, cached: &[i64]) -> Option<proto::Filter> {
        let whole = self.whole_buckets(width);
        let runs = runs(cached);
        let covers_head = runs.first().is_some_and(|r| r.start == whole.start);
        let covers_tail = runs.last().is_some_and(|r| r.end == whole.end);
        let head_empty = self.lower == bound_at(whole.start, width, true);
        let tail_empty = self.upper == bound_at(whole.end, width, false);
        if runs.len() == 1 && covers_head && covers_tail && head_empty && tail_empty {
            return None;
        }
        let mut conjuncts = self.rest.clone();
        conjuncts.extend(self.bounds.iter().cloned());
        let at = |bucket: i64| bucket.saturating_mul(width);
        let mut gaps = runs.as_slice();
        if covers_head && head_empty {
            let (first, others) = gaps.split_first()?;
            conjuncts.push(compare(&self.column, CompareOp::Ge, at(first.end)));
            gaps = others;
        }
        if covers_tail && tail_empty {
            let (last, others) = gaps.split_last()?;
            conjuncts.push(compare(&self.column, CompareOp::Lt, at(last.start)));
            gaps = others;
        }
        for gap in gaps {
            conjuncts.push(any_of(vec![
                compare(&self.column, CompareOp::Lt, at(gap.start)),
                compare(&self.column, CompareOp::Ge, at(gap.end)),
            ]));
        }
        Some(all_of(conjuncts))
    }
}

/// The bound a bucket edge makes: `>= edge` for a lower one, `< edge` for an upper one.
fn bound_at(bucket: i64, width: i64, lower: bool) -> Bound {
    Bound {
        nanos: i128::from(bucket) * i128::from(width) * NANOS_PER_MICRO,
        inclusive: lower,
    }
}

/// Consecutive runs of sorted bucket numbers.
fn runs(buckets: &[i64]) -> Vec<Range<i64>> {
    let mut out: Vec<Range<i64>> = Vec::new();
    for &b in buckets {
        match out.last_mut() {
            Some(run) if run.end == b => run.end = b + 1,
            _ => out.push(b..b + 1),
        }
    }
    out
}

fn ceil_div(a: i128, b: i128) -> i128 {
    -((-a).div_euclid(b))
}

fn flatten(filter: &proto::Filter, out: &mut Vec<proto::Filter>) {
    match &filter.kind {
        Some(Kind::And(list)) => list.filters.iter().for_each(|f| flatten(f, out)),
        _ => out.push(filter.clone()),
    }
}

fn bound_column(filter: &proto::Filter) -> Option<&str> {
    bounds_of(filter).map(|(c, _, _)| c)
}

/// The column a conjunct bounds and its lower and upper bound, if it is a time bound.
fn bounds_of(filter: &proto::Filter) -> Option<(&str, Option<Bound>, Option<Bound>)> {
    match filter.kind.as_ref()? {
        Kind::Compare(c) => {
            let nanos = timestamp_nanos(c.value.as_ref()?)?;
            let bound = |inclusive| Some(Bound { nanos, inclusive });
            let (low, high) = match CompareOp::try_from(c.op).ok()? {
                CompareOp::Ge => (bound(true), None),
                CompareOp::Gt => (bound(false), None),
                CompareOp::Le => (None, bound(true)),
                CompareOp::Lt => (None, bound(false)),
                _ => return None,
            };
            Some((c.column.as_str(), low, high))
        }
        Kind::Between(b) => {
            let low = timestamp_nanos(b.low.as_ref()?)?;
            let high = timestamp_nanos(b.high.as_ref()?)?;
            let bound = |nanos| {
                Some(Bound {
                    nanos,
                    inclusive: true,
                })
            };
            Some((b.column.as_str(), bound(low), bound(high)))
        }
        _ => None,
    }
}

fn timestamp_nanos(literal: &proto::Literal) -> Option<i128> {
    match literal.value.as_ref()? {
        Value::TimestampValue(t) => {
            Some(i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos))
        }
        _ => None,
    }
}

fn compare(column: &str, op: CompareOp, micros: i64) -> proto::Filter {
    let timestamp = prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    };
    proto::Filter {
        kind: Some(Kind::Compare(proto::Comparison {
            column: column.to_owned(),
            op: op as i32,
            value: Some(proto::Literal {
                value: Some(Value::TimestampValue(timestamp)),
            }),
        })),
    }
}

fn any_of(filters: Vec<proto::Filter>) -> proto::Filter {
    proto::Filter {
        kind: Some(Kind::Or(proto::FilterList { filters })),
    }
}

fn all_of(filters: Vec<proto::Filter>) -> proto::Filter {
    proto::Filter {
        kind: Some(Kind::And(proto::FilterList { filters })),
    }
}

#[cfg(test)]
mod tests;
