//! A circuit breaker per endpoint, and the endpoint choice that honours it.
//!
//! After [`OPEN_AFTER`] failures in a row an endpoint is *open*: calls go to the other
//! endpoints without first paying its connect timeout. After [`COOL_DOWN`] it is *half-open*:
//! one call at a time probes it; a success closes it, a failure opens it again. The breaker
//! steers and never refuses on its own: when every endpoint is open, calls still go out (to
//! the least loaded), so a cluster that recovers is found again by the next request.

use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use super::client::Endpoint;

/// Failures in a row that open the breaker.
pub(crate) const OPEN_AFTER: u32 = 3;
/// How long an open breaker keeps calls away before letting a probe through.
pub(crate) const COOL_DOWN: Duration = Duration::from_secs(5);

/// The breaker of one endpoint.
#[derive(Debug, Default)]
pub(crate) struct Breaker {
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Closed,
    /// Counting failures in a row while closed.
    Failing(u32),
    /// Opened at the given instant.
    Open(Instant),
    /// A probe went out at the given instant; others wait for its outcome (or for another
    /// cool-down, in case the probe's outcome is never reported).
    HalfOpen(Instant),
}

impl Breaker {
    /// Whether a call may go to this endpoint at `now`; a `true` from an open breaker whose
    /// cool-down has passed makes this call the probe.
    pub(crate) fn allow(&self, now: Instant) -> bool {
        let mut state = self.lock();
        match *state {
            State::Closed | State::Failing(_) => true,
            State::Open(since) | State::HalfOpen(since) => {
                if now.saturating_duration_since(since) >= COOL_DOWN {
                    *state = State::HalfOpen(now);
                    true
                } else {
                    false
                }
            }
        }
    }

    /// A call completed: the endpoint works.
    pub(crate) fn success(&self) {
        *self.lock() = State::Closed;
    }

    /// A call failed in a way another endpoint might not.
    pub(crate) fn failure(&self, now: Instant) {
        let mut state = self.lock();
        *state = match *state {
            State::Closed => State::Failing(1),
            State::Failing(n) if n + 1 >= OPEN_AFTER => State::Open(now),
            State::Failing(n) => State::Failing(n + 1),
            State::Open(since) => State::Open(since),
            State::HalfOpen(_) => State::Open(now),
        };
    }

    /// `closed`, `open` or `half_open`, as `ListEndpoints` shows it.
    pub(crate) fn state_name(&self, now: Instant) -> &'static str {
        match *self.lock() {
            State::Closed | State::Failing(_) => "closed",
            State::Open(since) if now.saturating_duration_since(since) < COOL_DOWN => "open",
            State::Open(_) | State::HalfOpen(_) => "half_open",
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The endpoint for the next call: among those whose breaker lets the call through, the one
/// with the fewest calls in flight, ties going to the first after `start` in round-robin
/// order; `avoid` (the endpoint that just failed) only when it is the only one. When every
/// breaker is open, the least loaded endpoint anyway. `endpoints` must not be empty.
pub(crate) fn pick(endpoints: &[Endpoint], start: usize, avoid: Option<usize>) -> usize {
    let n = endpoints.len().max(1);
    let now = Instant::now();
    let mut candidates: Vec<usize> = (0..n)
        .map(|i| (start + i) % n)
        .filter(|&i| n == 1 || Some(i) != avoid)
        .collect();
    // Stable: equal loads keep the round-robin order.
    candidates.sort_by_key(|&i| endpoints[i].stats.in_flight());
    // `allow` may make this call an open breaker's probe: ask in order, stop at the first yes.
    candidates
        .iter()
        .copied()
        .find(|&i| endpoints[i].stats.breaker.allow(now))
        .or_else(|| candidates.first().copied())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_failures_in_a_row_and_probes_after_the_cool_down() {
        let b = Breaker::default();
        let t0 = Instant::now();
        assert!(b.allow(t0));
        b.failure(t0);
        b.failure(t0);
        b.success(); // a success in between resets the count
        for _ in 0..OPEN_AFTER - 1 {
            b.failure(t0);
        }
        assert_eq!(b.state_name(t0), "closed");
        b.failure(t0);
        assert_eq!(b.state_name(t0), "open");
        assert!(!b.allow(t0 + COOL_DOWN / 2));
        // After the cool-down one probe goes through; others wait for it.
        let t1 = t0 + COOL_DOWN;
        assert_eq!(b.state_name(t1), "half_open");
        assert!(b.allow(t1));
        assert!(!b.allow(t1 + Duration::from_millis(1)));
        // The probe fails: open again, for a whole new cool-down.
        b.failure(t1);
        assert!(!b.allow(t1 + COOL_DOWN / 2));
        let t2 = t1 + COOL_DOWN;
        assert!(b.allow(t2));
        b.success();
        assert_eq!(b.state_name(t2), "closed");
        assert!(b.allow(t2));
    }

    #[test]
    fn a_lost_probe_does_not_keep_the_breaker_half_open_forever() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for _ in 0..OPEN_AFTER {
            b.failure(t0);
        }
        assert!(b.allow(t0 + COOL_DOWN));
        // Its outcome never comes back; one cool-down later another probe may go.
        assert!(b.allow(t0 + 2 * COOL_DOWN));
    }
}
