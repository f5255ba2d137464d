//! Per-call observability: a `query_id` (request extension, `x-query-id` response header, log
//! span), the in-flight gauge, and the request counter and latency histogram when the call ends.
//! Metric labels come from the closed set of methods in our descriptor set; anything else is
//! counted as `other`, so a client cannot grow the label space.

use std::{
    collections::HashSet,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use futures::future::BoxFuture;
use prost::Message;
use tower::{Layer, Service, ServiceExt};
use tracing::Instrument;

use super::body::{Finisher, ObservedBody, grpc_code};
use crate::{api::QueryId, metrics::Metrics, proto};

/// `(service, method)` pairs that may appear as metric labels.
#[derive(Debug)]
struct KnownMethods(HashSet<(String, String)>);

impl KnownMethods {
    fn load() -> Self {
        let mut known = HashSet::new();
        if let Ok(set) = prost_types::FileDescriptorSet::decode(proto::FILE_DESCRIPTOR_SET) {
            for file in set.file {
                for service in file.service {
                    let name = service.name().to_owned();
                    for method in service.method {
                        known.insert((name.clone(), method.name().to_owned()));
                    }
                }
            }
        }
        for (service, method) in [
            ("Health", "Check"),
            ("Health", "Watch"),
            ("ServerReflection", "ServerReflectionInfo"),
        ] {
            known.insert((service.to_owned(), method.to_owned()));
        }
        Self(known)
    }

    /// Labels for a request path `/pkg.Service/Method`.
    fn labels(&self, path: &str) -> (String, String) {
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let service = parts.next().unwrap_or_default();
        let service = service.rsplit('.').next().unwrap_or_default();
        let method = parts.next().unwrap_or_default();
        if self.0.contains(&(service.to_owned(), method.to_owned())) {
            (service.to_owned(), method.to_owned())
        } else {
            ("other".to_owned(), "other".to_owned())
        }
    }
}

/// Builds [`Observe`] services.
#[derive(Debug, Clone)]
pub(crate) struct ObserveLayer {
    metrics: Metrics,
    known: Arc<KnownMethods>,
}

impl ObserveLayer {
    pub(crate) fn new(metrics: Metrics) -> Self {
        Self {
            metrics,
            known: Arc::new(KnownMethods::load()),
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            layer: self.clone(),
        }
    }
}

/// See the module doc.
#[derive(Debug, Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    layer: ObserveLayer,
}

impl<S, B> Service<http::Request<B>> for Observe<S>
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

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let (service, method) = self.layer.known.labels(request.uri().path());
        let metrics = self.layer.metrics.clone();
        let query_id = QueryId::generate();
        request.extensions_mut().insert(query_id.clone());
        let span = tracing::info_span!("grpc", %service, %method, query_id = %query_id.0);
        let started = Instant::now();
        metrics.in_flight.inc();
        // Made here, not in the future: a future dropped before its first poll still counts
        // the call as ended.
        let mut finisher = {
            let span = span.clone();
            Finisher::new(Box::new(move |code: Option<tonic::Code>| {
                let elapsed = started.elapsed();
                metrics.in_flight.dec();
                let code = code.map_or("Cancelled".to_owned(), |c| format!("{c:?}"));
                metrics
                    .requests
                    .with_label_values(&[service.as_str(), method.as_str(), code.as_str()])
                    .inc();
                metrics
                    .request_duration
                    .with_label_values(&[service.as_str(), method.as_str()])
                    .observe(elapsed.as_secs_f64());
                span.in_scope(|| {
                    tracing::debug!(code = %code, elapsed_ms = elapsed.as_secs_f64() * 1e3, "call finished")
                });
            }))
        };
        Box::pin(
            async move {
                let mut response = match inner.oneshot(request).await {
                    Ok(response) => response,
                    Err(err) => {
                        finisher.finish(Some(tonic::Code::Internal));
                        return Err(err);
                    }
                };
                if let Ok(value) = http::HeaderValue::from_str(&query_id.0) {
                    response.headers_mut().insert("x-query-id", value);
                }
                if let Some(code) = grpc_code(response.headers()) {
                    // Trailers-only response: the call is over.
                    finisher.finish(Some(code));
                    return Ok(response);
                }
                Ok(response.map(|body| tonic::body::Body::new(ObservedBody::new(body, finisher))))
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use tower::{Layer, Service, ServiceExt, service_fn};

    use super::ObserveLayer;
    use crate::metrics::Metrics;

    fn request() -> http::Request<()> {
        http::Request::builder()
            .uri("/vastgate.v1.QueryService/Select")
            .body(())
            .unwrap()
    }

    /// A call counts as in flight until it ends, also when its future is dropped unpolled
    /// (the connection closed first) or while it waits for the response.
    #[tokio::test]
    async fn in_flight_returns_to_zero_however_a_call_ends() {
        let metrics = Metrics::new();
        let inner = service_fn(|_: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(tonic::Status::not_found("no such table").into_http())
        });
        let mut service = ObserveLayer::new(metrics.clone()).layer(inner);
        drop(service.call(request()));
        assert_eq!(metrics.in_flight.get(), 0, "dropped before its first poll");
        let pending =
            ObserveLayer::new(metrics.clone()).layer(service_fn(|_: http::Request<()>| {
                std::future::pending::<
                    Result<http::Response<tonic::body::Body>, std::convert::Infallible>,
                >()
            }));
        let waiting = pending.oneshot(request());
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(20), waiting).await;
        assert!(timed_out.is_err());
        assert_eq!(metrics.in_flight.get(), 0, "dropped while waiting");
        let response = service.oneshot(request()).await.unwrap();
        assert_eq!(response.headers()["grpc-status"], "5");
        assert_eq!(metrics.in_flight.get(), 0, "finished");
    }
}
