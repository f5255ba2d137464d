//! Seeded fault injection: latency, error responses (500, 503 `SlowDown`), dropped
//! connections and stalls in `query_data` responses.
//!
//! Set at start (`vastgate emulate --faults JSON`) or at run time with
//! `POST /_emulator/faults` and a JSON [`FaultConfig`] body (unauthenticated: the emulator is a
//! test tool on loopback). `times` bounds how many requests get a fault, so a retrying client
//! eventually succeeds; the same seed gives the same faults for the same request sequence.

use std::{sync::Mutex, time::Duration};

use axum::{
    body::Bytes,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde::{Deserialize, Serialize};

use super::call::S3Error;

/// What faults to inject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Seed of the random draws.
    pub seed: u64,
    /// Delay before answering any request, in milliseconds.
    pub latency_ms: u64,
    /// Probability that a `query_data` request gets an error status instead of data.
    pub error_rate: f64,
    /// The error status: 500 (InternalError) or 503 (SlowDown).
    pub error_status: u16,
    /// Drop the connection of a `query_data` response after this many frames.
    pub drop_after_frames: Option<u64>,
    /// Stop sending (without closing) after this many frames, for `stall_ms`.
    pub stall_after_frames: Option<u64>,
    /// How long a stall lasts, in milliseconds.
    pub stall_ms: u64,
    /// Probability that a `query_data` response gets the stall (`None`: every response).
    pub stall_rate: Option<f64>,
    /// How many `query_data` requests get a fault at most (`None` = unlimited).
    pub times: Option<u64>,
    /// Answer every request (probes and metadata too) with `error_status`: a node that is
    /// up but broken.
    pub error_every_request: bool,
}

/// What to do to one `query_data` response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct StreamFault {
    /// Close the connection after this many frames.
    pub(super) drop_after: Option<u64>,
    /// Pause after this many frames.
    pub(super) stall_after: Option<(u64, Duration)>,
}

/// The live fault state of an emulator.
#[derive(Debug)]
pub(super) struct Faults {
    inner: Mutex<(FaultConfig, SmallRng, u64)>,
}

impl Faults {
    pub(super) fn new(config: FaultConfig) -> Self {
        let rng = SmallRng::seed_from_u64(config.seed);
        Self {
            inner: Mutex::new((config, rng, 0)),
        }
    }

    fn config(&self) -> FaultConfig {
        match self.inner.lock() {
            Ok(guard) => guard.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    /// Replaces the configuration from a JSON body and resets the seed and counter.
    pub(super) fn configure(&self, body: &Bytes) -> Result<Response, S3Error> {
        let config: FaultConfig = serde_json::from_slice(body)
            .map_err(|e| S3Error::bad_request(format!("fault config: {e}")))?;
        let mut guard = match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = (config.clone(), SmallRng::seed_from_u64(config.seed), 0);
        tracing::info!(?config, "faults configured");
        Ok(StatusCode::OK.into_response())
    }

    /// Applies the latency to any request, and the error of `error_every_request`.
    pub(super) async fn before_request(&self) -> Result<(), S3Error> {
        let config = self.config();
        if config.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(config.latency_ms)).await;
        }
        if config.error_every_request {
            return Err(injected_error(config.error_status));
        }
        Ok(())
    }

    /// Draws the fault of one `query_data` request: an error response, or a stream fault.
    pub(super) fn for_query(&self) -> Result<StreamFault, S3Error> {
        let mut guard = match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (config, rng, used) = &mut *guard;
        if config.times.is_some_and(|times| *used >= times) {
            return Ok(StreamFault::default());
        }
        if config.error_rate > 0.0 && rng.random::<f64>() < config.error_rate {
            *used += 1;
            return Err(injected_error(config.error_status));
        }
        let stalls = config
            .stall_rate
            .is_none_or(|rate| rng.random::<f64>() < rate);
        let fault = StreamFault {
            drop_after: config.drop_after_frames,
            stall_after: config
                .stall_after_frames
                .filter(|_| stalls)
                .map(|n| (n, Duration::from_millis(config.stall_ms))),
        };
        if fault != StreamFault::default() {
            *used += 1;
        }
        Ok(fault)
    }
}

/// The injected error answer: 503 `SlowDown` or 500 `InternalError`.
fn injected_error(status: u16) -> S3Error {
    match status {
        503 => S3Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "injected fault: please reduce your request rate",
        ),
        _ => S3Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "injected fault",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stalled(faults: &Faults, requests: usize) -> usize {
        (0..requests)
            .filter(|_| faults.for_query().is_ok_and(|f| f.stall_after.is_some()))
            .count()
    }

    #[test]
    fn a_stall_rate_stalls_that_share_of_responses_and_none_means_all() {
        let mut config = FaultConfig {
            seed: 3,
            stall_after_frames: Some(1),
            stall_ms: 100,
            ..Default::default()
        };
        assert_eq!(stalled(&Faults::new(config.clone()), 100), 100);
        config.stall_rate = Some(0.05);
        let n = stalled(&Faults::new(config), 10_000);
        assert!((350..=650).contains(&n), "{n} of 10000 stalled at 5%");
    }
}
