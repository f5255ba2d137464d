"""Checks deploy/: the compose file's wiring and the rendered Kubernetes manifests.

usage: deploy_check.py REPO_ROOT RENDERED_K8S_YAML

Compose cannot run here (no Docker daemon, no registry), so its wiring is checked as data:
every mounted file exists, vastgate's endpoints are the emulator services, Prometheus scrapes
vastgate and loads the rules, Grafana's data source and dashboard provider match the mounts.
The Kubernetes objects are validated against the Kubernetes schemas by kubernetes-validate,
and their cross-references (selectors, named ports, probes, mounts) are checked here.
"""

import json
import os
import sys

import kubernetes_validate
import yaml


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def compose(root):
    base = os.path.join(root, "deploy", "compose")
    with open(os.path.join(base, "docker-compose.yml")) as f:
        spec = yaml.safe_load(f)
    services = spec["services"]
    for name in ["vastgate", "emulator-1", "emulator-2", "emulator-3", "prometheus", "grafana"]:
        check(name in services, f"compose has no service {name}")

    mounts = {}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                path = os.path.normpath(os.path.join(base, source))
                check(os.path.exists(path), f"{name} mounts {source}, which does not exist")
                mounts[(name, target)] = path
        build = service.get("build")
        if build:
            context = os.path.normpath(os.path.join(base, build["context"]))
            check(os.path.exists(os.path.join(context, "Dockerfile")), f"{name}: no Dockerfile in {context}")

    # vastgate reads from exactly the three emulators, at the port each listens on.
    env = services["vastgate"]["environment"]
    endpoints = env["VASTGATE__VAST__ENDPOINTS"].split(",")
    listening = []
    for name in ["emulator-1", "emulator-2", "emulator-3"]:
        command = services[name]["command"]
        check(command[0] == "emulate", f"{name} does not run `vastgate emulate`")
        port = command[command.index("--listen") + 1].rsplit(":", 1)[1]
        listening.append(f"http://{name}:{port}")
    check(sorted(endpoints) == sorted(listening), f"endpoints {endpoints} vs emulators {listening}")

    # Prometheus scrapes vastgate's HTTP port and loads the rules file it mounts.
    prometheus = yaml.safe_load(open(mounts[("prometheus", "/etc/prometheus/prometheus.yml")]))
    targets = [t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    check("vastgate:9090" in targets, f"Prometheus scrapes {targets}")
    for rule_file in prometheus["rule_files"]:
        check(("prometheus", rule_file) in mounts, f"rule file {rule_file} is not mounted")

    # Grafana: the provisioned data source is the Prometheus service; the dashboard provider's
    # folder is where the dashboard is mounted; the dashboard's data source is that one.
    provisioning = mounts[("grafana", "/etc/grafana/provisioning")]
    sources = yaml.safe_load(open(os.path.join(provisioning, "datasources", "prometheus.yml")))
    source = sources["datasources"][0]
    check(source["url"] == "http://prometheus:9090", f"Grafana's data source is {source['url']}")
    providers = yaml.safe_load(open(os.path.join(provisioning, "dashboards", "vastgate.yml")))
    folder = providers["providers"][0]["options"]["path"]
    dashboards = [t for (s, t) in mounts if s == "grafana" and t.startswith(folder + "/")]
    check(dashboards, f"no dashboard mounted under {folder}")
    dashboard = json.load(open(mounts[("grafana", dashboards[0])]))
    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")
    check(variable["current"]["value"] == source["uid"], "the dashboard's default data source is not the provisioned one")


def kubernetes(rendered):
    objects = [o for o in yaml.safe_load_all(open(rendered)) if o]
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
        if obj["apiVersion"].startswith("monitoring.coreos.com"):
            continue  # a CRD: no schema in kubernetes-validate; cross-checked below
        kubernetes_validate.validate(obj, "1.30.0", strict=True)
    for kind in ["Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler",
                 "PodDisruptionBudget", "ServiceMonitor"]:
        check(kind in by_kind, f"no {kind}")

    deployment = by_kind["Deployment"][0]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(set(ports) == {"grpc", "http"}, f"container ports {ports}")
    check(container["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness is not /readyz")
    check(container["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness is not /healthz")
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"]:
        check(container[probe]["httpGet"]["port"] in ports, f"{probe} names an unknown port")
    security = container["securityContext"]
    check(security["readOnlyRootFilesystem"] is True, "root FS is writable")
    check(security["allowPrivilegeEscalation"] is False, "privilege escalation allowed")
    check(pod["spec"]["securityContext"]["runAsNonRoot"] is True, "may run as root")
    check("limits" in container["resources"] and "requests" in container["resources"], "no resources")

    # The config file the container is told to read is the mounted ConfigMap.
    config_path = container["args"][container["args"].index("--config") + 1]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == config_path)
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mount["name"])
    config_maps = {c["metadata"]["name"]: c for c in by_kind["ConfigMap"]}
    check(volume["configMap"]["name"] in config_maps, "the config volume names no ConfigMap")
    check(mount["subPath"] in config_maps[volume["configMap"]["name"]]["data"], "config key missing")

    # Every Secret key and ConfigMap the pod refers to exists.
    secrets = {s["metadata"]["name"]: s for s in by_kind["Secret"]}
    for env in container["env"]:
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            check(ref["key"] in secrets[ref["name"]]["stringData"], f"secret key {ref}")
    for source in container["envFrom"]:
        check(source["configMapRef"]["name"] in config_maps, f"envFrom {source}")

    # The Service selects the pods and the ServiceMonitor selects the Service by a named port.
    service = by_kind["Service"][0]
    labels = pod["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in service["spec"]["selector"].items()), "Service selects no pod")
    monitor = by_kind["ServiceMonitor"][0]
    service_labels = service["metadata"]["labels"]
    check(all(service_labels.get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items()),
          "ServiceMonitor selects no Service")
    service_ports = {p["name"] for p in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        check(endpoint["port"] in service_ports, f"ServiceMonitor port {endpoint['port']}")
    budget = by_kind["PodDisruptionBudget"][0]
    check(all(labels.get(k) == v for k, v in budget["spec"]["selector"]["matchLabels"].items()), "PDB selects no pod")
    hpa = by_kind["HorizontalPodAutoscaler"][0]
    check(hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"], "HPA scales another object")


def main():
    root, rendered = sys.argv[1], sys.argv[2]
    compose(root)
    kubernetes(rendered)
    print("deploy/ checks passed")


if __name__ == "__main__":
    main()
