//! Outlier ejection for one endpoint, as Envoy does it: out of rotation after a run of
//! failures or a failure rate over a window, for an ejection time that doubles with each new
//! ejection; then half-open, where one health probe decides whether it comes back.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::BreakerConfig;

/// Where an endpoint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// In rotation.
    Closed,
    /// Ejected until the instant.
    Open(Instant),
    /// The ejection time is over: the next probe decides. `true` while that probe runs.
    HalfOpen(bool),
}

/// What an outcome changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing the rotation needs to know.
    None,
    /// Out of rotation for this long.
    Ejected(Duration),
    /// Back in rotation.
    Restored,
}

/// The ejection state of one endpoint.
#[derive(Debug)]
pub(crate) struct Ejection {
    phase: Phase,
    failures_in_a_row: u32,
    window_start: Instant,
    window_requests: u32,
    window_failures: u32,
    /// Ejections since the endpoint last stayed healthy for `max_ejection`: the exponent.
    recent_ejections: u32,
    restored_at: Option<Instant>,
    /// Every ejection since start.
    pub(crate) total_ejections: u64,
}

impl Ejection {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            phase: Phase::Closed,
            failures_in_a_row: 0,
            window_start: now,
            window_requests: 0,
            window_failures: 0,
            recent_ejections: 0,
            restored_at: None,
            total_ejections: 0,
        }
    }

    /// The phase at `now` (an ejection whose time is over reads as half-open).
    pub(crate) fn phase(&mut self, now: Instant) -> Phase {
        if let Phase::Open(until) = self.phase
            && now >= until
        {
            self.phase = Phase::HalfOpen(false);
        }
        self.phase
    }

    /// `closed`, `open` or `half_open`, as `ListEndpoints` shows it.
    pub(crate) fn state_name(&mut self, now: Instant) -> &'static str {
        match self.phase(now) {
            Phase::Closed => "closed",
            Phase::Open(_) => "open",
            Phase::HalfOpen(_) => "half_open",
        }
    }

    /// Makes the caller the half-open probe; `false` when not half-open or a probe already
    /// runs.
    pub(crate) fn start_probe(&mut self, now: Instant) -> bool {
        if self.phase(now) == Phase::HalfOpen(false) {
            self.phase = Phase::HalfOpen(true);
            return true;
        }
        false
    }

    /// A request or probe succeeded.
    pub(crate) fn success(&mut self, policy: &BreakerConfig, now: Instant) -> Change {
        match self.phase(now) {
            Phase::Closed => {
                self.failures_in_a_row = 0;
                self.count(policy, now, false);
                Change::None
            }
            // A late answer to a request sent before the ejection decides nothing.
            Phase::Open(_) => Change::None,
            Phase::HalfOpen(_) => {
                self.phase = Phase::Closed;
                self.failures_in_a_row = 0;
                self.window_start = now;
                self.window_requests = 0;
                self.window_failures = 0;
                self.restored_at = Some(now);
                Change::Restored
            }
        }
    }

    /// A request or probe failed in a way that is the endpoint's fault.
    pub(crate) fn failure(&mut self, policy: &BreakerConfig, now: Instant) -> Change {
        match self.phase(now) {
            Phase::Closed => {
                self.failures_in_a_row += 1;
                self.count(policy, now, true);
                let rate_exceeded = self.window_requests >= policy.min_requests
                    && f64::from(self.window_failures)
                        >= policy.failure_rate * f64::from(self.window_requests);
                if self.failures_in_a_row >= policy.consecutive_failures || rate_exceeded {
                    self.eject(policy, now)
                } else {
                    Change::None
                }
            }
            Phase::Open(_) => Change::None,
            // The probe failed: out again, for longer.
            Phase::HalfOpen(_) => self.eject(policy, now),
        }
    }

    fn count(&mut self, policy: &BreakerConfig, now: Instant, failed: bool) {
        if now.saturating_duration_since(self.window_start) >= policy.window {
            self.window_start = now;
            self.window_requests = 0;
            self.window_failures = 0;
        }
        self.window_requests += 1;
        self.window_failures += u32::from(failed);
    }

    fn eject(&mut self, policy: &BreakerConfig, now: Instant) -> Change {
        // Healthy for a whole max_ejection since the last return: start over at base_ejection.
        if self
            .restored_at
            .is_some_and(|at| now.saturating_duration_since(at) >= policy.max_ejection)
        {
            self.recent_ejections = 0;
        }
        let doubling = 2u32.saturating_pow(self.recent_ejections.min(20));
        let time = policy
            .base_ejection
            .saturating_mul(doubling)
            .min(policy.max_ejection);
        self.recent_ejections += 1;
        self.total_ejections += 1;
        self.phase = Phase::Open(now + time);
        Change::Ejected(time)
    }
}

#[cfg(test)]
mod tests;
