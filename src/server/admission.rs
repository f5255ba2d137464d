//! Admission control: at most `max_concurrent` calls run; up to `max_pending` more wait; beyond
//! that a call is refused at once with `RESOURCE_EXHAUSTED`. A streamed response holds its slot
//! until the stream ends. Health and admin calls bypass the limit so operators can always see in.
//! While the service drains for shutdown, every call but a health check is refused with
//! `UNAVAILABLE`.

use std::{
    sync::{Arc, atomic::AtomicUsize},
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::{Layer, Service, ServiceExt};

use super::body::{Finisher, ObservedBody};
use crate::{
    metrics::{RefusalReason, Refusals},
    waiting::Waiting,
};

/// Builds [`Admission`] services sharing one set of slots.
#[derive(Debug, Clone)]
pub(crate) struct AdmissionLayer {
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    waiting: Arc<AtomicUsize>,
    max_pending: usize,
    draining: CancellationToken,
    refusals: Refusals,
}

impl AdmissionLayer {
    pub(crate) fn new(max_concurrent: usize, max_pending: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            waiting: Arc::new(AtomicUsize::new(0)),
            max_pending,
            draining: CancellationToken::new(),
            refusals: Refusals::default(),
        }
    }

    /// Counts refused calls into `refusals`.
    pub(crate) fn counting(mut self, refusals: Refusals) -> Self {
        self.refusals = refusals;
        self
    }

    /// Refuses new calls once `draining` is cancelled.
    pub(crate) fn draining(mut self, draining: CancellationToken) -> Self {
        self.draining = draining;
        self
    }

    /// Calls holding or waiting for a slot.
    pub(crate) fn in_flight(&self) -> usize {
        let running = self
            .max_concurrent
            .saturating_sub(self.slots.available_permits());
        running + self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = Admission<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admission {
            inner,
            layer: self.clone(),
        }
    }
}

/// See the module doc.
#[derive(Debug, Clone)]
pub(crate) struct Admission<S> {
    inner: S,
    layer: AdmissionLayer,
}

fn exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.")
        || path.starts_with("/vastgate.v1.AdminService/")
        || path.starts_with("/grpc.reflection.")
}

impl<S, B> Service<http::Request<B>> for Admission<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness of the inner service is awaited in `call`, after a slot is taken.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The clone is the ready-to-use one; see tower's guide on `Service::call` and cloning.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let path = request.uri().path();
            if layer.draining.is_cancelled() && !path.starts_with("/grpc.health.v1.") {
                layer.refusals.count(RefusalReason::Draining);
                return Ok(tonic::Status::unavailable(
                    "vastgate is shutting down; retry on another replica",
                )
                .into_http());
            }
            if exempt(path) {
                return inner.oneshot(request).await;
            }
            let permit = match Arc::clone(&layer.slots).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    let Ok(waiting) = Waiting::enter(&layer.waiting, layer.max_pending) else {
                        layer.refusals.count(RefusalReason::Capacity);
                        return Ok(tonic::Status::resource_exhausted(
                            "vastgate is at capacity (server.max_concurrent_requests running and \
                             server.max_pending_requests waiting); retry with backoff",
                        )
                        .into_http());
                    };
                    let permit = Arc::clone(&layer.slots).acquire_owned().await;
                    drop(waiting);
                    match permit {
                        Ok(permit) => permit,
                        Err(_) => {
                            return Ok(
                                tonic::Status::unavailable("server is shutting down").into_http()
                            );
                        }
                    }
                }
            };
            let response = inner.oneshot(request).await?;
            let finisher = Finisher::new(Box::new(move |_| drop(permit)));
            Ok(response.map(|body| tonic::body::Body::new(ObservedBody::new(body, finisher))))
        })
    }
}

#[cfg(test)]
mod tests;
