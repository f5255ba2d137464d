//! The key of a bucket's state: everything the state depends on, so that two requests share
//! a state exactly when it would be computed the same way over the same rows.

use std::sync::Arc;

use arrow::datatypes::Schema;
use prost::Message;
use sha2::{Digest, Sha256};

use super::encoding::VERSION;
use crate::{backend::DataVersion, proto};

/// Prefix of every Redis key of ours; a key names the encoding version, so builds that
/// encode differently never read each other's states.
const PREFIX: &str = "vastgate:partials";

/// The key of one request's states, less the bucket.
#[derive(Debug, Clone)]
pub(crate) struct PartialKey {
    table: Arc<str>,
    base: String,
    width: i64,
    version: Option<Arc<DataVersion>>,
}

/// What a state depends on.
pub(crate) struct KeyParts<'a> {
    /// `schema/table` or `bucket/schema/table`.
    pub(crate) table: &'a str,
    /// The table's Arrow schema (a changed column type is another state).
    pub(crate) schema: &'a Schema,
    /// The filter's conjuncts other than the time range.
    pub(crate) rest: &'a [proto::Filter],
    /// The analytic's state query and its parameters.
    pub(crate) state: &'a str,
    /// The bucket width in microseconds.
    pub(crate) width: i64,
    /// The data's version per time range (local files), or none where closed buckets are
    /// taken as final.
    pub(crate) version: Option<&'a DataVersion>,
}

impl PartialKey {
    /// The key of `parts`; the filter's conjuncts in any order make the same key.
    pub(crate) fn new(parts: &KeyParts<'_>) -> Self {
        let mut rest: Vec<String> = parts
            .rest
            .iter()
            .map(|f| hex::encode(f.encode_to_vec()))
            .collect();
        rest.sort();
        rest.dedup();
        let schema = hex::encode(&Sha256::digest(format!("{:?}", parts.schema).as_bytes())[..8]);
        let base = format!(
            "table={}|schema={schema}|filter={}|state={}|width={}",
            parts.table,
            rest.join(","),
            parts.state,
            parts.width,
        );
        Self {
            table: Arc::from(parts.table),
            base,
            width: parts.width,
            version: parts.version.cloned().map(Arc::new),
        }
    }

    /// The table the states belong to.
    pub(crate) fn table(&self) -> &Arc<str> {
        &self.table
    }

    /// The full key of `bucket`'s state, with the version of the data in the bucket.
    pub(crate) fn text(&self, bucket: i64) -> String {
        let data = match &self.version {
            Some(version) => {
                let start = bucket.saturating_mul(self.width);
                version.of_range(start, start.saturating_add(self.width))
            }
            None => "closed".to_owned(),
        };
        format!("{}|bucket={bucket}|data={data}", self.base)
    }

    /// The Redis key of `bucket`'s state.
    pub(crate) fn redis_key(&self, bucket: i64) -> String {
        let digest = Sha256::digest(self.text(bucket).as_bytes());
        format!(
            "{}:{}",
            table_prefix(&self.table),
            hex::encode(&digest[..16])
        )
    }
}

/// `vastgate:partials:v1:<table digest>`: what every Redis key of a table starts with.
pub(crate) fn table_prefix(table: &str) -> String {
    let digest = Sha256::digest(table.as_bytes());
    format!("{PREFIX}:v{VERSION}:{}", hex::encode(&digest[..8]))
}

/// The Redis `SCAN MATCH` pattern of every state of `table` (all tables when `None`).
pub(crate) fn redis_pattern(table: Option<&str>) -> String {
    match table {
        Some(table) => format!("{}:*", table_prefix(table)),
        None => format!("{PREFIX}:*"),
    }
}
