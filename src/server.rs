//! Listeners, tower layers, routes and graceful shutdown.
//!
//! `serve` takes already-bound listeners, so tests bind `127.0.0.1:0` and never sleep. Layers,
//! outermost first: observe (query id, span, metrics) → authenticate (caller and role) →
//! admission (drain, concurrency limit with a bounded wait, `RESOURCE_EXHAUSTED` beyond) →
//! the services. With `[server.tls]`, connections come from our own TLS acceptor (`tls`),
//! whose certificates SIGHUP reloads (`reload`) along with the tokens.

mod admission;
mod authenticate;
mod body;
mod drain;
mod health;
mod http;
mod observe;
mod reload;
mod status_page;
mod tls;

pub use tls::TlsError;

use std::{
    future::{Future, IntoFuture},
    sync::Arc,
    time::Duration,
};

use arrow_flight::flight_service_server::FlightServiceServer;
use axum::serve::ListenerExt;
use futures::future::BoxFuture;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;

use crate::{
    allocator,
    api::{
        admin::AdminApi,
        analytics::AnalyticsApi,
        flight::{FlightApi, FlightRouter},
        flight_sql::FlightSqlApi,
        query::QueryApi,
    },
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
    /// The TLS certificate, key or client CA cannot be used.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

/// Largest gRPC message accepted or sent (Select chunks and Flight messages stay under it).
pub(crate) const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

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

/// How often gRPC health is brought in line with [`AppState::readiness`].
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// Serves gRPC on `grpc` and HTTP on `http` until `shutdown` completes, then drains: health
/// turns `NOT_SERVING`, new calls are refused, and calls in flight get up to
/// `server.shutdown_grace` to finish.
pub async fn serve(
    grpc: TcpListener,
    http: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let stop = CancellationToken::new();
    let config = &state.config.server;
    let _release = allocator::release_free_memory_every(config.memory_release_interval);
    let tls = if config.tls.enabled() {
        let tls = tls::ServerTls::load(&config.tls, state.gate.enabled())?;
        Some(Arc::new(tls))
    } else {
        None
    };

    let (health, health_service) = tonic_health::server::health_reporter();
    let _health =
        health::follow_readiness(Arc::clone(&state), health.clone(), HEALTH_INTERVAL).await;

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let admission =
        admission::AdmissionLayer::new(config.max_concurrent_requests, config.max_pending_requests)
            .draining(state.draining.clone())
            .counting(state.metrics.refused.clone());
    let layers = tower::ServiceBuilder::new()
        .layer(observe::ObserveLayer::new(state.metrics.clone()))
        .layer(authenticate::AuthenticateLayer::new(
            Arc::clone(&state.gate),
            state.metrics.refused.clone(),
        ))
        .layer(admission.clone())
        .into_inner();

    let router = tonic::transport::Server::builder()
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
            FlightServiceServer::new(FlightRouter::new(
                FlightApi::new(Arc::clone(&state)),
                FlightSqlApi::new(Arc::clone(&state)),
            ))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
        );
    let http_router = http::router(Arc::clone(&state));
    let (grpc_server, http_server): (BoxFuture<'_, _>, BoxFuture<'_, _>) = match &tls {
        None => (
            Box::pin(router.serve_with_incoming_shutdown(
                grpc_connections(grpc),
                stop.clone().cancelled_owned(),
            )),
            Box::pin(
                axum::serve(http_connections(http), http_router)
                    .with_graceful_shutdown(stop.clone().cancelled_owned())
                    .into_future(),
            ),
        ),
        Some(tls) => {
            let http_local = http.local_addr()?;
            let grpc_accepted = tls::accept(grpc, Arc::clone(tls), tls::Port::Grpc, stop.clone());
            let http_accepted = tls::accept(http, Arc::clone(tls), tls::Port::Http, stop.clone());
            (
                Box::pin(router.serve_with_incoming_shutdown(
                    tls::grpc_incoming(grpc_accepted),
                    stop.clone().cancelled_owned(),
                )),
                Box::pin(
                    axum::serve(
                        tls::HttpListener {
                            receiver: http_accepted,
                            local: http_local,
                        },
                        http_router,
                    )
                    .with_graceful_shutdown(stop.clone().cancelled_owned())
                    .into_future(),
                ),
            )
        }
    };
    let _reload = reload::on_hangup(Arc::clone(&state), tls.clone());

    let grace = config.shutdown_grace;
    let drain = drain::Drain {
        state: Arc::clone(&state),
        health,
        admission,
        stop: stop.clone(),
        grace,
    };
    tokio::spawn(async move {
        shutdown.await;
        drain.run().await;
    });

    let served = async {
        let (grpc_result, http_result) = tokio::join!(grpc_server, http_server);
        grpc_result?;
        http_result?;
        Ok::<(), ServeError>(())
    };
    tokio::pin!(served);
    tokio::select! {
        result = &mut served => result,
        // The drain stops the servers after the grace period; a connection that does not
        // close then is dropped with the process.
        _ = async { stop.cancelled().await; tokio::time::sleep(Duration::from_secs(1)).await } => {
            tracing::warn!("connections still open after the grace period; dropping them");
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
