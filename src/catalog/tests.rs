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

#[tokio::test]
async fn expirations_and_size_evictions_are_counted_apart_and_memory_is_weighed() {
    let backend = Arc::new(MemoryBackend::counting(1, 1));
    let small = Catalog::new(
        Arc::clone(&backend) as Arc<dyn Backend>,
        CatalogConfig {
            ttl: Duration::from_secs(60),
            refresh_ahead_fraction: 0.9,
            max_entries: 1,
        },
        Metrics::new(),
    );
    let table = |name: &str| TableRef {
        table: name.into(),
        ..MemoryBackend::table()
    };
    small.describe(&table("t"), false).await.unwrap();
    let one = small.stats().await;
    assert_eq!(one.entries, 1);
    // One entry: its key (5 bytes), one field `x`, the fixed parts.
    assert!(one.approximate_bytes > 5 + 1, "{one:?}");
    for name in ["t2", "t3", "t4"] {
        small.describe(&table(name), false).await.unwrap();
        small.cache.run_pending_tasks().await;
    }
    let stats = small.stats().await;
    assert!(stats.size_evictions >= 1, "{stats:?}");
    assert_eq!(stats.expirations, 0, "{stats:?}");
    assert_eq!(stats.evictions, stats.size_evictions);
    assert!(stats.entries <= 1, "{stats:?}");

    let short = catalog(Arc::clone(&backend), Duration::from_millis(20), 0.9);
    short.describe(&table("t"), false).await.unwrap();
    short.describe(&table("t2"), false).await.unwrap();
    assert!(short.stats().await.approximate_bytes > one.approximate_bytes);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let stats = short.stats().await;
    assert_eq!(
        (stats.expirations, stats.size_evictions),
        (2, 0),
        "{stats:?}"
    );
    assert_eq!(stats.entries, 0);
    assert_eq!(stats.approximate_bytes, 0);
}
