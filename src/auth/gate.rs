//! The gate every call passes: who is calling (a bearer token, or a client certificate mapped
//! to a role), and whether that caller may call the method it asks for.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, RwLock},
};

use super::{Caller, Role, TokenError, Tokens};
use crate::config::AuthConfig;

/// Why a call is refused at the gate. Messages never contain a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No identity, or one nobody knows: `UNAUTHENTICATED`.
    #[error("{0}")]
    Unauthenticated(String),
    /// A known caller asking for more than its role allows: `PERMISSION_DENIED`.
    #[error("{0}")]
    PermissionDenied(String),
}

/// What the connection tells about the peer: the names in its verified client certificate
/// (subject common name and SANs), empty without mutual TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerNames(pub Vec<String>);

/// Who the caller is when authentication is off: allowed everything, as before auth existed.
pub fn anonymous() -> Caller {
    Caller {
        name: "anonymous".to_owned(),
        role: Role::Admin,
        schemas: None,
    }
}

/// Identifies callers; the tokens can be swapped while it serves ([`Gate::reload`]).
#[derive(Debug)]
pub struct Gate {
    enabled: bool,
    tokens_file: Option<PathBuf>,
    tokens: RwLock<Arc<Tokens>>,
    cert_roles: BTreeMap<String, Role>,
}

impl Gate {
    /// A gate for `config`, reading its tokens file.
    pub fn new(config: &AuthConfig) -> Result<Self, TokenError> {
        let tokens = match (&config.tokens_file, config.enabled) {
            (Some(path), true) => Tokens::load(path)?,
            _ => Tokens::default(),
        };
        Ok(Self {
            enabled: config.enabled,
            tokens_file: config.tokens_file.clone(),
            tokens: RwLock::new(Arc::new(tokens)),
            cert_roles: config.client_cert_roles.clone(),
        })
    }

    /// A gate that lets everyone in as [`anonymous`].
    pub fn open() -> Self {
        Self {
            enabled: false,
            tokens_file: None,
            tokens: RwLock::new(Arc::new(Tokens::default())),
            cert_roles: BTreeMap::new(),
        }
    }

    /// Whether callers must identify themselves.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Reads the tokens file again; on error the tokens in use stay. Returns how many tokens
    /// are now known.
    pub fn reload(&self) -> Result<usize, TokenError> {
        let Some(path) = self.tokens_file.as_ref().filter(|_| self.enabled) else {
            return Ok(0);
        };
        let tokens = Tokens::load(path)?;
        let count = tokens.len();
        *self.tokens.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tokens);
        Ok(count)
    }

    /// The caller presenting `authorization` (the header's value, if any) over a connection
    /// whose client certificate carries `peer`.
    pub fn identify(
        &self,
        authorization: Option<&[u8]>,
        peer: Option<&PeerNames>,
    ) -> Result<Caller, Refusal> {
        if !self.enabled {
            return Ok(anonymous());
        }
        if let Some(value) = authorization {
            let token = bearer_token(value).ok_or_else(|| {
                Refusal::Unauthenticated(
                    "the authorization header must be `Bearer <token>`".to_owned(),
                )
            })?;
            return self.caller_of(token).ok_or_else(|| {
                Refusal::Unauthenticated(
                    "the bearer token is not valid (unknown or revoked); ask an operator for \
                     one made by `vastgate token new`"
                        .to_owned(),
                )
            });
        }
        if let Some(caller) = peer.and_then(|names| self.caller_of_certificate(names)) {
            return Ok(caller);
        }
        Err(Refusal::Unauthenticated(
            "authentication required: send `authorization: Bearer <token>` (or, for Flight, \
             basic auth with the token as password in the Handshake)"
                .to_owned(),
        ))
    }

    /// Flight's handshake: the token presented as the password of HTTP basic auth (the
    /// user name is not checked) or as a bearer token. Returns the token to send back as
    /// `authorization: Bearer <token>`, `None` when no credentials came and auth is off.
    pub fn handshake(&self, authorization: Option<&[u8]>) -> Result<Option<String>, Refusal> {
        let token = authorization.and_then(|value| {
            basic_password(value).or_else(|| bearer_token(value).map(str::to_owned))
        });
        if !self.enabled {
            return Ok(token);
        }
        let Some(token) = token else {
            return Err(Refusal::Unauthenticated(
                "the Flight handshake needs basic auth with the token as password (pyarrow: \
                 client.authenticate_basic_token(name, token))"
                    .to_owned(),
            ));
        };
        match self.caller_of(&token) {
            Some(_) => Ok(Some(token)),
            None => Err(Refusal::Unauthenticated(
                "the token in the Flight handshake is not valid (unknown or revoked)".to_owned(),
            )),
        }
    }

    /// The caller holding `token`.
    pub fn caller_of(&self, token: &str) -> Option<Caller> {
        let tokens = Arc::clone(&self.tokens.read().unwrap_or_else(|p| p.into_inner()));
        tokens.authenticate(token)
    }

    fn caller_of_certificate(&self, names: &PeerNames) -> Option<Caller> {
        names.0.iter().find_map(|name| {
            self.cert_roles.get(name).map(|role| Caller {
                name: name.clone(),
                role: *role,
                schemas: None,
            })
        })
    }
}

/// The password of an HTTP basic `authorization` value.
fn basic_password(value: &[u8]) -> Option<String> {
    use base64::Engine;
    let text = std::str::from_utf8(value).ok()?;
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (_user, password) = decoded.split_once(':')?;
    (!password.is_empty()).then(|| password.to_owned())
}

fn bearer_token(value: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(value).ok()?;
    let (scheme, token) = text.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether `caller` may call the gRPC method at `path` (`/package.Service/Method`).
/// Readers get everything but AdminService, where they may list, watch and cancel their own
/// queries.
pub fn may_call(caller: &Caller, path: &str) -> Result<(), Refusal> {
    if caller.is_admin() {
        return Ok(());
    }
    let Some(method) = path.strip_prefix("/vastgate.v1.AdminService/") else {
        return Ok(());
    };
    if matches!(
        method,
        "ListQueries" | "CancelQuery" | "GetQuery" | "WatchQuery"
    ) {
        return Ok(());
    }
    Err(Refusal::PermissionDenied(format!(
        "AdminService/{method} needs the admin role; caller `{}` is a reader",
        caller.name
    )))
}

/// Whether the gate lets `path` through without an identity: health checks (load balancers
/// and kubelets carry no token) and the Flight handshake (which is how a token is presented).
pub fn needs_no_identity(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
        || path == "/arrow.flight.protocol.FlightService/Handshake"
}

/// Who a call that needs no identity ([`needs_no_identity`]) runs as when it brings none: a
/// reader of no schema.
pub fn unidentified() -> Caller {
    Caller {
        name: "unidentified".to_owned(),
        role: Role::Reader,
        schemas: Some(Vec::new()),
    }
}
