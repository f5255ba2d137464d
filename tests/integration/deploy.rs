//! `deploy/`: the Grafana dashboard and the alert rules name only metrics a serving vastgate
//! exports (and every exported family is on the dashboard); promtool checks and unit-tests the
//! rules; the Kubernetes base renders with kustomize and validates; the compose file is wired.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use futures::StreamExt;
use vastgate::proto;

use crate::{
    harness::{TestServer, data_dir, sensors},
    http::get,
    python::run_script,
    vast_sdk::Emulator,
};

/// Families exported but deliberately not on the dashboard, with the reason.
const NOT_ON_DASHBOARD: &[(&str, &str)] = &[];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `vastgate_…` name in `text`, histogram series names reduced to their family.
fn metric_names(text: &str, histograms: &BTreeSet<String>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(found) = text[i..].find("vastgate_") {
        let start = i + found;
        let preceded =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if !preceded {
            let name = &text[start..end];
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    name.strip_suffix(suffix)
                        .filter(|f| histograms.contains(*f))
                })
                .unwrap_or(name);
            names.insert(family.to_owned());
        }
        i = end;
    }
    names
}

/// `(family, type)` of every family on `/metrics`.
fn exported_families(metrics: &str) -> Vec<(String, String)> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| (name.to_owned(), kind.to_owned()))
        .collect()
}

fn dashboard_exprs() -> String {
    let text = std::fs::read_to_string(root().join("deploy/grafana/vastgate.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("expr" | "query", serde_json::Value::String(s)) => out.push(s.clone()),
                        _ => walk(inner, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&dashboard, &mut exprs);
    exprs.join("\n")
}

#[tokio::test]
async fn the_dashboard_and_the_alerts_name_only_metrics_a_serving_server_exports() {
    // The VAST backend (its endpoint series exist only there) after some traffic, a failure
    // among it.
    let emulators = [
        Emulator::start(data_dir()).await,
        Emulator::start(data_dir()).await,
    ];
    let server = TestServer::with_vast(&[&emulators[0].url, &emulators[1].url], "").await;
    let mut query = server.query().await;
    let mut select = query
        .select(proto::SelectRequest {
            table: sensors(),
            columns: vec!["temperature".into()],
            limit: 50_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    while let Some(chunk) = select.next().await {
        chunk.unwrap();
    }
    server
        .analytics()
        .await
        .percentiles(proto::PercentilesRequest {
            table: sensors(),
            value_column: "temperature".into(),
            quantiles: vec![0.5],
            ..Default::default()
        })
        .await
        .unwrap();
    let missing = query
        .describe_table(proto::DescribeTableRequest {
            table: Some(proto::TableRef {
                schema: "demo".into(),
                table: "nope".into(),
                ..Default::default()
            }),
            bypass_cache: false,
        })
        .await;
    assert!(missing.is_err());
    let (status, metrics) = get(server.http, "/metrics").await;
    assert_eq!(status, 200, "{metrics}");

    let families = exported_families(&metrics);
    let histograms: BTreeSet<String> = families
        .iter()
        .filter(|(_, kind)| kind == "histogram")
        .map(|(name, _)| name.clone())
        .collect();
    let exported: BTreeSet<String> = families
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| name.starts_with("vastgate_"))
        .collect();

    let on_dashboard = metric_names(&dashboard_exprs(), &histograms);
    let rules = std::fs::read_to_string(root().join("deploy/prometheus/rules.yml")).unwrap();
    let in_rules = metric_names(&rules, &histograms);
    for (source, names) in [("dashboard", &on_dashboard), ("rules.yml", &in_rules)] {
        let unknown: Vec<&String> = names.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{source} names metrics /metrics lacks: {unknown:?}"
        );
    }
    let left_out: BTreeSet<String> = NOT_ON_DASHBOARD
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    let unshown: Vec<&String> = exported
        .iter()
        .filter(|name| !on_dashboard.contains(*name) && !left_out.contains(*name))
        .collect();
    assert!(unshown.is_empty(), "exported but on no panel: {unshown:?}");
    // The new series of the operations issue are among them.
    for name in [
        "vastgate_engine_queued",
        "vastgate_engine_workers_busy",
        "vastgate_requests_refused_total",
        "vastgate_slow_queries_total",
        "vastgate_endpoint_up",
    ] {
        assert!(exported.contains(name), "{name} not exported");
    }
}

fn tool(name: &str, package: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{name}` is not installed: apt-get install {package} (what .ci/run does)"
    );
    Command::new(name)
}

fn succeeds(mut command: Command, dir: &Path) -> String {
    let output = command.current_dir(dir).output().expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

#[test]
fn promtool_checks_the_alert_rules_and_passes_their_unit_tests() {
    let dir = root().join("deploy/prometheus");
    let mut check = tool("promtool", "prometheus");
    check.args(["check", "rules", "rules.yml"]);
    let text = succeeds(check, &dir);
    assert!(text.contains("SUCCESS"), "{text}");
    let mut test = tool("promtool", "prometheus");
    test.args(["test", "rules", "rules_test.yml"]);
    let text = succeeds(test, &dir);
    assert!(text.contains("SUCCESS"), "{text}");
    let mut config = tool("promtool", "prometheus");
    // The compose file mounts rules.yml where prometheus.yml expects it; checked with the
    // rules path made local.
    let scrape = std::fs::read_to_string(dir.join("prometheus.yml"))
        .unwrap()
        .replace(
            "/etc/prometheus/rules.yml",
            &dir.join("rules.yml").display().to_string(),
        );
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), scrape).unwrap();
    config.args(["check", "config"]).arg(local.path());
    succeeds(config, &dir);
}

#[tokio::test]
async fn kubernetes_manifests_render_and_validate_and_compose_is_wired() {
    let example = std::fs::read_to_string(root().join("deploy/vastgate.example.toml")).unwrap();
    let in_k8s = std::fs::read_to_string(root().join("deploy/k8s/vastgate.toml")).unwrap();
    assert_eq!(
        in_k8s, example,
        "deploy/k8s/vastgate.toml must equal the example config"
    );

    let mut kustomize = tool("kubectl", "kubernetes-client");
    kustomize
        .args(["kustomize", "deploy/k8s"])
        .current_dir(root());
    let output = kustomize.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rendered = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(rendered.path(), &output.stdout).unwrap();
    let text = run_script(
        "tests/python/deploy_check.py",
        vec![
            root().display().to_string(),
            rendered.path().display().to_string(),
        ],
    )
    .await;
    assert!(text.contains("deploy/ checks passed"), "{text}");
}
