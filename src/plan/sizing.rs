//! The three numbers of a scan plan: splits, sub-splits per split and rows per sub-split page.

use super::{Choice, ReadSpec};
use crate::{
    config::{ExecConfig, PlannerMode},
    proto,
};

pub(super) struct Sizing<'a> {
    pub(super) spec: &'a ReadSpec,
    pub(super) config: &'a ExecConfig,
    pub(super) hints: &'a proto::QueryHints,
}

impl Sizing<'_> {
    fn adaptive(&self) -> bool {
        self.config.planner == PlannerMode::Adaptive
    }

    /// A LIMIT that one split serves whole.
    fn small_limit(&self) -> Option<u64> {
        let limit = self.spec.limit;
        (limit > 0 && limit <= self.config.rows_per_split).then_some(limit)
    }

    /// Row groups the splits are cut over: those left after pruning (the adaptive planner's
    /// local scans skip the rest before cutting), else all.
    fn row_groups(&self) -> u64 {
        if self.adaptive() {
            self.spec.filter.row_groups_kept
        } else {
            self.spec.meta.num_row_groups
        }
    }

    pub(super) fn splits(&self) -> Choice<u32> {
        let config = self.config;
        let row_groups = self.row_groups();
        let bound = u64::from(config.max_splits).min(row_groups).max(1);
        let bound_note = format!(
            "at most {bound}: no more than the {row_groups} row groups to read (a split below \
             a row group is empty) and exec.max_splits {}",
            config.max_splits
        );
        let choice = |value: u64, reason: String| {
            // Bounded by `max_splits` (a u32) above.
            Choice::new(u32::try_from(value).unwrap_or(1), reason)
        };
        if self.hints.num_splits > 0 {
            let value = u64::from(self.hints.num_splits).min(bound);
            return choice(
                value,
                format!(
                    "the request's hint asked for {}; {bound_note}",
                    self.hints.num_splits
                ),
            );
        }
        if let Some(limit) = self.small_limit() {
            return choice(
                1,
                format!(
                    "LIMIT {limit} fits one split of exec.rows_per_split {} rows; more splits \
                     would read rows that are thrown away",
                    config.rows_per_split
                ),
            );
        }
        let rows_per_split = config.rows_per_split.max(1);
        if !self.adaptive() {
            let rows = self.spec.meta.num_rows;
            let value = rows.div_ceil(rows_per_split).clamp(1, bound);
            return choice(
                value,
                format!(
                    "fixed planner: {rows} rows / exec.rows_per_split {rows_per_split}, {bound_note}"
                ),
            );
        }
        let rows = self.spec.filter.rows_kept;
        let by_size = rows.div_ceil(rows_per_split).max(1);
        let mut reason = format!(
            "{rows} rows to read{}: {by_size} split(s) of at most exec.rows_per_split \
             {rows_per_split}",
            self.pruned_note()
        );
        // Below a quarter of rows_per_split, a split costs more in requests and small
        // batches than its parallelism gains (benches/RESULTS.md, planner).
        let min_rows = (rows_per_split / 4).max(1);
        let readers = self.readers().min(rows / min_rows);
        let mut value = by_size;
        if readers > by_size && row_groups > by_size {
            value = readers;
            reason.push_str(&format!(
                "; raised to {readers} so that {} share the work, each split at least a \
                 quarter of exec.rows_per_split",
                self.readers_note()
            ));
        }
        if let Some(endpoints) = self.spec.healthy_endpoints {
            reason.push_str(&format!(
                "; the {endpoints} healthy endpoints share the splits, each split streaming \
                 num_sub_splits ways on the server"
            ));
        }
        if value > bound {
            value = bound;
            reason.push_str(&format!("; {bound_note}"));
        }
        reason.push_str(&format!(" ({})", self.spec.kind.split_note()));
        choice(value, reason)
    }

    /// Splits that keep the readers busy. Locally one per core, at most `split_concurrency`:
    /// a split is the only parallelism of a Parquet read. On VAST none beyond the size: each
    /// split already streams `num_sub_splits` ways on the server, and more splits measured no
    /// faster (benches/RESULTS.md, planner).
    fn readers(&self) -> u64 {
        let concurrency = self.config.split_concurrency.max(1) as u64;
        match self.spec.healthy_endpoints {
            Some(_) => 1,
            None => concurrency.min(u64::from(self.spec.cores.max(1))),
        }
    }

    fn readers_note(&self) -> String {
        format!(
            "{} cores (at most exec.split_concurrency {})",
            self.spec.cores, self.config.split_concurrency
        )
    }

    fn pruned_note(&self) -> String {
        let total = self.spec.meta.num_row_groups;
        let kept = self.spec.filter.row_groups_kept;
        if kept < total {
            format!(
                " after statistics pruned {} of {total} row groups",
                total - kept
            )
        } else {
            String::new()
        }
    }

    pub(super) fn sub_splits(&self, splits: u32) -> Choice<u32> {
        let configured = self.config.num_sub_splits.max(1);
        if self.hints.num_sub_splits > 0 {
            return Choice::new(self.hints.num_sub_splits, "the request's hint");
        }
        if self.spec.healthy_endpoints.is_none() {
            return Choice::new(
                configured,
                "unused: the local backend reads each split in one stream",
            );
        }
        if !self.adaptive() {
            return Choice::new(configured, "fixed planner: exec.num_sub_splits");
        }
        if let Some(limit) = self.small_limit() {
            return Choice::new(
                1,
                format!("LIMIT {limit}: one stream reads it; more would fetch rows thrown away"),
            );
        }
        let per_split = self.row_groups().div_ceil(u64::from(splits.max(1))).max(1);
        if per_split < u64::from(configured) {
            // Bounded by `configured` (a u32).
            let value = u32::try_from(per_split).unwrap_or(configured);
            return Choice::new(
                value,
                format!(
                    "a split holds {per_split} row group(s) of 65,536 rows; exec.num_sub_splits \
                     {configured} would leave {} stream(s) empty",
                    u64::from(configured) - per_split
                ),
            );
        }
        Choice::new(
            configured,
            format!(
                "exec.num_sub_splits: each split holds {per_split} row groups, enough for \
                 every stream"
            ),
        )
    }

    pub(super) fn rows_per_sub_split(&self) -> Choice<u64> {
        let configured = self.config.limit_rows_per_sub_split;
        if self.hints.limit_rows_per_sub_split > 0 {
            return Choice::new(self.hints.limit_rows_per_sub_split, "the request's hint");
        }
        if self.spec.healthy_endpoints.is_none() {
            return Choice::new(configured, "unused: local reads are not paged");
        }
        if self.adaptive()
            && let Some(limit) = self.small_limit()
            && (configured == 0 || limit < configured)
        {
            return Choice::new(
                limit,
                format!("LIMIT {limit}: a page need not hold more rows than the limit"),
            );
        }
        let prefix = if self.adaptive() {
            ""
        } else {
            "fixed planner: "
        };
        Choice::new(configured, format!("{prefix}exec.limit_rows_per_sub_split"))
    }
}
