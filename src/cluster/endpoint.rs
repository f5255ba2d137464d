//! One cluster member: an endpoint's transport with its ejection state, counters and metrics,
//! and the tower `Service` the balancer drives. Every call to VAST goes through
//! [`Member::send`], so every outcome reaches ejection, `ListEndpoints` and `/metrics`.

use std::{
    sync::{Arc, Mutex, OnceLock, PoisonError},
    task::{Context, Poll},
};

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use http::HeaderMap;
use hyper::body::Incoming;
use tokio::time::Instant;
use tower::{Service, load::peak_ewma};

use super::{
    eject::{Change, Ejection, Phase},
    rotation::Rotation,
    stats::{EndpointMetrics, EndpointStats},
};
use crate::{
    backend::vast::client::{Call, Endpoint},
    backend::{BackendError, EndpointStatus},
    config::BreakerConfig,
};

/// One endpoint of the cluster.
#[derive(Debug)]
pub(crate) struct Member {
    /// Position in the configured endpoint list (the balancer's key).
    pub(crate) index: usize,
    /// The configured URL, as messages and metrics name it.
    pub(crate) url: String,
    transport: Endpoint,
    pub(crate) stats: EndpointStats,
    ejection: Mutex<Ejection>,
    policy: BreakerConfig,
    rotation: Arc<Rotation>,
    metrics: EndpointMetrics,
}

/// A response head from a member, with its body still to read. The request counts as in
/// flight — for `ListEndpoints`, `/metrics` and the balancer's load — until the body has
/// ended or this is dropped.
#[derive(Debug)]
pub(crate) struct Routed {
    pub(crate) member: Arc<Member>,
    pub(crate) headers: HeaderMap,
    body: Incoming,
    started: Instant,
    _in_flight: InFlight,
    /// The balancer's load handle (p2c only), released with the body.
    pub(crate) load: Option<peak_ewma::Handle>,
    /// The outcome is recorded (once per request).
    ended: bool,
}

#[derive(Debug)]
struct InFlight(Arc<Member>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.stats.ended();
        self.0.metrics.in_flight.dec();
    }
}

impl Member {
    pub(crate) fn new(
        index: usize,
        transport: Endpoint,
        policy: BreakerConfig,
        rotation: Arc<Rotation>,
        metrics: EndpointMetrics,
    ) -> Self {
        Self {
            index,
            url: transport.url.clone(),
            transport,
            stats: EndpointStats::default(),
            ejection: Mutex::new(Ejection::new(Instant::now())),
            policy,
            rotation,
            metrics,
        }
    }

    /// The transport, for calls that are not part of the service's traffic (benchmarks).
    #[cfg(feature = "bench")]
    pub(crate) fn transport(&self) -> &Endpoint {
        &self.transport
    }

    /// Sends `call`; a status other than 200 becomes an error.
    pub(crate) async fn send(self: &Arc<Self>, call: &Call) -> Result<Routed, BackendError> {
        self.stats.started();
        self.metrics.in_flight.inc();
        let in_flight = InFlight(Arc::clone(self));
        let started = Instant::now();
        match self.transport.send(call).await {
            Ok(response) => {
                self.stats.answered(started.elapsed());
                let (parts, body) = response.into_parts();
                Ok(Routed {
                    member: Arc::clone(self),
                    headers: parts.headers,
                    body,
                    started,
                    _in_flight: in_flight,
                    load: None,
                    ended: false,
                })
            }
            Err(err) => {
                // A refusal is an answer; a connect error or a timeout says nothing of latency.
                if !err.is_retryable() {
                    self.stats.answered(started.elapsed());
                }
                self.ended(started, Err(&err));
                Err(err)
            }
        }
    }

    /// Sends `call` and reads the whole body.
    pub(crate) async fn send_full(
        self: &Arc<Self>,
        call: &Call,
    ) -> Result<(HeaderMap, Bytes), BackendError> {
        let mut routed = self.send(call).await?;
        let mut body = BytesMut::new();
        while let Some(chunk) = routed.next_chunk(call).await? {
            body.extend_from_slice(&chunk);
        }
        Ok((std::mem::take(&mut routed.headers), body.freeze()))
    }

    /// A health probe: not counted as traffic, but it decides ejection like a request.
    pub(crate) async fn probe(&self, call: &Call, timeout: std::time::Duration) -> bool {
        let result = match tokio::time::timeout(timeout, self.transport.send_full(call)).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(BackendError::Unavailable {
                endpoint: self.url.clone(),
                message: format!("{}: no answer within {timeout:?}", call.what),
            }),
        };
        self.stats.probed(result.is_ok());
        match &result {
            Ok(()) => self.record(true),
            Err(err) => {
                self.stats.failed_probe(err.to_string());
                self.record(false);
            }
        }
        result.is_ok()
    }

    /// A request's end: its outcome feeds the counters, the metrics and ejection.
    fn ended(&self, started: Instant, outcome: Result<(), &BackendError>) {
        self.metrics
            .duration
            .observe(started.elapsed().as_secs_f64());
        match outcome {
            Ok(()) => {
                self.metrics.succeeded.inc();
                self.record(true);
            }
            // Connect errors, timeouts, 5xx, dropped bodies: another endpoint may do better.
            Err(err) if err.is_retryable() => {
                self.metrics.failed.inc();
                self.stats.failed(err.to_string());
                self.record(false);
            }
            // A missing table or a bad filter is the request's fault; the endpoint answered.
            Err(_) => {
                self.metrics.refused.inc();
                self.record(true);
            }
        }
    }

    fn record(&self, ok: bool) {
        let now = Instant::now();
        let mut ejection = self.ejection.lock().unwrap_or_else(PoisonError::into_inner);
        let change = if ok {
            ejection.success(&self.policy, now)
        } else {
            ejection.failure(&self.policy, now)
        };
        match change {
            Change::None => {}
            Change::Ejected(time) => {
                self.metrics.ejections.inc();
                if self.rotation.leave(self.index) {
                    tracing::warn!(endpoint = %self.url, ?time, last_error = %self.stats.last_error(), "VAST endpoint ejected");
                } else {
                    tracing::warn!(endpoint = %self.url, ?time, "VAST endpoint ejected, but kept in rotation as the last one");
                }
            }
            Change::Restored => {
                self.rotation.join(self.index);
                tracing::info!(endpoint = %self.url, "VAST endpoint back in rotation");
            }
        }
        drop(ejection);
        self.publish(now);
    }

    /// Makes the caller the half-open probe (see [`Ejection::start_probe`]).
    pub(crate) fn start_probe(&self, now: Instant) -> bool {
        self.lock_ejection().start_probe(now)
    }

    /// When the endpoint is ejected, the end of its ejection.
    pub(crate) fn ejected_until(&self, now: Instant) -> Option<Instant> {
        match self.lock_ejection().phase(now) {
            Phase::Open(until) => Some(until),
            Phase::Closed | Phase::HalfOpen(_) => None,
        }
    }

    /// Healthy: not ejected, and its last probe (if any) answered.
    pub(crate) fn healthy(&self, now: Instant) -> bool {
        let closed = self.lock_ejection().phase(now) == Phase::Closed;
        closed && self.stats.last_probe().is_none_or(|(_, ok)| ok)
    }

    /// Updates the state gauges (ejection ends by time, so the health loop calls this too).
    pub(crate) fn publish(&self, now: Instant) {
        let state = match self.lock_ejection().phase(now) {
            Phase::Closed => 0,
            Phase::HalfOpen(_) => 1,
            Phase::Open(_) => 2,
        };
        self.metrics.breaker_state.set(state);
        self.metrics.up.set(i64::from(self.healthy(now)));
    }

    /// What `ListEndpoints` shows.
    pub(crate) fn status(&self) -> EndpointStatus {
        let now = Instant::now();
        let (breaker_state, ejections) = {
            let mut ejection = self.lock_ejection();
            (
                ejection.state_name(now).to_owned(),
                ejection.total_ejections,
            )
        };
        let requests = self.stats.requests();
        let errors = self.stats.errors();
        EndpointStatus {
            url: self.url.clone(),
            healthy: self.healthy(now),
            breaker_state,
            latency_ms: self.stats.latency_ms(),
            error_rate: if requests == 0 {
                0.0
            } else {
                errors as f64 / requests as f64
            },
            in_flight: u32::try_from(self.stats.in_flight()).unwrap_or(u32::MAX),
            requests,
            errors,
            ejections,
            hedges: self.stats.hedges(),
            last_error: self.stats.last_error(),
            last_probe: self.stats.last_probe(),
        }
    }

    fn lock_ejection(&self) -> std::sync::MutexGuard<'_, Ejection> {
        self.ejection.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Routed {
    /// The next chunk of the body (`None` at its end), within the endpoint's timeout.
    pub(crate) async fn next_chunk(&mut self, call: &Call) -> Result<Option<Bytes>, BackendError> {
        match self.member.transport.next_chunk(call, &mut self.body).await {
            Ok(None) => {
                self.complete();
                Ok(None)
            }
            Ok(Some(chunk)) => Ok(Some(chunk)),
            Err(err) => {
                if !std::mem::replace(&mut self.ended, true) {
                    self.member.ended(self.started, Err(&err));
                }
                Err(err)
            }
        }
    }

    /// The response is whole (its last frame was read): a success for the member.
    pub(crate) fn complete(&mut self) {
        if !std::mem::replace(&mut self.ended, true) {
            self.member.ended(self.started, Ok(()));
        }
    }
}

/// A split request for the balancer, and where the balancer sent it (known before the
/// answer, so a hedge can avoid a member that does not answer at all).
#[derive(Debug)]
pub(crate) struct Balanced {
    pub(crate) call: Call,
    pub(crate) chosen: Arc<OnceLock<usize>>,
}

/// A member as the balancer sees it: always ready (the HTTP pool queues by itself).
#[derive(Debug, Clone)]
pub(crate) struct MemberService(pub(crate) Arc<Member>);

impl Service<Balanced> for MemberService {
    type Response = Routed;
    type Error = BackendError;
    type Future = BoxFuture<'static, Result<Routed, BackendError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BackendError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Balanced) -> Self::Future {
        let member = Arc::clone(&self.0);
        let _ = request.chosen.set(member.index);
        Box::pin(async move { member.send(&request.call).await })
    }
}
