//! The health loop and ejection together on tokio's paused clock: a dead endpoint (every
//! connection refused) is ejected by the probes alone, and each ejection ends in exactly one
//! half-open probe, whose failure doubles the ejection time up to `max_ejection`.

use std::time::Duration;

use tokio::time::Instant;

use crate::{
    backend::vast::VastBackend,
    config::{BreakerConfig, HealthConfig, VastConfig},
};

fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("http://{}", listener.local_addr().expect("addr"))
}

#[tokio::test(start_paused = true)]
async fn probes_eject_a_dead_endpoint_and_one_half_open_probe_per_ejection_doubles_it() {
    let config = VastConfig {
        endpoints: vec![dead_endpoint()],
        access_key: "access".to_owned(),
        secret_key: "secret".to_owned(),
        buckets: vec!["bucket".to_owned()],
        breaker: BreakerConfig {
            consecutive_failures: 3,
            base_ejection: Duration::from_secs(10),
            max_ejection: Duration::from_secs(40),
            ..Default::default()
        },
        health: HealthConfig {
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(100),
        },
        ..Default::default()
    };
    let backend = VastBackend::new(&config).expect("backend");
    let member = std::sync::Arc::clone(&backend.cluster.members()[0]);
    let start = Instant::now();
    // (seconds since start, probes so far, ejections so far, breaker state). A probe fails
    // at once (refused) or after its 100 ms timeout; each check keeps clear of both.
    let timeline = [
        (2.5, 2, 0, "closed"),
        (3.5, 3, 1, "open"),  // 3 failures in a row: out for 10 s
        (12.5, 3, 1, "open"), // no probe while ejected
        (14.5, 4, 2, "open"), // one half-open probe at ~13 s fails: out for 20 s
        (32.5, 4, 2, "open"),
        (35.0, 5, 3, "open"), // at ~33.5 s: out for 40 s
        (72.0, 5, 3, "open"),
        (75.0, 6, 4, "open"), // at ~73.5 s: out for 40 s again, the maximum
        (112.0, 6, 4, "open"),
    ];
    for (at, probes, ejections, state) in timeline {
        tokio::time::sleep_until(start + Duration::from_secs_f64(at)).await;
        let status = member.status();
        assert_eq!(
            (
                member.stats.probes(),
                status.ejections,
                status.breaker_state.as_str()
            ),
            (probes, ejections, state),
            "at {at} s"
        );
        assert!(!status.healthy, "at {at} s: {status:?}");
    }
}
