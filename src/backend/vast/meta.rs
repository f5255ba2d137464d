//! [`VastBackend`]: the endpoints, failover, transactions and the metadata calls (listings,
//! stats, columns).

use std::{
    future::Future,
    io::Cursor,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use arrow::{datatypes::Schema, ipc::reader::StreamReader};
use async_trait::async_trait;
use http::{HeaderMap, Method};
use planus::ReadAsRoot;

use super::{
    breaker,
    client::{Call, Endpoint, EndpointOptions, path},
    sigv4::Credentials,
    tls,
    wire::tabular,
};
use crate::{
    backend::{
        Backend, BackendError, ScanRequest, Split, SplitStream, TableMeta, TableRef, TableSummary,
    },
    config::VastConfig,
};

/// Rows of a VAST row group (the unit of split planning).
pub const ROW_GROUP_ROWS: u64 = 65_536;
/// Entries asked per listing page.
const PAGE_KEYS: u32 = 1000;

/// The VAST DB backend: every endpoint serves every call; calls fail over round-robin.
#[derive(Debug)]
pub struct VastBackend {
    pub(crate) endpoints: Vec<Endpoint>,
    buckets: Vec<String>,
    next: AtomicUsize,
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
        if endpoints.is_empty() {
            return Err(BackendError::Invalid(
                "vast.endpoints must list at least one URL".to_owned(),
            ));
        }
        Ok(Arc::new(Self {
            endpoints,
            buckets: config.buckets.clone(),
            next: AtomicUsize::new(0),
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
        F: Fn(Endpoint, u64) -> Fut,
        Fut: Future<Output = Result<T, BackendError>>,
    {
        let mut start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut avoid = None;
        let mut last = None;
        for _ in 0..self.endpoints.len() {
            let cur = breaker::pick(&self.endpoints, start, avoid);
            let ep = &self.endpoints[cur];
            let result = async {
                let txid = begin(ep).await?;
                let open = OpenTransaction::new(ep, txid);
                let result = f(ep.clone(), txid).await;
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
                    avoid = Some(cur);
                    start = cur + 1;
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| BackendError::Invalid("no endpoints".to_owned())))
    }
}

/// A transaction between its begin and the start of its commit or rollback. Dropped there —
/// the caller's future was dropped: a client that left, a deadline — it is rolled back in the
/// background instead of being left open until the cluster times it out.
struct OpenTransaction {
    rollback: Option<(Endpoint, u64)>,
}

impl OpenTransaction {
    fn new(ep: &Endpoint, txid: u64) -> Self {
        Self {
            rollback: Some((ep.clone(), txid)),
        }
    }

    /// The caller ends the transaction itself from here on.
    fn close(mut self) {
        self.rollback = None;
    }
}

impl Drop for OpenTransaction {
    fn drop(&mut self) {
        let Some((ep, txid)) = self.rollback.take() else {
            return;
        };
        // Without a runtime (process exit) the cluster's timeout ends it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = end(&ep, txid, Method::DELETE).await {
                    tracing::debug!("rollback of abandoned transaction {txid} failed: {e}");
                }
            });
        }
    }
}

/// Begins a transaction on `ep`.
pub(crate) async fn begin(ep: &Endpoint) -> Result<u64, BackendError> {
    let call = Call::tabular(
        Method::POST,
        "/".to_owned(),
        "transaction",
        0,
        "begin transaction".to_owned(),
    );
    let (headers, _) = ep.send_full(&call).await?;
    header_u64(&headers, "tabular-txid").ok_or_else(|| BackendError::Data {
        location: ep.url.clone(),
        message: "begin transaction: no numeric tabular-txid header in the answer".to_owned(),
    })
}

/// Tells the cluster that transaction `txid` is still in use (`GET /?transaction`).
pub(crate) async fn keep_alive(ep: &Endpoint, txid: u64) -> Result<(), BackendError> {
    let call = Call::tabular(
        Method::GET,
        "/".to_owned(),
        "transaction",
        txid,
        format!("keep-alive of transaction {txid}"),
    );
    ep.send_full(&call).await.map(|_| ())
}

/// Commits (`PUT`) or rolls back (`DELETE`) transaction `txid`.
pub(crate) async fn end(ep: &Endpoint, txid: u64, method: Method) -> Result<(), BackendError> {
    let what = if method == Method::PUT {
        "commit"
    } else {
        "rollback"
    };
    let call = Call::tabular(
        method,
        "/".to_owned(),
        "transaction",
        txid,
        format!("{what} transaction {txid}"),
    );
    ep.send_full(&call).await.map(|_| ())
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn bad(ep: &Endpoint, what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Data {
        location: ep.url.clone(),
        message: format!("{what}: {e}"),
    }
}

/// Sends a paged listing call until the server says it is not truncated; `page` decodes
/// one body and returns how many entries it held.
async fn paged(
    ep: &Endpoint,
    base: Call,
    mut page: impl FnMut(&[u8]) -> Result<usize, BackendError>,
) -> Result<(), BackendError> {
    let mut next_key = 0u64;
    loop {
        let call = base
            .clone()
            .header("tabular-max-keys", PAGE_KEYS)
            .header("tabular-next-key", next_key)
            .header("tabular-name-prefix", "")
            .header("tabular-list-count-only", "False");
        let (headers, body) = ep.send_full(&call).await?;
        let n = page(&body)?;
        let truncated = headers
            .get("tabular-is-truncated")
            .and_then(|v| v.to_str().ok())
            == Some("true");
        let Some(next) = header_u64(&headers, "tabular-next-key") else {
            return Err(bad(ep, &base.what, "no numeric tabular-next-key header"));
        };
        if !truncated || n == 0 {
            return Ok(());
        }
        next_key = next;
    }
}

async fn list_schemas(
    ep: Endpoint,
    txid: u64,
    bucket: String,
) -> Result<Vec<String>, BackendError> {
    let what = format!("list schemas of bucket {bucket}");
    let call = Call::tabular(Method::GET, path(&[&bucket]), "schema", txid, what.clone());
    let mut names = Vec::new();
    paged(&ep, call, |body| {
        let resp =
            tabular::ListSchemasResponseRef::read_as_root(body).map_err(|e| bad(&ep, &what, e))?;
        let mut n = 0;
        for entry in resp
            .schemas()
            .map_err(|e| bad(&ep, &what, e))?
            .into_iter()
            .flatten()
        {
            let entry = entry.map_err(|e| bad(&ep, &what, e))?;
            if let Some(name) = entry.name().map_err(|e| bad(&ep, &what, e))? {
                names.push(name.to_owned());
            }
            n += 1;
        }
        Ok(n)
    })
    .await?;
    Ok(names)
}

async fn list_tables(
    ep: Endpoint,
    txid: u64,
    bucket: String,
    schema: String,
) -> Result<Vec<TableSummary>, BackendError> {
    let what = format!("list tables of {bucket}/{schema}");
    let call = Call::tabular(
        Method::GET,
        path(&[&bucket, &schema]),
        "table",
        txid,
        what.clone(),
    )
    .header("tabular-include-list-stats", "False");
    let mut tables = Vec::new();
    paged(&ep, call, |body| {
        let resp =
            tabular::ListTablesResponseRef::read_as_root(body).map_err(|e| bad(&ep, &what, e))?;
        let mut n = 0;
        for entry in resp
            .tables()
            .map_err(|e| bad(&ep, &what, e))?
            .into_iter()
            .flatten()
        {
            let entry = entry.map_err(|e| bad(&ep, &what, e))?;
            n += 1;
            let Some(name) = entry.name().map_err(|e| bad(&ep, &what, e))? else {
                continue;
            };
            tables.push(TableSummary {
                table: TableRef {
                    bucket: bucket.clone(),
                    schema: schema.clone(),
                    table: name.to_owned(),
                },
                num_rows: entry.num_rows().map_err(|e| bad(&ep, &what, e))?,
                size_bytes: entry.size_in_bytes().map_err(|e| bad(&ep, &what, e))?,
            });
        }
        Ok(n)
    })
    .await?;
    Ok(tables)
}

async fn describe(ep: Endpoint, txid: u64, table: TableRef) -> Result<TableMeta, BackendError> {
    let p = path(&[&table.bucket, &table.schema, &table.table]);
    let what = format!("columns of table {table}");
    let mut fields = Vec::new();
    let call = Call::tabular(Method::GET, p.clone(), "column", txid, what.clone());
    paged(&ep, call, |body| {
        let reader =
            StreamReader::try_new(Cursor::new(body), None).map_err(|e| bad(&ep, &what, e))?;
        let schema = reader.schema();
        fields.extend(schema.fields().iter().map(|f| f.as_ref().clone()));
        Ok(schema.fields().len())
    })
    .await?;
    let what = format!("stats of table {table}");
    let call = Call::tabular(Method::GET, p, "stats", txid, what.clone());
    let (_, body) = ep.send_full(&call).await?;
    let stats =
        tabular::GetTableStatsResponseRef::read_as_root(&body).map_err(|e| bad(&ep, &what, e))?;
    let num_rows = u64::try_from(stats.num_rows().map_err(|e| bad(&ep, &what, e))?).unwrap_or(0);
    let size_bytes =
        u64::try_from(stats.size_in_bytes().map_err(|e| bad(&ep, &what, e))?).unwrap_or(0);
    Ok(TableMeta {
        schema: Arc::new(Schema::new(fields)),
        num_rows,
        size_bytes,
        num_row_groups: num_rows.div_ceil(ROW_GROUP_ROWS),
        int_ranges: Default::default(),
    })
}

#[async_trait]
impl Backend for VastBackend {
    fn endpoints(&self) -> Vec<crate::backend::EndpointStatus> {
        self.endpoints
            .iter()
            .map(|e| e.stats.snapshot(&e.url))
            .collect()
    }

    fn kind(&self) -> &'static str {
        "vast"
    }

    async fn startup_check(&self) -> Result<(), BackendError> {
        super::probe::check(self).await.map(|_| ())
    }

    async fn list_schemas(&self, bucket: &str) -> Result<Vec<String>, BackendError> {
        let bucket = self.bucket(bucket)?.to_owned();
        self.with_tx(|ep, txid| list_schemas(ep, txid, bucket.clone()))
            .await
    }

    async fn list_tables(
        &self,
        bucket: &str,
        schema: &str,
    ) -> Result<Vec<TableSummary>, BackendError> {
        let bucket = self.bucket(bucket)?.to_owned();
        self.with_tx(|ep, txid| list_tables(ep, txid, bucket.clone(), schema.to_owned()))
            .await
    }

    async fn describe(&self, table: &TableRef) -> Result<TableMeta, BackendError> {
        let mut table = table.clone();
        table.bucket = self.bucket(&table.bucket)?.to_owned();
        self.with_tx(|ep, txid| describe(ep, txid, table.clone()))
            .await
    }

    fn scan(
        &self,
        table: &TableRef,
        meta: &TableMeta,
        req: &ScanRequest,
        split: Split,
    ) -> SplitStream {
        super::scan::scan(self, table, meta, req, split)
    }
}
