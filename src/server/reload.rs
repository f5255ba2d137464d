//! SIGHUP: read the tokens file and the TLS files again. What fails to load is logged and the
//! old one stays in use; connections and streams already open are not touched.

use std::sync::Arc;

use tokio_util::sync::{CancellationToken, DropGuard};

use super::tls::ServerTls;
use crate::state::AppState;

/// Reloads on every SIGHUP until the guard is dropped.
pub(super) fn on_hangup(state: Arc<AppState>, tls: Option<Arc<ServerTls>>) -> DropGuard {
    let stop = CancellationToken::new();
    let guard = stop.clone().drop_guard();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered before returning: a SIGHUP from now on reloads instead of killing.
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(err) => {
                tracing::error!("cannot listen for SIGHUP; reload needs a restart: {err}");
                return guard;
            }
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    received = hangups.recv() => if received.is_none() { return },
                }
                reload(&state, tls.as_deref());
            }
        });
    }
    #[cfg(not(unix))]
    drop((state, tls, stop));
    guard
}

fn reload(state: &AppState, tls: Option<&ServerTls>) {
    match state.gate.reload() {
        Ok(count) => tracing::info!(tokens = count, "SIGHUP: tokens reloaded"),
        Err(err) => tracing::error!("SIGHUP: tokens not reloaded, the old ones stay: {err}"),
    }
    if let Some(tls) = tls {
        match tls.reload() {
            Ok(()) => tracing::info!("SIGHUP: TLS certificates reloaded"),
            Err(err) => tracing::error!("SIGHUP: TLS not reloaded, the old files stay: {err}"),
        }
    }
}
