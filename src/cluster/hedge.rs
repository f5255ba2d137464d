//! When a split read is a straggler, and whether the hedge budget allows another request.
//!
//! A split that has had no page for its endpoint's p95 page latency × `hedge.factor` (at
//! least `hedge.min_delay`) is re-issued elsewhere. tower's retry budget bounds hedges to
//! `hedge.max_fraction` of split requests over the last ten seconds, plus one per second so a
//! quiet service can still hedge.

use std::time::Duration;

use tower::retry::budget::{Budget, TpsBudget};

use super::endpoint::Member;
use crate::config::HedgeConfig;

/// How long a deposit counts in the budget.
const BUDGET_WINDOW: Duration = Duration::from_secs(10);
/// Hedges per second allowed whatever the traffic.
const BUDGET_FLOOR_PER_SEC: u32 = 1;

/// The hedging policy of a cluster.
#[derive(Debug)]
pub(crate) struct Hedging {
    config: HedgeConfig,
    budget: TpsBudget,
}

impl Hedging {
    pub(crate) fn new(config: HedgeConfig) -> Self {
        let budget = TpsBudget::new(
            BUDGET_WINDOW,
            BUDGET_FLOOR_PER_SEC,
            config.max_fraction as f32,
        );
        Self { config, budget }
    }

    /// How long a split read on `member` may go without a page before it is hedged; `None`
    /// when hedging is off.
    pub(crate) fn delay(&self, member: &Member) -> Option<Duration> {
        if !self.config.enabled {
            return None;
        }
        let p95 = member.stats.page_gap_p95().unwrap_or(self.config.min_delay);
        Some(p95.mul_f64(self.config.factor).max(self.config.min_delay))
    }

    /// The delay while the balancer's pick is not known yet: the longest of any member.
    pub(crate) fn delay_any(&self, members: &[std::sync::Arc<Member>]) -> Option<Duration> {
        members.iter().filter_map(|m| self.delay(m)).max()
    }

    /// A split request went out: it earns budget for hedges.
    pub(crate) fn request_sent(&self) {
        self.budget.deposit();
    }

    /// Takes one hedge from the budget; `false` when it is spent.
    pub(crate) fn try_hedge(&self) -> bool {
        self.config.enabled && self.budget.withdraw()
    }
}
