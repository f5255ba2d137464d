//! Incremental analytics: partial states of an analytic per closed time bucket, cached so
//! that a repeated or sliding-window request scans only what is not cached.
//!
//! - `range`: a request's time range in its filter, the buckets wholly inside it, and the
//!   filter that reads the rest.
//! - `key`: what a bucket's state depends on (table, filter without the time range, the
//!   analytic's state query, the data's version) as one key.
//! - `encoding`: the versioned, self-checking byte form of a state (Redis values).
//! - `shared`: Redis, shared by replicas: states, and invalidations by pub/sub, over `resp`
//!   (a minimal RESP2 client).
//! - `states`: per analytic, the state query and the merge of states into its answer.
//!
//! [`PartialCache`] holds the states in memory, backed by Redis when configured. A state is
//! one Arrow batch of rows `(group values, bucket, state columns)` and the table rows it
//! stands for (the rows a hit saves scanning).

mod encoding;
pub(crate) mod key;
pub(crate) mod range;
mod resp;
mod shared;
pub(crate) mod states;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering::Relaxed},
};

use arrow::array::RecordBatch;

pub(crate) use self::key::PartialKey;
use self::shared::SharedPartials;
use crate::config::CacheConfig;

/// One bucket's partial state.
#[derive(Debug, Clone)]
pub(crate) struct PartialState {
    /// Table rows the state stands for.
    pub(crate) rows: u64,
    /// The state rows; none when no row of the bucket passed the filter.
    pub(crate) batch: Option<RecordBatch>,
}

impl PartialState {
    fn bytes(&self) -> u64 {
        self.batch
            .as_ref()
            .map_or(0, |b| b.get_array_memory_size() as u64)
            + 64
    }
}

/// A cached state and the table it belongs to (for invalidation by table).
#[derive(Debug, Clone)]
struct Entry {
    table: Arc<str>,
    state: Arc<PartialState>,
}

/// Counters for `CacheStats`.
#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    rows_not_scanned: AtomicU64,
}

/// What `CacheStats` reports of the partial states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartialStats {
    /// States held in memory.
    pub entries: u64,
    /// Their approximate bytes.
    pub bytes: u64,
    /// Buckets answered from a cached state (memory or Redis).
    pub hits: u64,
    /// Closed buckets that had to be scanned.
    pub misses: u64,
    /// Table rows requests did not scan thanks to hits.
    pub rows_not_scanned: u64,
    /// Redis calls that failed or timed out.
    pub shared_errors: u64,
    /// States found in Redis (included in `hits`).
    pub shared_hits: u64,
}

/// The partial states of every table, in memory and (when configured) in Redis.
#[derive(Debug)]
pub struct PartialCache {
    local: moka::sync::Cache<String, Entry>,
    shared: Option<Arc<SharedPartials>>,
    counters: Counters,
}

impl PartialCache {
    /// An empty cache; with `cache.shared.redis_url`, backed by Redis (connected lazily, so
    /// an unreachable Redis never stops the service from starting).
    pub fn new(config: &CacheConfig) -> Result<Arc<Self>, String> {
        let local = moka::sync::Cache::builder()
            .max_capacity(config.partials.max_bytes)
            .weigher(|_, entry: &Entry| u32::try_from(entry.state.bytes()).unwrap_or(u32::MAX))
            .build();
        let shared = if config.shared.redis_url.is_empty() {
            None
        } else {
            Some(SharedPartials::new(&config.shared)?)
        };
        let cache = Arc::new(Self {
            local,
            shared,
            counters: Counters::default(),
        });
        if let Some(shared) = &cache.shared {
            shared.listen_for_invalidations(Arc::downgrade(&cache));
        }
        Ok(cache)
    }

    /// The states of `buckets` under `key` that are cached, by bucket; counts hits and
    /// misses. Redis answers what memory does not (and what it answers stays in memory).
    pub(crate) async fn get_many(
        &self,
        key: &PartialKey,
        buckets: &[i64],
    ) -> Vec<(i64, Arc<PartialState>)> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for &bucket in buckets {
            match self.local.get(&key.text(bucket)) {
                Some(entry) => found.push((bucket, entry.state)),
                None => missing.push(bucket),
            }
        }
        if let (Some(shared), false) = (&self.shared, missing.is_empty()) {
            for (bucket, state) in shared.get_many(key, &missing).await {
                let state = Arc::new(state);
                self.insert_local(key, bucket, Arc::clone(&state));
                missing.retain(|b| *b != bucket);
                found.push((bucket, state));
            }
        }
        found.sort_by_key(|(bucket, _)| *bucket);
        let rows: u64 = found.iter().map(|(_, s)| s.rows).sum();
        self.counters.hits.fetch_add(found.len() as u64, Relaxed);
        self.counters
            .misses
            .fetch_add(missing.len() as u64, Relaxed);
        self.counters.rows_not_scanned.fetch_add(rows, Relaxed);
        found
    }

    /// Which of `buckets` this replica holds in memory under `key` (for `Explain`: counts
    /// nothing, asks no one).
    pub(crate) fn held(&self, key: &PartialKey, buckets: &[i64]) -> Vec<i64> {
        buckets
            .iter()
            .copied()
            .filter(|&bucket| self.local.contains_key(&key.text(bucket)))
            .collect()
    }

    /// Keeps the states of closed buckets just computed, in memory and in Redis.
    pub(crate) fn put_many(&self, key: &PartialKey, states: Vec<(i64, PartialState)>) {
        let states: Vec<(i64, Arc<PartialState>)> =
            states.into_iter().map(|(b, s)| (b, Arc::new(s))).collect();
        for (bucket, state) in &states {
            self.insert_local(key, *bucket, Arc::clone(state));
        }
        if let Some(shared) = &self.shared {
            shared.put_many(key, states);
        }
    }

    fn insert_local(&self, key: &PartialKey, bucket: i64, state: Arc<PartialState>) {
        let entry = Entry {
            table: Arc::clone(key.table()),
            state,
        };
        self.local.insert(key.text(bucket), entry);
    }

    /// Drops the states of `table` (all tables when `None`) here and, through Redis, in every
    /// replica; returns how many this replica held.
    pub async fn invalidate(&self, table: Option<&str>) -> u64 {
        let dropped = self.drop_local(table);
        if let Some(shared) = &self.shared {
            shared.invalidate(table).await;
        }
        dropped
    }

    /// Drops the states of `table` (all when `None`) from memory only.
    fn drop_local(&self, table: Option<&str>) -> u64 {
        self.local.run_pending_tasks();
        let before = self.local.entry_count();
        match table {
            None => self.local.invalidate_all(),
            Some(table) => {
                for (key, entry) in &self.local {
                    if &*entry.table == table {
                        self.local.invalidate(key.as_ref());
                    }
                }
            }
        }
        self.local.run_pending_tasks();
        before.saturating_sub(self.local.entry_count())
    }

    /// The counters and sizes for `CacheStats`.
    pub fn stats(&self) -> PartialStats {
        self.local.run_pending_tasks();
        PartialStats {
            entries: self.local.entry_count(),
            bytes: self.local.weighted_size(),
            hits: self.counters.hits.load(Relaxed),
            misses: self.counters.misses.load(Relaxed),
            rows_not_scanned: self.counters.rows_not_scanned.load(Relaxed),
            shared_errors: self.shared.as_ref().map_or(0, |s| s.errors()),
            shared_hits: self.shared.as_ref().map_or(0, |s| s.hits()),
        }
    }
}
