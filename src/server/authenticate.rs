//! Authentication before any handler: the layer asks the [`Gate`] who is calling and whether
//! the caller's role allows the method, puts the [`Caller`](crate::auth::Caller) in the
//! request's extensions for the handlers, and refuses the call otherwise.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::{BoxFuture, Either};
use tower::{Layer, Service};

use super::tls::PeerInfo;
use crate::{
    auth::{self, Gate, Refusal},
    metrics::{RefusalReason, Refusals},
};

/// Builds [`Authenticate`] services sharing one gate.
#[derive(Debug, Clone)]
pub(crate) struct AuthenticateLayer {
    gate: Arc<Gate>,
    refusals: Refusals,
}

impl AuthenticateLayer {
    pub(crate) fn new(gate: Arc<Gate>, refusals: Refusals) -> Self {
        Self { gate, refusals }
    }
}

impl<S> Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            gate: Arc::clone(&self.gate),
            refusals: self.refusals.clone(),
        }
    }
}

/// See the module doc.
#[derive(Debug, Clone)]
pub(crate) struct Authenticate<S> {
    inner: S,
    gate: Arc<Gate>,
    refusals: Refusals,
}

impl<S, B> Service<http::Request<B>> for Authenticate<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Either<S::Future, BoxFuture<'static, Result<Self::Response, Self::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let peer = request.extensions().get::<PeerInfo>().map(|p| &p.names);
        let authorization = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        let identified = self.gate.identify(authorization, peer);
        let verdict = match identified {
            Ok(caller) => auth::may_call(&caller, path).map(|()| caller),
            Err(refusal) if auth::needs_no_identity(path) => {
                tracing::trace!(%refusal, "no identity needed for {path}");
                Ok(auth::unidentified())
            }
            Err(refusal) => Err(refusal),
        };
        match verdict {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                Either::Left(self.inner.call(request))
            }
            Err(refusal) => {
                tracing::debug!(path, %refusal, "call refused at the gate");
                let (status, reason) = match refusal {
                    Refusal::Unauthenticated(m) => (
                        tonic::Status::unauthenticated(m),
                        RefusalReason::Unauthenticated,
                    ),
                    Refusal::PermissionDenied(m) => (
                        tonic::Status::permission_denied(m),
                        RefusalReason::PermissionDenied,
                    ),
                };
                self.refusals.count(reason);
                Either::Right(Box::pin(async move { Ok(status.into_http()) }))
            }
        }
    }
}
