//! Statement handles, prepared-statement handles and statement tickets: one signed
//! [`FlightSqlHandleBody`] (HMAC with `flight.ticket_key`, as plain Flight's tickets), so the
//! server keeps no per-statement state and any replica can redeem what another issued.

use prost::Message;

use crate::{
    api::flight::ticket::{TicketError, TicketSigner, check_holder},
    config::FlightConfig,
    proto::FlightSqlHandleBody,
};

/// Issues and redeems handles.
#[derive(Debug, Clone)]
pub(crate) struct Handles {
    signer: TicketSigner,
}

impl Handles {
    /// Handles signed with `flight.ticket_key`, valid for `flight.ticket_ttl`.
    pub(crate) fn new(config: &FlightConfig) -> Self {
        Self {
            signer: TicketSigner::new(&config.ticket_key, config.ticket_ttl),
        }
    }

    /// `body` signed for `caller`, expiring after the ticket TTL.
    pub(crate) fn issue(&self, mut body: FlightSqlHandleBody, caller: &str) -> Vec<u8> {
        body.caller = caller.to_owned();
        body.expires_unix = self.signer.expiry();
        self.signer.seal(body.encode_to_vec())
    }

    /// The body of a handle issued to `caller` that has not expired.
    pub(crate) fn redeem(
        &self,
        handle: &[u8],
        caller: &str,
    ) -> Result<FlightSqlHandleBody, TicketError> {
        let body = self.signer.open(handle)?;
        let body =
            FlightSqlHandleBody::decode(body).map_err(|e| TicketError::Malformed(e.to_string()))?;
        check_holder(body.expires_unix, &body.caller, caller)?;
        Ok(body)
    }
}
