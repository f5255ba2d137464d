//! Table metadata cache: schema, row count and size per table.
//!
//! A moka cache with a TTL and a size bound. Concurrent misses for one table share a single
//! backend call. A hit on an entry older than `refresh_ahead_fraction × ttl` returns at once and
//! reloads the entry in the background, so hot tables never wait for the backend. Hits, misses
//! and evictions are counted here (moka keeps no statistics).

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use moka::{future::Cache, notification::RemovalCause};

use crate::{
    backend::{Backend, BackendError, TableMeta, TableRef},
    config::CatalogConfig,
    metrics::Metrics,
};

/// Metadata of one table and when it was read.
#[derive(Debug, Clone)]
pub struct CachedMeta {
    /// What the backend said.
    pub meta: TableMeta,
    /// When it said it.
    pub loaded_at: Instant,
}

/// The answer of [`Catalog::describe`].
#[derive(Debug, Clone)]
pub struct Described {
    /// The metadata.
    pub entry: Arc<CachedMeta>,
    /// Whether it came from the cache (no backend call for this request).
    pub from_cache: bool,
}

/// Cache counters, for `CacheStats`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheStats {
    /// Tables cached.
    pub entries: u64,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that went to the backend.
    pub misses: u64,
    /// Entries dropped by TTL or size.
    pub evictions: u64,
    /// Of which dropped because their TTL ran out.
    pub expirations: u64,
    /// Of which dropped to stay within `catalog.max_entries`.
    pub size_evictions: u64,
    /// Approximate memory the entries hold (see [`approximate_bytes`]).
    pub approximate_bytes: u64,
}

impl CacheStats {
    /// hits / (hits + misses), 0 when there were no lookups.
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
    size_evictions: AtomicU64,
}

/// The table metadata cache in front of a backend.
#[derive(Clone)]
pub struct Catalog {
    backend: Arc<dyn Backend>,
    cache: Cache<TableRef, Arc<CachedMeta>>,
    config: CatalogConfig,
    counters: Arc<Counters>,
    refreshing: Arc<Mutex<HashSet<TableRef>>>,
    metrics: Metrics,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("backend", &self.backend.kind())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// A catalog over `backend`.
    pub fn new(backend: Arc<dyn Backend>, config: CatalogConfig, metrics: Metrics) -> Self {
        let counters = Arc::new(Counters::default());
        let listener_counters = Arc::clone(&counters);
        let listener_metrics = metrics.clone();
        let cache = Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_live(config.ttl)
            .eviction_listener(move |_key, _value, cause| {
                let counter = match cause {
                    RemovalCause::Expired => &listener_counters.expirations,
                    RemovalCause::Size => &listener_counters.size_evictions,
                    RemovalCause::Explicit | RemovalCause::Replaced => return,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                listener_counters.evictions.fetch_add(1, Ordering::Relaxed);
                listener_metrics.cache_evictions.inc();
            })
            .build();
        Self {
            backend,
            cache,
            config,
            counters,
            refreshing: Arc::new(Mutex::new(HashSet::new())),
            metrics,
        }
    }

    /// The backend behind the cache.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The metadata of `table`, from the cache unless `bypass_cache` or missing/expired.
    pub async fn describe(
        &self,
        table: &TableRef,
        bypass_cache: bool,
    ) -> Result<Described, BackendError> {
        if bypass_cache {
            self.count_miss();
            let entry = self.load(table).await?;
            self.cache.insert(table.clone(), Arc::clone(&entry)).await;
            return Ok(Described {
                entry,
                from_cache: false,
            });
        }
        let backend = Arc::clone(&self.backend);
        let key = table.clone();
        let entry = self
            .cache
            .entry(table.clone())
            .or_try_insert_with(async move { load(backend.as_ref(), &key).await })
            .await
            .map_err(|e: Arc<BackendError>| BackendError::clone(&e))?;
        let from_cache = !entry.is_fresh();
        if from_cache {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            self.metrics.cache_hits.inc();
            self.maybe_refresh_ahead(table, entry.value());
        } else {
            self.count_miss();
        }
        self.metrics
            .cache_entries
            .set(i64::try_from(self.cache.entry_count()).unwrap_or(i64::MAX));
        Ok(Described {
            entry: entry.into_value(),
            from_cache,
        })
    }

    fn count_miss(&self) {
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        self.metrics.cache_misses.inc();
    }

    async fn load(&self, table: &TableRef) -> Result<Arc<CachedMeta>, BackendError> {
        load(self.backend.as_ref(), table).await
    }

    /// Starts a background reload when the entry is close to expiry and none is running.
    fn maybe_refresh_ahead(&self, table: &TableRef, entry: &CachedMeta) {
        let refresh_after = self.config.ttl.mul_f64(self.config.refresh_ahead_fraction);
        if entry.loaded_at.elapsed() < refresh_after {
            return;
        }
        let Ok(mut refreshing) = self.refreshing.lock() else {
            return;
        };
        if !refreshing.insert(table.clone()) {
            return;
        }
        drop(refreshing);
        let this = self.clone();
        let table = table.clone();
        tokio::spawn(async move {
            match this.load(&table).await {
                Ok(entry) => this.cache.insert(table.clone(), entry).await,
                Err(err) => tracing::warn!(%table, error = %err, "refresh-ahead failed"),
            }
            if let Ok(mut refreshing) = this.refreshing.lock() {
                refreshing.remove(&table);
            }
        });
    }

    /// Drops one table, or every table when `table` is `None`; returns how many were dropped.
    pub async fn invalidate(&self, table: Option<&TableRef>) -> u64 {
        self.cache.run_pending_tasks().await;
        let dropped = match table {
            Some(table) => u64::from(self.cache.remove(table).await.is_some()),
            None => {
                let before = self.cache.entry_count();
                self.cache.invalidate_all();
                before
            }
        };
        self.cache.run_pending_tasks().await;
        self.metrics
            .cache_entries
            .set(i64::try_from(self.cache.entry_count()).unwrap_or(i64::MAX));
        dropped
    }

    /// Current counters.
    pub async fn stats(&self) -> CacheStats {
        self.cache.run_pending_tasks().await;
        let counters = &self.counters;
        CacheStats {
            entries: self.cache.entry_count(),
            hits: counters.hits.load(Ordering::Relaxed),
            misses: counters.misses.load(Ordering::Relaxed),
            evictions: counters.evictions.load(Ordering::Relaxed),
            expirations: counters.expirations.load(Ordering::Relaxed),
            size_evictions: counters.size_evictions.load(Ordering::Relaxed),
            approximate_bytes: self
                .cache
                .iter()
                .map(|(table, cached)| approximate_bytes(&table, &cached))
                .sum(),
        }
    }
}

/// What one entry holds, roughly: its key, the schema's names and types, the statistics. The
/// cache is bounded by entry count (`catalog.max_entries`), so this weighs for reporting only.
pub fn approximate_bytes(table: &TableRef, cached: &CachedMeta) -> u64 {
    let key = table.bucket.len() + table.schema.len() + table.table.len();
    let fields: usize = cached
        .meta
        .schema
        .fields()
        .iter()
        .map(|f| std::mem::size_of::<arrow::datatypes::Field>() + f.name().len() + 16)
        .sum();
    let ranges: usize = cached
        .meta
        .int_ranges
        .keys()
        .map(|name| name.len() + 2 * std::mem::size_of::<i64>() + 32)
        .sum();
    let fixed = std::mem::size_of::<CachedMeta>() + std::mem::size_of::<TableRef>();
    u64::try_from(key + fields + ranges + fixed).unwrap_or(u64::MAX)
}

async fn load(backend: &dyn Backend, table: &TableRef) -> Result<Arc<CachedMeta>, BackendError> {
    let meta = backend.describe(table).await?;
    Ok(Arc::new(CachedMeta {
        meta,
        loaded_at: Instant::now(),
    }))
}

#[cfg(test)]
mod tests;
