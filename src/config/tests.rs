use std::time::Duration;

use std::collections::HashMap;

use super::*;

#[test]
fn example_config_loads() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/vastgate.example.toml");
    let config = Config::from_sources(Some(&path), &HashMap::new()).expect("example config loads");
    assert_eq!(config.backend.kind, BackendKind::Local);
    assert_eq!(config.catalog.ttl, Duration::from_secs(60));
}

#[test]
fn env_overrides_file_and_defaults() {
    let env = HashMap::from([
        ("VASTGATE__ENGINE__WORKERS".to_owned(), "7".to_owned()),
        ("VASTGATE__CATALOG__TTL".to_owned(), "5s".to_owned()),
        ("VASTGATE__BACKEND__KIND".to_owned(), "vast".to_owned()),
        (
            "VASTGATE__VAST__ENDPOINTS".to_owned(),
            "http://127.0.0.1:1,http://127.0.0.1:2".to_owned(),
        ),
        ("UNRELATED".to_owned(), "x".to_owned()),
    ]);
    let config = Config::from_sources(None, &env).expect("env config loads");
    assert_eq!(config.engine.workers, 7);
    assert_eq!(config.catalog.ttl, Duration::from_secs(5));
    assert_eq!(config.backend.kind, BackendKind::Vast);
    assert_eq!(config.vast.endpoints.len(), 2);
}

#[test]
fn bad_value_names_the_key() {
    let err = Config::from_toml("[engine]\nworkers = 0\n").unwrap_err();
    assert!(err.to_string().contains("engine.workers"), "{err}");
    let err = Config::from_toml("[engine]\nworkers = \"many\"\n").unwrap_err();
    assert!(err.to_string().contains("workers"), "{err}");
    let err = Config::from_toml("[engine]\nworkerz = 3\n").unwrap_err();
    assert!(err.to_string().contains("workerz"), "{err}");
}

#[test]
fn vast_needs_endpoints() {
    let err = Config::from_toml("[backend]\nkind = \"vast\"\n").unwrap_err();
    assert!(err.to_string().contains("vast.endpoints"), "{err}");
}

#[test]
fn secrets_are_redacted() {
    let config = Config::from_toml("[vast]\nsecret_key = \"hunter2\"\n").unwrap();
    let text = config.redacted_toml();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("***"), "{text}");
    let config =
        Config::from_toml("[cache.shared]\nredis_url = \"redis://app:hunter2@cache:6379/1\"\n")
            .unwrap();
    let text = config.redacted_toml();
    assert!(
        !text.contains("hunter2") && text.contains("redis://***@cache:6379/1"),
        "{text}"
    );
}

#[test]
fn bad_cache_values_name_the_key() {
    for (toml, key) in [
        (
            "[cache.partials]\nbucket = \"10ms\"\n",
            "cache.partials.bucket",
        ),
        (
            "[cache.partials]\nmax_buckets = 0\n",
            "cache.partials.max_buckets",
        ),
        (
            "[cache.shared]\nredis_url = \"http://cache\"\n",
            "cache.shared.redis_url",
        ),
        ("[cache.shared]\ntimeout = \"0s\"\n", "cache.shared.timeout"),
    ] {
        let err = Config::from_toml(toml).unwrap_err();
        assert!(err.to_string().contains(key), "{toml}: {err}");
    }
}

#[test]
fn bad_cluster_values_name_the_key() {
    for (toml, key) in [
        ("[vast.health]\ninterval = \"0s\"\n", "vast.health.interval"),
        ("[vast.hedge]\nfactor = 0.5\n", "vast.hedge.factor"),
        (
            "[vast.breaker]\nbase_ejection = \"10s\"\nmax_ejection = \"5s\"\n",
            "vast.breaker.max_ejection",
        ),
        ("[vast]\nbalance = \"random\"\n", "balance"),
        (
            "[vast.breaker]\nfailure_rate = 0\n",
            "vast.breaker.failure_rate",
        ),
    ] {
        let err = Config::from_toml(toml).unwrap_err();
        assert!(err.to_string().contains(key), "{toml}: {err}");
    }
    let env = HashMap::from([(
        "VASTGATE__VAST__BREAKER__BASE_EJECTION".to_owned(),
        "7s".to_owned(),
    )]);
    let config = Config::from_sources(None, &env).expect("env config loads");
    assert_eq!(
        config.vast.breaker.base_ejection,
        std::time::Duration::from_secs(7)
    );
}
