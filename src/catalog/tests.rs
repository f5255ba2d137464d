use std::{sync::atomic::Ordering, time::Duration};

use super::*;
use crate::backend::testing::MemoryBackend;

fn catalog(backend: Arc<MemoryBackend>, ttl: Duration, fraction: f64) -> Catalog {
    Catalog::new(
        backend,
        CatalogConfig {
            ttl,
            refresh_ahead_fraction: fraction,
            max_entries: 100,
        },
        Metrics::new(),
    )
}

#[tokio::test]
async fn concurrent_misses_share_one_backend_call() {
    let backend = Arc::new(MemoryBackend {
        describe_delay: Some(Duration::from_millis(50)),
        ..MemoryBackend::counting(1, 1)
    });
    let catalog = catalog(Arc::clone(&backend), Duration::from_secs(60), 0.9);
    let table = MemoryBackend::table();
    let lookups = (0..8).map(|_| catalog.describe(&table, false));
    let results = futures::future::join_all(lookups).await;
    assert!(results.iter().all(|r| r.is_ok()));
    assert_eq!(backend.describe_calls.load(Ordering::SeqCst), 1);
    let stats = catalog.stats().await;
    assert_eq!(stats.entries, 1);
    assert_eq!(stats.misses, 1);
    assert_eq!(stats.hits, 7);
}

#[tokio::test]
async fn hits_bypass_and_invalidate() {
    let backend = Arc::new(MemoryBackend::counting(1, 1));
    let catalog = catalog(Arc::clone(&backend), Duration::from_secs(60), 0.9);
    let table = MemoryBackend::table();
    assert!(!catalog.describe(&table, false).await.unwrap().from_cache);
    assert!(catalog.describe(&table, false).await.unwrap().from_cache);
    assert!(!catalog.describe(&table, true).await.unwrap().from_cache);
    assert_eq!(backend.describe_calls.load(Ordering::SeqCst), 2);
    assert_eq!(catalog.invalidate(Some(&table)).await, 1);
    assert!(!catalog.describe(&table, false).await.unwrap().from_cache);
    assert_eq!(catalog.invalidate(None).await, 1);
    assert_eq!(catalog.stats().await.entries, 0);
}

#[tokio::test]
async fn errors_are_not_cached() {
    let backend = Arc::new(MemoryBackend::counting(1, 1));
    let catalog = catalog(Arc::clone(&backend), Duration::from_secs(60), 0.9);
    let missing = TableRef {
        table: "nope".into(),
        ..MemoryBackend::table()
    };
    for _ in 0..2 {
        let err = catalog.describe(&missing, false).await.unwrap_err();
        assert!(matches!(err, BackendError::NotFound { .. }));
    }
    assert_eq!(backend.describe_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn refresh_ahead_reloads_in_the_background() {
    let backend = Arc::new(MemoryBackend::counting(1, 1));
    // fraction 0: every hit is "close to expiry".
    let catalog = catalog(Arc::clone(&backend), Duration::from_secs(60), 0.0);
    let table = MemoryBackend::table();
    let first = catalog.describe(&table, false).await.unwrap();
    let hit = catalog.describe(&table, false).await.unwrap();
    assert!(hit.from_cache, "the hit answers at once from the cache");
    for _ in 0..50 {
        if backend.describe_calls.load(Ordering::SeqCst) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(backend.describe_calls.load(Ordering::SeqCst), 2);
    // Give the insert a moment, then the entry is the new one.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after = catalog.describe(&table, false).await.unwrap();
    assert!(after.entry.loaded_at > first.entry.loaded_at);
}

#[tokio::test]
async fn expired_entries_count_as_evictions() {
    let backend = Arc::new(MemoryBackend::counting(1, 1));
    let catalog = catalog(Arc::clone(&backend), Duration::from_millis(50), 1.0);
    let table = MemoryBackend::table();
    catalog.describe(&table, false).await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(!catalog.describe(&table, false).await.unwrap().from_cache);
    let stats = catalog.stats().await;
    assert_eq!(stats.evictions, 1, "{stats:?}");
}
