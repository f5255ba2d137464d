//! A response body that reports how the call ended: the `grpc-status` of its trailers, or
//! nothing when the client went away first. Layers use it to count requests and hold
//! concurrency permits until a streamed response is complete, not just until its headers.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Called once with the call's gRPC status code (`None`: the stream was dropped unfinished).
pub(crate) type OnEnd = Box<dyn FnOnce(Option<tonic::Code>) + Send>;

/// Runs its callback exactly once: when told, or on drop.
pub(crate) struct Finisher(Option<OnEnd>);

impl Finisher {
    pub(crate) fn new(on_end: OnEnd) -> Self {
        Self(Some(on_end))
    }

    pub(crate) fn finish(&mut self, code: Option<tonic::Code>) {
        if let Some(f) = self.0.take() {
            f(code);
        }
    }
}

impl Drop for Finisher {
    fn drop(&mut self) {
        self.finish(None);
    }
}

/// The gRPC status in a header map (trailers, or headers of a trailers-only response).
pub(crate) fn grpc_code(headers: &http::HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .map(|v| tonic::Code::from_bytes(v.as_bytes()))
}

/// Wraps a body and finishes the [`Finisher`] at its trailers or its end.
pub(crate) struct ObservedBody {
    inner: tonic::body::Body,
    finisher: Finisher,
}

impl ObservedBody {
    pub(crate) fn new(inner: tonic::body::Body, finisher: Finisher) -> Self {
        Self { inner, finisher }
    }
}

impl Body for ObservedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        // `tonic::body::Body` is `Unpin`, so no pin projection is needed.
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = grpc_code(trailers).unwrap_or(tonic::Code::Ok);
                    this.finisher.finish(Some(code));
                }
            }
            Poll::Ready(Some(Err(_))) => this.finisher.finish(Some(tonic::Code::Internal)),
            Poll::Ready(None) => this.finisher.finish(Some(tonic::Code::Ok)),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
