//! Active health checks: every `health.interval` the version probe goes to each endpoint, so
//! a dead endpoint is found before a user request hits it; an ejected endpoint is probed
//! once its ejection time is over, and that probe decides whether it comes back.

use std::sync::Arc;

use tokio::{task::JoinHandle, time::Instant};

use super::endpoint::Member;
use crate::{backend::vast::client::Call, config::HealthConfig};

/// Starts probing `member` with `probe`; the task ends when the handle is aborted.
pub(crate) fn spawn(member: Arc<Member>, probe: Call, config: HealthConfig) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut next = Instant::now() + config.interval;
        loop {
            let now = Instant::now();
            // An ejected member is left alone until its ejection ends.
            let wake = member
                .ejected_until(now)
                .map_or(next, |until| until.max(now));
            tokio::time::sleep_until(wake).await;
            let now = Instant::now();
            if member.ejected_until(now).is_some() {
                continue;
            }
            let half_open = member.start_probe(now);
            if half_open || now >= next {
                member.probe(&probe, config.timeout).await;
                next = Instant::now() + config.interval;
            }
            member.publish(Instant::now());
        }
    })
}
