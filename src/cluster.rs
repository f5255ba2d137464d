//! The VAST cluster layer: every endpoint as a tower service, and the one place where an
//! endpoint is chosen for a call. `backend/vast` speaks the protocol; this module decides
//! where each request goes and keeps the endpoints healthy.
//!
//! - Split reads are spread by tower's p2c balancer with peak-EWMA load held until the
//!   response body ends (`vast.balance = "round_robin"` to compare).
//! - Metadata calls (listings, stats, columns, transactions) go to the member in rotation
//!   with the lowest latency estimate; so do resumes and hedges, which must avoid the member
//!   that just failed or straggles, something a p2c pick cannot be told.
//! - An endpoint that keeps failing is ejected (Envoy-style, `vast.breaker`), probed by the
//!   health checks (`vast.health`) and let back in when a probe answers.
//!
//! # Layout
//! - `endpoint`: a member: transport, outcome accounting, the tower `Service`.
//! - `balance`: p2c over the rotation as tower discovery, or round-robin.
//! - `rotation`: which members are in rotation.
//! - `eject`: the ejection state machine of one member.
//! - `health`: the background probes.
//! - `hedge`: when a split is a straggler, and the hedge budget.
//! - `stats`: per-endpoint counters and Prometheus series.

mod balance;
mod eject;
mod endpoint;
mod health;
mod hedge;
mod rotation;
mod stats;

use std::sync::{Arc, OnceLock};

use self::endpoint::Balanced;
pub(crate) use self::endpoint::{Member, Routed};
use self::{balance::Balancer, hedge::Hedging, rotation::Rotation, stats::ClusterMetrics};
use crate::{
    backend::{
        BackendError, EndpointStatus,
        vast::client::{Call, Endpoint},
    },
    config::VastConfig,
};

/// The endpoints of one VAST cluster.
#[derive(Debug)]
pub(crate) struct Cluster {
    members: Arc<[Arc<Member>]>,
    rotation: Arc<Rotation>,
    balancer: Balancer,
    hedging: Hedging,
    metrics: ClusterMetrics,
    health: Vec<tokio::task::JoinHandle<()>>,
}

impl Cluster {
    /// A cluster over `endpoints` (not empty) with `[vast]`'s policies; `probe` is the health
    /// check's call. Must run inside a tokio runtime: the balancer and the probes are tasks.
    pub(crate) fn new(
        endpoints: Vec<Endpoint>,
        config: &VastConfig,
        probe: Call,
    ) -> Result<Self, BackendError> {
        if endpoints.is_empty() {
            return Err(BackendError::Invalid(
                "vast.endpoints must list at least one URL".to_owned(),
            ));
        }
        let metrics = ClusterMetrics::new();
        let rotation = Arc::new(Rotation::new(endpoints.len()));
        let members: Arc<[Arc<Member>]> = endpoints
            .into_iter()
            .enumerate()
            .map(|(index, transport)| {
                let series = metrics.endpoint(&transport.url);
                Arc::new(Member::new(
                    index,
                    transport,
                    config.breaker.clone(),
                    Arc::clone(&rotation),
                    series,
                ))
            })
            .collect();
        let balancer = Balancer::new(config.balance, &members, &rotation)?;
        let health = members
            .iter()
            .map(|m| health::spawn(Arc::clone(m), probe.clone(), config.health.clone()))
            .collect();
        Ok(Self {
            members,
            rotation,
            balancer,
            hedging: Hedging::new(config.hedge.clone()),
            metrics,
            health,
        })
    }

    /// Every member, in configured order.
    pub(crate) fn members(&self) -> &[Arc<Member>] {
        &self.members
    }

    /// A split read's request, to the member the balancer picks; `chosen` learns which as
    /// soon as it is picked.
    pub(crate) fn send_split(
        &self,
        call: Call,
        chosen: Arc<OnceLock<usize>>,
    ) -> futures::future::BoxFuture<'static, Result<Routed, BackendError>> {
        self.hedging.request_sent();
        self.balancer
            .send(Balanced { call, chosen }, &self.members, &self.rotation)
    }

    /// The member at `index` (a position in the configured list).
    pub(crate) fn member(&self, index: usize) -> Option<&Arc<Member>> {
        self.members.get(index)
    }

    /// The member for a metadata call, a resume or a hedge: in rotation, lowest latency
    /// estimate first, then fewest in flight; `avoid` only when nothing else is left.
    pub(crate) fn best(&self, avoid: Option<usize>) -> Arc<Member> {
        // Out of rotation sorts last, the avoided member just before; then latency × load.
        let class = |m: &Arc<Member>| (!self.rotation.contains(m.index), Some(m.index) == avoid);
        let cost =
            |m: &Arc<Member>| m.stats.latency_ms().max(1.0) * (m.stats.in_flight() + 1) as f64;
        let best = self
            .members
            .iter()
            .min_by(|a, b| class(a).cmp(&class(b)).then(cost(a).total_cmp(&cost(b))));
        Arc::clone(best.unwrap_or(&self.members[0]))
    }

    /// The hedging policy.
    pub(crate) fn hedging(&self) -> &Hedging {
        &self.hedging
    }

    /// A straggling split read was hedged onto `member`.
    pub(crate) fn hedged(&self, member: &Member) {
        member.stats.hedged();
        self.metrics.hedges.inc();
    }

    /// A split read resumed after a failure.
    pub(crate) fn resumed(&self) {
        self.metrics.resumes.inc();
    }

    /// What `ListEndpoints` shows.
    pub(crate) fn statuses(&self) -> Vec<EndpointStatus> {
        self.members.iter().map(|m| m.status()).collect()
    }

    /// The cluster's Prometheus series.
    pub(crate) fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        self.metrics.collectors()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for task in &self.health {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests;
