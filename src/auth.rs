//! Who is calling, and what they may do: bearer tokens from a tokens file, each with a role
//! and optionally the schemas it may read.
//!
//! - `gate`: identifying a caller (token or client certificate) and checking its role for a
//!   method, before any handler runs.
//! - `tokens`: the tokens file (`[[tokens]]` entries holding SHA-256 digests, never tokens),
//!   looking a presented token up in constant time, and minting new tokens.

mod gate;
mod tokens;

pub use self::{
    gate::{Gate, PeerNames, Refusal, anonymous, may_call, needs_no_identity, unidentified},
    tokens::{TokenEntry, TokenError, Tokens, new_token},
};

use serde::{Deserialize, Serialize};

/// What a caller may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Query, Analytics and Flight reads.
    Reader,
    /// Everything a reader may, and AdminService.
    Admin,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name (what logs and the query log show; never the token).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The schemas it may read; `None`: every schema.
    pub schemas: Option<Vec<String>>,
}

impl Caller {
    /// Whether the caller may read tables of `schema`.
    pub fn may_read(&self, schema: &str) -> bool {
        self.schemas
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == schema))
    }

    /// Refuses reading `schema` unless the caller may.
    pub fn check_read(&self, schema: &str) -> Result<(), Refusal> {
        if self.may_read(schema) {
            return Ok(());
        }
        Err(Refusal::PermissionDenied(format!(
            "caller `{}` may not read schema `{schema}` (see `schemas` of its token)",
            self.name
        )))
    }

    /// Whether the caller may use AdminService.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[cfg(test)]
mod tests;
