//! The tokens file: `[[tokens]]` entries of `name`, `role`, `sha256` (hex digest of the token)
//! and optional `schemas`. A presented token is hashed and compared with every entry's digest
//! in constant time, so neither the file nor the timing of a refusal gives a token away.

use std::path::{Path, PathBuf};

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Caller, Role};

/// What new tokens start with, so a leaked one is easy to recognize in a scan of a repository.
const TOKEN_PREFIX: &str = "vgt_";

/// One `[[tokens]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Who holds the token.
    pub name: String,
    /// What it may call.
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    /// The schemas it may read (every schema when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schemas: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    #[serde(default)]
    tokens: Vec<TokenEntry>,
}

/// Why a tokens file cannot be used; each names the file and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file cannot be read.
    #[error("auth.tokens_file {path}: cannot read it: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a tokens file.
    #[error("auth.tokens_file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the entry.
        message: String,
    },
}

/// The known tokens, as digests.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<(Caller, [u8; 32])>,
}

impl Tokens {
    /// Reads and checks the tokens file at `path`.
    pub fn load(path: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| TokenError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses the text of a tokens file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: TokenFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut entries: Vec<(Caller, [u8; 32])> = Vec::with_capacity(file.tokens.len());
        for (i, entry) in file.tokens.into_iter().enumerate() {
            let at = format!("[[tokens]] entry {} (`{}`)", i + 1, entry.name);
            if entry.name.trim().is_empty() {
                return Err(format!("[[tokens]] entry {}: `name` is empty", i + 1));
            }
            let digest = decode_digest(&entry.sha256)
                .ok_or_else(|| format!("{at}: `sha256` must be 64 hex digits"))?;
            if entries.iter().any(|(c, _)| c.name == entry.name) {
                return Err(format!("{at}: the name is used twice"));
            }
            if entries.iter().any(|(_, d)| *d == digest) {
                return Err(format!("{at}: the same token is listed twice"));
            }
            entries.push((
                Caller {
                    name: entry.name,
                    role: entry.role,
                    schemas: entry.schemas,
                },
                digest,
            ));
        }
        Ok(Self { entries })
    }

    /// The caller holding `token`, if any. Every entry is compared, in constant time.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (caller, known) in &self.entries {
            if bool::from(known.ct_eq(&digest)) {
                found = Some(caller);
            }
        }
        found.cloned()
    }

    /// How many tokens are known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn decode_digest(text: &str) -> Option<[u8; 32]> {
    hex::decode(text.trim()).ok()?.try_into().ok()
}

/// A new random token for `name` with `role` (reading only `schemas` when given), and its
/// `[[tokens]]` entry (TOML) to append to the tokens file.
pub fn new_token(name: &str, role: Role, schemas: Option<Vec<String>>) -> (String, String) {
    let mut secret = [0u8; 32];
    rand::rng().fill(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
    let entry = TokenEntry {
        name: name.to_owned(),
        role,
        sha256: hex::encode(Sha256::digest(token.as_bytes())),
        schemas,
    };
    #[derive(Serialize)]
    struct One<'a> {
        tokens: [&'a TokenEntry; 1],
    }
    let toml = toml::to_string(&One { tokens: [&entry] }).unwrap_or_default();
    (token, toml)
}
