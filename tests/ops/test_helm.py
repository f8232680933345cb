"""The Helm chart: scripts/helm-check.sh (helm lint, helm template, kubernetes-validate)
must pass, must fail on a broken chart, and the rendered manifests must have what
the deployment guide asks for.

helm is built by scripts/go-tools.sh when missing (a few minutes, once): a
machine where it cannot be built fails here with the reason - never a skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK = os.path.join(ROOT, "scripts", "helm-check.sh")


def helm_check(out: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHECK, "--out", out], capture_output=True, text=True, cwd=ROOT, timeout=1800, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    out = str(tmp_path_factory.mktemp("helm-out"))
    cp = helm_check(out)
    if cp.returncode != 0:
        pytest.fail(
            f"scripts/helm-check.sh failed (exit {cp.returncode}):\n{cp.stdout[-4000:]}\n{cp.stderr[-4000:]}",
            pytrace=False,
        )
    assert "helm-check: OK" in cp.stdout
    docs = {}
    for path in glob.glob(os.path.join(out, "*-k8s-1.28.0.yaml")):
        with open(path) as f:
            docs[os.path.basename(path).split("-k8s-")[0]] = [d for d in yaml.safe_load_all(f) if d]
    assert set(docs) == {"default", "minimal-values", "production-values"}
    return docs


def one(docs: list[dict], kind: str, component: str | None = None) -> dict:
    found = [
        d
        for d in docs
        if d["kind"] == kind
        and (component is None or d["metadata"]["labels"].get("app.kubernetes.io/component") == component)
    ]
    assert len(found) == 1, f"expected one {kind} {component or ''}, found {len(found)}"
    return found[0]


def test_gateway_deployment_probes_and_rolling_update(rendered) -> None:
    dep = one(rendered["default"], "Deployment", "gateway")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert c["args"][:3] == ["serve", "--config", "/etc/s3gw/config.yaml"]
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 2, "maxUnavailable": 1}
    assert c["resources"] == {
        "requests": {"cpu": "2000m", "memory": "4Gi"},
        "limits": {"cpu": "4000m", "memory": "8Gi"},
    }
    assert "replicas" not in dep["spec"], "with the HPA on, the Deployment must not pin replicas"


def test_hpa_targets_as_in_the_deployment_guide(rendered) -> None:
    hpa = one(rendered["default"], "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (6, 50)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["spec"]["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert not [d for d in rendered["minimal-values"] if d["kind"] == "HorizontalPodAutoscaler"]


def test_disruption_budgets_for_gateways_and_nodes(rendered) -> None:
    assert one(rendered["default"], "PodDisruptionBudget", "gateway")["spec"]["maxUnavailable"] == 1
    assert one(rendered["default"], "PodDisruptionBudget", "storage-node")["spec"]["maxUnavailable"] == 1


def test_storage_nodes_statefulset_one_claim_per_drive(rendered) -> None:
    for variant, drives, replicas in (("default", 2, 9), ("minimal-values", 1, 9), ("production-values", 2, 18)):
        sts = one(rendered[variant], "StatefulSet", "storage-node")
        svc = next(
            d
            for d in rendered[variant]
            if d["kind"] == "Service" and d["metadata"]["name"] == sts["spec"]["serviceName"]
        )
        assert svc["spec"]["clusterIP"] == "None", "the nodes' Service must be headless"
        assert sts["spec"]["replicas"] == replicas
        claims = [v["metadata"]["name"] for v in sts["spec"]["volumeClaimTemplates"]]
        assert claims == [f"drive-{i}" for i in range(1, drives + 1)]
        c = sts["spec"]["template"]["spec"]["containers"][0]
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        data = [c["args"][i + 1] for i, a in enumerate(c["args"]) if a == "--data"]
        assert data == [mounts[n] for n in claims], "every claim is mounted and given to `s3gw node --data`"
        assert c["args"][c["args"].index("--node-id") + 1] == "$(POD_NAME)"
        assert c["livenessProbe"]["httpGet"]["path"] == "/minio/health/live"


def test_configmap_is_the_server_config_with_every_node(rendered) -> None:
    cm = one(rendered["production-values"], "ConfigMap")
    cfg = yaml.safe_load(cm["data"]["config.yaml"])
    assert len(cfg["storage"]["nodes"]) == 18
    assert cfg["storage"]["erasure_coding"] == {"data_shards": 6, "parity_shards": 3, "chunk_size": "1MiB"}
    assert cfg["database"]["host"].endswith("rds.amazonaws.com") and cfg["database"]["password_file"]
    assert cfg["cache"]["redis"]["endpoints"][0].startswith("cache-001") and cfg["cache"]["redis"]["tls"] is True
    assert "password" not in cfg["database"] and "password" not in cfg["cache"]["redis"]


def test_secrets_are_referenced_never_inlined(rendered) -> None:
    for variant, docs in rendered.items():
        assert not [d for d in docs if d["kind"] == "Secret"], variant
        for d in docs:
            spec = d.get("spec", {}).get("template", {}).get("spec", {})
            for c in spec.get("containers", []):
                for e in c.get("env", []):
                    if any(w in e["name"].upper() for w in ("PASSWORD", "SECRET", "TOKEN", "KEY")) and not e[
                        "name"
                    ].endswith("_FILE"):
                        assert "value" not in e, f"{variant}: {e['name']} has an inline value"
        dep = one(docs, "Deployment", "gateway")
        sources = dep["spec"]["template"]["spec"]["volumes"]
        projected = next(v for v in sources if v["name"] == "secrets")["projected"]["sources"]
        names = {s["secret"]["name"] for s in projected}
        assert {"s3gw-root", "s3gw-cluster"} <= names, f"{variant}: {names}"


def test_servicemonitor_scrapes_the_gateways(rendered) -> None:
    docs = rendered["production-values"]
    for component, paths in (("gateway", ["/metrics", "/minio/v2/metrics/cluster"]), ("storage-node", ["/metrics"])):
        sm = one(docs, "ServiceMonitor", component)
        svc = one(docs, "Service", component)
        assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
        assert {e["port"] for e in sm["spec"]["endpoints"]} <= {p["name"] for p in svc["spec"]["ports"]}
        assert [e["path"] for e in sm["spec"]["endpoints"]] == paths
        assert all(e["bearerTokenSecret"]["name"] == "s3gw-metrics-token" for e in sm["spec"]["endpoints"])
    env = {e["name"]: e for e in one(docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["S3GW_METRICS_TOKEN_FILE"]["value"] == "/etc/s3gw/secrets/metrics-token"
    assert not [d for d in rendered["default"] if d["kind"] == "ServiceMonitor"], "off unless asked for"


def test_helm_check_fails_on_a_broken_chart(tmp_path) -> None:
    chart = tmp_path / "s3gw"
    shutil.copytree(os.path.join(ROOT, "helm", "s3gw"), chart)
    pdb = chart / "templates" / "gateway-pdb.yaml"
    # a field PodDisruptionBudget does not have: only schema validation can catch it
    pdb.write_text(pdb.read_text().replace("  maxUnavailable:", "  maxUnavailabel: 1\n  maxUnavailable:"))
    cp = helm_check(str(tmp_path / "out"), env={"HELM_CHART": str(chart)})
    assert cp.returncode != 0
    assert "maxUnavailabel" in cp.stderr + cp.stdout


def test_production_values_encrypt_every_hop(rendered) -> None:
    """The guide's encryption_in_transit: HTTPS-only gateways, HTTPS nodes verified with their CA,
    PostgreSQL verify-full with its CA bundle, Redis over TLS; probes and scrapes over HTTPS."""
    docs = rendered["production-values"]
    cfg = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yaml"])
    assert cfg["security"]["encryption"]["encryption_in_transit"] is True
    assert cfg["security"]["tls"]["cert_file"] == "/etc/s3gw/tls/tls.crt"
    assert all(u.startswith("https://") for u in cfg["storage"]["nodes"])
    assert cfg["storage"]["node_ca_file"] == "/etc/s3gw/secrets/node-ca.crt"
    assert (cfg["database"]["sslmode"], cfg["database"]["ca_file"]) == ("verify-full", "/etc/s3gw/secrets/db-ca.crt")
    assert cfg["cache"]["redis"]["tls"] is True
    gw = one(docs, "Deployment", "gateway")["spec"]["template"]["spec"]
    c = gw["containers"][0]
    assert [p["name"] for p in c["ports"]] == ["https"], "the plain port is never opened"
    for probe in (c["readinessProbe"], c["livenessProbe"]):
        assert (probe["httpGet"]["port"], probe["httpGet"]["scheme"]) == ("https", "HTTPS")
    projected = next(v for v in gw["volumes"] if v["name"] == "secrets")["projected"]["sources"]
    paths = {i["path"]: s["secret"]["name"] for s in projected for i in s["secret"]["items"]}
    assert paths["node-ca.crt"] == "objectstore-node-tls" and paths["db-ca.crt"] == "rds-ca-bundle"
    assert [p["name"] for p in one(docs, "Service", "gateway")["spec"]["ports"]] == ["https"]
    node = one(docs, "StatefulSet", "storage-node")["spec"]["template"]["spec"]
    args = node["containers"][0]["args"]
    assert args[args.index("--tls-cert") + 1] == "/etc/s3gw/tls/tls.crt"
    assert node["containers"][0]["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert next(v for v in node["volumes"] if v["name"] == "tls")["secret"]["secretName"] == "objectstore-node-tls"
    for sm in (d for d in docs if d["kind"] == "ServiceMonitor"):
        assert all(e["scheme"] == "https" and e["tlsConfig"]["ca"]["secret"] for e in sm["spec"]["endpoints"])
    # without it (the default values): both ports, plain probes, http:// nodes
    default = one(rendered["default"], "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    assert [p["name"] for p in default["ports"]] == ["http"] and "scheme" not in default["readinessProbe"]["httpGet"]


def helm_bin() -> str:
    cp = subprocess.run(
        [os.path.join(ROOT, "scripts", "go-tools.sh"), "helm"], capture_output=True, text=True, timeout=1800
    )
    path = next((line.split()[1] for line in cp.stdout.splitlines() if line.startswith("helm ")), "")
    assert cp.returncode == 0 and path, cp.stderr[-500:]
    return path


def test_encryption_in_transit_with_a_plain_hop_does_not_render() -> None:
    """The chart refuses what the gateway would refuse to start with, naming every value to set."""
    cp = subprocess.run(
        [helm_bin(), "template", "s3gw", os.path.join(ROOT, "helm", "s3gw"), "--kube-version", "1.28.0"]
        + ["--set", "config.security.encryption.encryption_in_transit=true", "--set", "postgresql.sslmode=prefer"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cp.returncode != 0
    for wanted in ("tls.enabled", "nodes.tls.enabled", "postgresql.sslmode", "(not prefer)", "redis.tls"):
        assert wanted in cp.stderr, cp.stderr
