//! Time is passed in, so every instant is exact: no clock, no sleeping.

use std::time::Duration;

use tokio::time::Instant;

use super::*;

fn policy() -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: 3,
        failure_rate: 0.5,
        window: Duration::from_secs(10),
        min_requests: 10,
        base_ejection: Duration::from_secs(5),
        max_ejection: Duration::from_secs(30),
    }
}

#[test]
fn failures_in_a_row_eject_and_a_success_in_between_resets_them() {
    let p = policy();
    let t = Instant::now();
    let mut e = Ejection::new(t);
    assert_eq!(e.failure(&p, t), Change::None);
    assert_eq!(e.failure(&p, t), Change::None);
    assert_eq!(e.success(&p, t), Change::None);
    assert_eq!(e.failure(&p, t), Change::None);
    assert_eq!(e.failure(&p, t), Change::None);
    assert_eq!(e.failure(&p, t), Change::Ejected(Duration::from_secs(5)));
    assert_eq!(e.state_name(t), "open");
    assert_eq!(e.total_ejections, 1);
}

#[test]
fn a_failure_rate_over_the_window_ejects_once_enough_requests_came() {
    let p = policy();
    let t = Instant::now();
    let mut e = Ejection::new(t);
    // Alternating: never 3 in a row, but half of the requests fail.
    for i in 0..9 {
        let change = if i % 2 == 0 {
            e.failure(&p, t)
        } else {
            e.success(&p, t)
        };
        assert_eq!(change, Change::None, "request {i}: only {i} of 10 needed");
    }
    assert_eq!(e.failure(&p, t), Change::Ejected(Duration::from_secs(5)));
}

#[test]
fn a_new_window_forgets_the_failures_of_the_last() {
    let p = policy();
    let mut t = Instant::now();
    let mut e = Ejection::new(t);
    for _ in 0..4 {
        e.failure(&p, t);
        e.success(&p, t);
    }
    t += Duration::from_secs(11);
    // 8 of the old window's requests are gone: 2 more are not 10.
    assert_eq!(e.failure(&p, t), Change::None);
    assert_eq!(e.success(&p, t), Change::None);
    assert_eq!(e.state_name(t), "closed");
}

#[test]
fn ejection_time_doubles_up_to_the_maximum_and_one_probe_decides() {
    let p = policy();
    let mut t = Instant::now();
    let mut e = Ejection::new(t);
    for _ in 0..3 {
        e.failure(&p, t);
    }
    assert_eq!(e.state_name(t), "open");
    t += Duration::from_millis(4_999);
    assert_eq!(e.state_name(t), "open");
    assert!(!e.start_probe(t), "no probe while open");
    t += Duration::from_millis(1);
    assert_eq!(e.state_name(t), "half_open");
    // One probe at a time.
    assert!(e.start_probe(t));
    assert!(!e.start_probe(t));
    // It fails: out again for twice as long, then 4x, then capped at max_ejection.
    for expected in [10, 20, 30, 30] {
        assert_eq!(
            e.failure(&p, t),
            Change::Ejected(Duration::from_secs(expected))
        );
        t += Duration::from_secs(expected);
        assert!(e.start_probe(t));
    }
    // It succeeds: back in rotation.
    assert_eq!(e.success(&p, t), Change::Restored);
    assert_eq!(e.state_name(t), "closed");
    assert_eq!(e.total_ejections, 5);
    // Ejected again soon after: the doubling goes on.
    t += Duration::from_secs(1);
    for _ in 0..3 {
        e.failure(&p, t);
    }
    t += Duration::from_secs(29);
    assert_eq!(e.state_name(t), "open", "still the 30 s maximum");
    t += Duration::from_secs(1);
    assert!(e.start_probe(t));
    assert_eq!(e.success(&p, t), Change::Restored);
    // Healthy for max_ejection: the next ejection starts over at base_ejection.
    t += Duration::from_secs(30);
    for _ in 0..2 {
        e.failure(&p, t);
    }
    assert_eq!(e.failure(&p, t), Change::Ejected(Duration::from_secs(5)));
}

#[test]
fn late_answers_while_open_decide_nothing() {
    let p = policy();
    let t = Instant::now();
    let mut e = Ejection::new(t);
    for _ in 0..3 {
        e.failure(&p, t);
    }
    assert_eq!(e.success(&p, t), Change::None);
    assert_eq!(e.failure(&p, t), Change::None);
    assert_eq!(e.state_name(t), "open");
    assert_eq!(e.total_ejections, 1);
}
