//! Admission control: at most `max_concurrent` calls run; up to `max_pending` more wait; beyond
//! that a call is refused at once with `RESOURCE_EXHAUSTED`. A streamed response holds its slot
//! until the stream ends. Health and admin calls bypass the limit so operators can always see in.

use std::{
    sync::{Arc, atomic::AtomicUsize},
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};

use super::body::{Finisher, ObservedBody};
use crate::waiting::Waiting;

/// Builds [`Admission`] services sharing one set of slots.
#[derive(Debug, Clone)]
pub(crate) struct AdmissionLayer {
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_pending: usize,
}

impl AdmissionLayer {
    pub(crate) fn new(max_concurrent: usize, max_pending: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_concurrent)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_pending,
        }
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
            if exempt(request.uri().path()) {
                return inner.oneshot(request).await;
            }
            let permit = match Arc::clone(&layer.slots).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    let Ok(waiting) = Waiting::enter(&layer.waiting, layer.max_pending) else {
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
mod tests {
    use std::{sync::Arc, time::Duration};

    use tokio::sync::Semaphore;
    use tower::{Layer, ServiceExt, service_fn};

    use super::AdmissionLayer;

    type Response = http::Response<tonic::body::Body>;

    fn request() -> http::Request<()> {
        http::Request::builder()
            .uri("/vastgate.v1.QueryService/Select")
            .body(())
            .unwrap()
    }

    fn grpc_status(response: &Response) -> Option<String> {
        response
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// A call that gave up while waiting for a slot frees its place in the queue.
    #[tokio::test]
    async fn a_call_dropped_while_waiting_frees_its_place() {
        // Calls of the inner service block until the gate opens.
        let gate = Arc::new(Semaphore::new(0));
        let inner = {
            let gate = Arc::clone(&gate);
            service_fn(move |_: http::Request<()>| {
                let gate = Arc::clone(&gate);
                async move {
                    drop(gate.acquire().await);
                    Ok::<_, std::convert::Infallible>(Response::new(tonic::body::Body::empty()))
                }
            })
        };
        // One slot, one place in the queue.
        let service = AdmissionLayer::new(1, 1).layer(inner);
        let running = tokio::spawn(service.clone().oneshot(request()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The second call waits, then its client goes away.
        let gave_up = tokio::time::timeout(
            Duration::from_millis(50),
            service.clone().oneshot(request()),
        )
        .await;
        assert!(gave_up.is_err(), "the second call should still be waiting");
        // The queue place is free again: the next call waits instead of being refused.
        let waiting = tokio::spawn(service.clone().oneshot(request()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "refused although nobody waits");
        // With the queue full, one more call is refused at once.
        let refused = service.clone().oneshot(request()).await.unwrap();
        assert_eq!(grpc_status(&refused).as_deref(), Some("8"));
        gate.add_permits(Semaphore::MAX_PERMITS / 2);
        let first = running.await.unwrap().unwrap();
        assert_eq!(grpc_status(&first), None);
        let second = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting call runs once the slot is free")
            .unwrap()
            .unwrap();
        assert_eq!(grpc_status(&second), None);
    }
}
