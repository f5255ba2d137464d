//! Listeners, tower layers, routes and graceful shutdown.
//!
//! `serve` takes already-bound listeners, so tests bind `127.0.0.1:0` and never sleep. Layers,
//! outermost first: observe (query id, span, metrics) → admission (concurrency limit with a
//! bounded wait, `RESOURCE_EXHAUSTED` beyond) → tonic's timeout → the services.

mod admission;
mod body;
mod http;
mod observe;

use std::{
    future::{Future, IntoFuture},
    sync::Arc,
    time::Duration,
};

use arrow_flight::flight_service_server::FlightServiceServer;
use axum::serve::ListenerExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;

use crate::{
    allocator,
    api::{admin::AdminApi, analytics::AnalyticsApi, flight::FlightApi, query::QueryApi},
    proto::{
        self, admin_service_server::AdminServiceServer,
        analytics_service_server::AnalyticsServiceServer, query_service_server::QueryServiceServer,
    },
    state::AppState,
};

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Grpc(#[from] tonic::transport::Error),
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Http(#[from] std::io::Error),
    /// Reflection could not load our descriptors.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Largest gRPC message accepted or sent (Select chunks and Flight messages stay under it).
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Turns Nagle's algorithm off on an accepted connection. With it on, the last segment of a
/// large response waits for the client's delayed ACK.
pub(crate) fn send_without_delay(tcp: &TcpStream) {
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!("TCP_NODELAY not set on an accepted connection: {err}");
    }
}

/// `listener`'s connections for an axum server, Nagle off ([`send_without_delay`]).
pub(crate) fn http_connections(
    listener: TcpListener,
) -> impl axum::serve::Listener<Io = TcpStream, Addr = std::net::SocketAddr> {
    listener.tap_io(|tcp| send_without_delay(tcp))
}

/// `listener`'s connections for the gRPC server, Nagle off ([`send_without_delay`]).
fn grpc_connections(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Serves gRPC on `grpc` and HTTP on `http` until `shutdown` completes, then drains in-flight
/// calls for up to `server.shutdown_grace`.
pub async fn serve(
    grpc: TcpListener,
    http: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let stop = CancellationToken::new();
    let config = &state.config.server;
    let _release = allocator::release_free_memory_every(config.memory_release_interval);

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<QueryServiceServer<QueryApi>>().await;
    health
        .set_serving::<AnalyticsServiceServer<AnalyticsApi>>()
        .await;
    health.set_serving::<AdminServiceServer<AdminApi>>().await;
    health.set_serving::<FlightServiceServer<FlightApi>>().await;

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let layers = tower::ServiceBuilder::new()
        .layer(observe::ObserveLayer::new(state.metrics.clone()))
        .layer(admission::AdmissionLayer::new(
            config.max_concurrent_requests,
            config.max_pending_requests,
        ))
        .into_inner();

    let grpc_server = tonic::transport::Server::builder()
        // A safety net for unary calls; data calls carry their own deadline (see api::tracked).
        .timeout(config.request_timeout + Duration::from_secs(1))
        .layer(layers)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            QueryServiceServer::new(QueryApi::new(Arc::clone(&state)))
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            AnalyticsServiceServer::new(AnalyticsApi::new(Arc::clone(&state)))
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(AdminServiceServer::new(AdminApi::new(Arc::clone(&state))))
        .add_service(
            FlightServiceServer::new(FlightApi::new(Arc::clone(&state)))
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(grpc_connections(grpc), stop.clone().cancelled_owned());

    let http_server = axum::serve(http_connections(http), http::router(Arc::clone(&state)))
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .into_future();

    let grace = config.shutdown_grace;
    let trigger = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight calls");
        trigger.cancel();
    });

    let drained = async {
        let (grpc_result, http_result) = tokio::join!(grpc_server, http_server);
        grpc_result?;
        http_result?;
        Ok::<(), ServeError>(())
    };
    tokio::pin!(drained);
    tokio::select! {
        result = &mut drained => result,
        _ = async { stop.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "shutdown grace period over; dropping remaining calls");
            Ok(())
        }
    }
}

/// Completes on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener;
    use futures::StreamExt;

    use super::*;

    async fn loopback() -> (TcpListener, std::net::SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    }

    #[tokio::test]
    async fn accepted_grpc_connections_send_without_delay() {
        let (listener, addr) = loopback().await;
        let mut incoming = grpc_connections(listener);
        let _client = TcpStream::connect(addr).await.unwrap();
        let accepted = incoming.next().await.unwrap().unwrap();
        assert!(accepted.nodelay().unwrap());
    }

    #[tokio::test]
    async fn accepted_http_connections_send_without_delay() {
        let (listener, addr) = loopback().await;
        let mut listener = http_connections(listener);
        let _client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap());
    }
}
