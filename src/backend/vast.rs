//! The VAST DB client backend: [`VastBackend`] serves the [`Backend`] contract over the
//! endpoints of one cluster. The protocol itself lives in [`crate::vast_protocol`]; which
//! endpoint serves a call is the cluster layer's choice (`crate::cluster`).
//!
//! # Layout
//! - `client`: one endpoint over HTTP/1.1: signing, tabular headers, S3 XML errors.
//! - `tls`: HTTPS settings (CA file, a TLS server name per endpoint).
//! - `tx`: transactions: begin, keep-alive, commit or rollback, rollback of abandoned ones.
//! - `meta`: the metadata calls: listings, stats, columns.
//! - `probe`: the start-up version probe and bucket check.
//! - `field_type`, `request`, `pushdown`: the `query_data` body: column types, projection,
//!   the filter pushed down.
//! - `response`, `attempt`, `scan`: the response decoder, one request's pages, split reads
//!   with hedging and resume-on-failure.
//! - `ceiling` (feature `bench`): the emulator's throughput ceiling for `benches/`.

mod attempt;
#[cfg(feature = "bench")]
pub mod ceiling;
pub(crate) mod client;
mod field_type;
#[cfg(test)]
mod golden;
mod meta;
mod probe;
mod pushdown;
mod read_tx;
pub(crate) mod request;
pub(crate) mod response;
mod scan;
pub(crate) mod tls;
mod tx;

use std::{future::Future, sync::Arc};

use async_trait::async_trait;
use http::Method;

use self::{
    client::{Endpoint, EndpointOptions},
    tx::{OpenTransaction, begin, end},
};
use crate::{
    backend::{
        Backend, BackendError, FilterReport, ScanRequest, Split, SplitStream, TableMeta, TableRef,
        TableSummary,
    },
    cluster::{Cluster, Member},
    config::VastConfig,
    predicate::Predicate,
    vast_protocol::sigv4::Credentials,
};

/// Rows of a VAST row group (the unit of split planning).
pub const ROW_GROUP_ROWS: u64 = 65_536;
/// Entries asked per listing page.
const PAGE_KEYS: u32 = 1000;

/// The VAST DB backend: every endpoint serves every call; the cluster layer picks one, and a
/// failed call goes to the best other.
#[derive(Debug)]
pub struct VastBackend {
    pub(crate) cluster: Arc<Cluster>,
    buckets: Vec<String>,
    /// Interval of transaction keep-alives during a read (zero: none).
    pub(crate) tx_keepalive: std::time::Duration,
}

impl VastBackend {
    /// A backend over the `[vast]` settings (endpoints are contacted lazily).
    pub fn new(config: &VastConfig) -> Result<Arc<Self>, BackendError> {
        let creds = Credentials {
            access_key: config.access_key.clone(),
            secret_key: config.secret_key.clone(),
        };
        let tls = tls::client_config(config.ca_file.as_deref())?;
        if let Some(unknown) = config.tls_server_names.keys().find(|url| {
            !config
                .endpoints
                .iter()
                .any(|e| e.trim_end_matches('/') == url.trim_end_matches('/'))
        }) {
            return Err(BackendError::Invalid(format!(
                "vast.tls_server_names: `{unknown}` is not one of vast.endpoints"
            )));
        }
        let endpoints = config
            .endpoints
            .iter()
            .map(|url| {
                let server_name = config
                    .tls_server_names
                    .iter()
                    .find(|(key, _)| key.trim_end_matches('/') == url.trim_end_matches('/'))
                    .map(|(_, name)| name.as_str());
                Endpoint::new(
                    url,
                    EndpointOptions {
                        creds: creds.clone(),
                        connect_timeout: config.connect_timeout,
                        timeout: config.request_timeout,
                        tls: &tls,
                        tls_server_name: server_name,
                    },
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(Self {
            cluster: Arc::new(Cluster::new(endpoints, config, probe::version_call())?),
            buckets: config.buckets.clone(),
            tx_keepalive: config.tx_keepalive,
        }))
    }

    /// The configured buckets (`vast.buckets`).
    pub(crate) fn buckets(&self) -> &[String] {
        &self.buckets
    }

    /// `bucket`, or the first configured bucket when empty.
    pub(crate) fn bucket<'a>(&'a self, bucket: &'a str) -> Result<&'a str, BackendError> {
        if !bucket.is_empty() {
            return Ok(bucket);
        }
        self.buckets.first().map(String::as_str).ok_or_else(|| {
            BackendError::Invalid(
                "no bucket given and vast.buckets is empty; name the bucket or set vast.buckets"
                    .to_owned(),
            )
        })
    }

    /// Runs `f` in a transaction on the endpoints in turn until one succeeds or fails for
    /// good; commits on success, rolls back on failure.
    async fn with_tx<T, F, Fut>(&self, f: F) -> Result<T, BackendError>
    where
        F: Fn(Arc<Member>, u64) -> Fut,
        Fut: Future<Output = Result<T, BackendError>>,
    {
        let mut avoid = None;
        let mut last = None;
        for _ in 0..self.cluster.members().len() {
            let ep = &self.cluster.best(avoid);
            let result = async {
                let txid = begin(ep).await?;
                let open = OpenTransaction::new(ep, txid);
                let result = f(Arc::clone(ep), txid).await;
                open.close();
                match result {
                    Ok(v) => {
                        end(ep, txid, Method::PUT).await?;
                        Ok(v)
                    }
                    Err(e) => {
                        let _ = end(ep, txid, Method::DELETE).await;
                        Err(e)
                    }
                }
            }
            .await;
            match result {
                Err(e) if e.is_retryable() => {
                    last = Some(e);
                    avoid = Some(ep.index);
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| BackendError::Invalid("no endpoints".to_owned())))
    }
}

#[async_trait]
impl Backend for VastBackend {
    fn endpoints(&self) -> Vec<crate::backend::EndpointStatus> {
        self.cluster.statuses()
    }

    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        self.cluster.collectors()
    }

    fn kind(&self) -> &'static str {
        "vast"
    }

    async fn startup_check(&self) -> Result<(), BackendError> {
        probe::check(self).await.map(|_| ())
    }

    async fn list_schemas(&self, bucket: &str) -> Result<Vec<String>, BackendError> {
        let bucket = self.bucket(bucket)?.to_owned();
        self.with_tx(|ep, txid| meta::list_schemas(ep, txid, bucket.clone()))
            .await
    }

    async fn list_tables(
        &self,
        bucket: &str,
        schema: &str,
    ) -> Result<Vec<TableSummary>, BackendError> {
        let bucket = self.bucket(bucket)?.to_owned();
        self.with_tx(|ep, txid| meta::list_tables(ep, txid, bucket.clone(), schema.to_owned()))
            .await
    }

    async fn describe(&self, table: &TableRef) -> Result<TableMeta, BackendError> {
        let mut table = table.clone();
        table.bucket = self.bucket(&table.bucket)?.to_owned();
        self.with_tx(|ep, txid| meta::describe(ep, txid, table.clone()))
            .await
    }

    async fn filter_report(
        &self,
        _table: &TableRef,
        meta: &TableMeta,
        predicate: Option<&Predicate>,
    ) -> Result<FilterReport, BackendError> {
        // VAST keeps no statistics we can read: every unit is scanned, on the server.
        let mut report = FilterReport::unpruned(meta, predicate);
        if let Some(predicate) = predicate {
            let fields = meta.schema.fields();
            let resolve = |name: &str| {
                let i = fields.iter().position(|f| f.name() == name)?;
                Some((u32::try_from(i).ok()?, fields[i].as_ref()))
            };
            let (pushed, residual) = pushdown::partition(predicate, &resolve);
            report.pushed = pushed.into_iter().cloned().collect();
            report.residual = residual.into_iter().cloned().collect();
        }
        Ok(report)
    }

    fn scan(
        &self,
        table: &TableRef,
        meta: &TableMeta,
        req: &ScanRequest,
        split: Split,
    ) -> SplitStream {
        scan::scan(self, table, meta, req, split)
    }
}
