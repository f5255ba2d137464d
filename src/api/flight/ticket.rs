//! Flight tickets: the signed body (`FlightTicketBody`) followed by its HMAC-SHA256.
//!
//! A ticket names the command and the split it reads and carries an expiry; the HMAC (key from
//! `flight.ticket_key`, or random per process) makes it tamper-proof, so `DoGet` can trust it
//! without server-side state.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use prost::Message;
use sha2::Sha256;

use crate::proto::{FlightCommand, FlightTicketBody};

type HmacSha256 = Hmac<Sha256>;
const MAC_LEN: usize = 32;

/// Why a ticket was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TicketError {
    /// Too short, or the signature does not match: altered or not ours.
    #[error(
        "invalid ticket: it was altered or not issued by this server; call GetFlightInfo again"
    )]
    Tampered,
    /// Signed by us but unreadable (a bug or a key shared with an incompatible version).
    #[error("invalid ticket: {0}")]
    Malformed(String),
    /// Past its expiry.
    #[error("ticket expired {0} s ago (flight.ticket_ttl); call GetFlightInfo again")]
    Expired(u64),
    /// Issued to another caller.
    #[error("this ticket was issued to another caller; call GetFlightInfo with your own token")]
    OtherCaller,
}

/// Signs and checks tickets.
#[derive(Clone)]
pub(crate) struct TicketSigner {
    key: Vec<u8>,
    ttl: Duration,
}

impl std::fmt::Debug for TicketSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketSigner")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Refuses what expired at `expires_unix` or was issued to `holder` when `caller` presents it.
pub(crate) fn check_holder(
    expires_unix: i64,
    holder: &str,
    caller: &str,
) -> Result<(), TicketError> {
    let now = now_unix();
    if expires_unix < now {
        return Err(TicketError::Expired(now.abs_diff(expires_unix)));
    }
    if holder != caller {
        return Err(TicketError::OtherCaller);
    }
    Ok(())
}

impl TicketSigner {
    /// Uses `key` when non-empty, else 32 random bytes (tickets then die with the process).
    pub(crate) fn new(key: &str, ttl: Duration) -> Self {
        let key = if key.is_empty() {
            rand::random::<[u8; 32]>().to_vec()
        } else {
            key.as_bytes().to_vec()
        };
        Self { key, ttl }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        <HmacSha256 as KeyInit>::new_from_slice(&self.key).unwrap_or_else(|_| {
            <HmacSha256 as KeyInit>::new_from_slice(&[0u8; 32]).expect("fixed-size key")
        })
    }

    /// A ticket for split `split` of `num_splits` of `command`.
    pub(crate) fn sign(
        &self,
        command: &FlightCommand,
        split: u32,
        num_splits: u32,
        caller: &str,
    ) -> Vec<u8> {
        let body = FlightTicketBody {
            caller: caller.to_owned(),
            command: Some(command.clone()),
            split,
            num_splits,
            expires_unix: self.expiry(),
        };
        self.seal(body.encode_to_vec())
    }

    /// Unix seconds at which what is signed now expires (`flight.ticket_ttl`).
    pub(crate) fn expiry(&self) -> i64 {
        now_unix().saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX))
    }

    /// `body` followed by its HMAC.
    pub(crate) fn seal(&self, mut body: Vec<u8>) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(&body);
        body.extend_from_slice(&mac.finalize().into_bytes());
        body
    }

    /// The body of bytes [`seal`](Self::seal)ed by this signer.
    pub(crate) fn open<'a>(&self, sealed: &'a [u8]) -> Result<&'a [u8], TicketError> {
        if sealed.len() < MAC_LEN {
            return Err(TicketError::Tampered);
        }
        let (body, tag) = sealed.split_at(sealed.len() - MAC_LEN);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(tag).map_err(|_| TicketError::Tampered)?;
        Ok(body)
    }

    /// The body of a ticket we issued to `caller` that has not expired.
    pub(crate) fn verify(
        &self,
        ticket: &[u8],
        caller: &str,
    ) -> Result<FlightTicketBody, TicketError> {
        let body = self.open(ticket)?;
        let body =
            FlightTicketBody::decode(body).map_err(|e| TicketError::Malformed(e.to_string()))?;
        check_holder(body.expires_unix, &body.caller, caller)?;
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{SelectRequest, flight_command::Command};

    fn command() -> FlightCommand {
        FlightCommand {
            command: Some(Command::Select(SelectRequest {
                limit: 7,
                ..Default::default()
            })),
        }
    }

    #[test]
    fn round_trip_tamper_and_expiry() {
        let signer = TicketSigner::new("secret", Duration::from_secs(60));
        let ticket = signer.sign(&command(), 2, 4, "ana");
        let body = signer.verify(&ticket, "ana").unwrap();
        assert_eq!((body.split, body.num_splits), (2, 4));
        assert_eq!(body.command, Some(command()));

        let mut altered = ticket.clone();
        altered[3] ^= 1;
        assert_eq!(signer.verify(&altered, "ana"), Err(TicketError::Tampered));
        assert_eq!(
            signer.verify(&ticket[..10], "ana"),
            Err(TicketError::Tampered)
        );
        let other = TicketSigner::new("other", Duration::from_secs(60));
        assert_eq!(other.verify(&ticket, "ana"), Err(TicketError::Tampered));
        assert_eq!(signer.verify(&ticket, "bob"), Err(TicketError::OtherCaller));

        let expired = TicketSigner {
            key: b"secret".to_vec(),
            ttl: Duration::ZERO,
        };
        let mut body = FlightTicketBody::decode(&ticket[..ticket.len() - MAC_LEN]).unwrap();
        body.expires_unix = now_unix() - 5;
        let mut bytes = body.encode_to_vec();
        let mut mac = expired.mac();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        assert!(matches!(signer.verify(&bytes, "ana"), Err(TicketError::Expired(s)) if s >= 5));
    }
}
