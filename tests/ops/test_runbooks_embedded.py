"""Every ops script against the embedded default (`python -m s3gw.cli serve --data DIR`):
--help works, a healthy store is OK (exit 0), a dead or unreachable one is not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import free_port
from tests.ops.conftest import LENIENT, OPS, Ops, needs, needs_endpoints

SCRIPTS = [
    "health-check.py",
    "capacity-monitor.py",
    "scale.py",
    "maintenance.py",
    "update.py",
    "incident-response.py",
    "perf-check.py",
    "backup.py",
    "runbooks/daily.py",
    "runbooks/weekly.py",
    "runbooks/emergency.py",
]


def test_every_script_is_listed_and_has_help(ops_embedded: Ops) -> None:
    library = os.path.join(OPS, "s3gwops")  # the scripts' shared package, not a script
    on_disk = sorted(
        os.path.relpath(os.path.join(d, f), OPS)
        for d, _, fs in os.walk(OPS)
        for f in fs
        if f.endswith(".py") and not d.startswith(library) and "__pycache__" not in d
    )
    assert on_disk == sorted(SCRIPTS)
    readme = open(os.path.join(OPS, "README.md")).read()
    for script in SCRIPTS:
        assert os.access(os.path.join(OPS, script), os.X_OK), f"{script} is not executable"
        assert f"`{script}`" in readme or f"({script})" in readme, f"ops/README.md does not index {script}"
        r = ops_embedded.run(script, "--help")
        assert r.code == 0, f"{script} --help\n{r}"
        assert "S3GW_ENDPOINT" in r.out and "exit codes" in r.out, script


def test_health_check_healthy(ops_embedded: Ops) -> None:
    needs_endpoints(ops_embedded.endpoint, "/health/live", "/health/ready")
    r = ops_embedded.expect(0, "health-check.py", *LENIENT, "--heal-dry-run")
    assert "canary" in r.out and "write quorum reachable" in r.out


def test_health_check_json(ops_embedded: Ops) -> None:
    r = ops_embedded.run("health-check.py", *LENIENT, "--json", "--no-canary")
    doc = json.loads(r.out)
    assert doc["exit_code"] == r.code and doc["verdict"] in ("OK", "WARNING")
    assert any("quorum" in c["message"] for c in doc["checks"])


def test_nothing_listening_is_critical(ops_embedded: Ops) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for script, args in (
        ("health-check.py", []),
        ("incident-response.py", ["pod-crash"]),
        ("runbooks/emergency.py", []),
    ):
        r = ops_embedded.expect(2, script, "--endpoint", dead, *args)
        assert "does not answer" in r.out or "no gateway answers" in r.out


def test_no_credentials_is_unknown(ops_embedded: Ops) -> None:
    r = ops_embedded.run("health-check.py", env={"S3GW_ROOT_USER": "", "S3GW_ROOT_PASSWORD": ""})
    assert r.code == 3 and "no credentials" in r.out + r.err


def test_wrong_credentials_fail_the_canary(ops_embedded: Ops) -> None:
    r = ops_embedded.run("health-check.py", *LENIENT, env={"S3GW_ROOT_PASSWORD": "not-the-password"})
    assert r.code == 2, r
    assert "canary" in r.out and "403" in r.out


def test_mc_alias_as_the_target(ops_embedded: Ops, mc_bin: str) -> None:
    env = ops_embedded.env
    subprocess.run(
        [mc_bin, "alias", "set", "prod", ops_embedded.endpoint, env["S3GW_ROOT_USER"], env["S3GW_ROOT_PASSWORD"]],
        env=env,
        check=True,
        capture_output=True,
    )
    r = ops_embedded.run(
        "capacity-monitor.py",
        *LENIENT,
        "--no-record",
        env={"S3GW_MC_ALIAS": "prod", "S3GW_ENDPOINT": "", "S3GW_ROOT_USER": "", "S3GW_ROOT_PASSWORD": ""},
    )
    assert r.code == 0, r
    assert ops_embedded.endpoint in r.out


def test_capacity_monitor_thresholds_and_buckets(ops_embedded: Ops) -> None:
    ops_embedded.expect(0, "perf-check.py", "--objects", "4", "--bucket", "capacity-data")  # leaves the bucket
    r = ops_embedded.expect(0, "capacity-monitor.py", *LENIENT)
    assert "capacity-data" in r.out and "bucket(s)" in r.out
    r = ops_embedded.expect(1, "capacity-monitor.py", "--warn-pct", "0.01", "--crit-pct", "99.9", "--no-buckets")
    assert "plan expansion" in r.verdict
    ops_embedded.expect(2, "capacity-monitor.py", "--warn-pct", "0.01", "--crit-pct", "0.02", "--no-buckets")


def test_capacity_forecast_from_history(ops_embedded: Ops, tmp_path) -> None:
    hist = tmp_path / "history.jsonl"
    first = ops_embedded.run("capacity-monitor.py", *LENIENT, "--history", str(hist), "--no-buckets", "--json")
    now = json.loads(first.out)["fullest_pct"]
    # three days ago the fullest drive was 15 points emptier: 5 %/day (steep, so that other
    # processes writing to this machine's disk meanwhile hardly move the figures)
    hist.write_text(
        json.dumps(
            {"ts": time.time() - 3 * 86400, "drive": "x", "pct": now - 15, "free": 1, "total": 2, "logical": None}
        )
        + "\n"
    )
    r = ops_embedded.run(
        "capacity-monitor.py",
        "--warn-pct",
        "99.5",
        "--crit-pct",
        str(now + 25),
        "--history",
        str(hist),
        "--no-buckets",
        "--json",
    )
    doc = json.loads(r.out)
    assert doc["pct_per_day"] == pytest.approx(5, abs=0.5)
    assert doc["days_to_critical"] == pytest.approx(5, abs=1)
    assert r.code == 1 and any("days (< 30)" in c["message"] for c in doc["checks"]), r


def test_perf_check_replaces_speedtest(ops_embedded: Ops) -> None:
    r = ops_embedded.expect(0, "perf-check.py", "--objects", "8", "--size", "256KiB", "--save-baseline")
    assert "PUT" in r.out and "GET" in r.out and "every byte checked" in r.out
    r = ops_embedded.expect(1, "perf-check.py", "--objects", "4", "--size", "256KiB", "--min-put-mibs", "1000000")
    assert "below" in r.verdict


@pytest.mark.parametrize("incident", ["pod-crash", "storage-full", "network-issue", "performance", "data-loss"])
def test_incident_response_on_a_healthy_store(ops_embedded: Ops, incident: str) -> None:
    extra = LENIENT if incident == "storage-full" else []
    r = ops_embedded.expect(0, "incident-response.py", incident, *extra)
    assert "-- what to do" not in r.out, "no recovery steps when there is no incident"


def test_incident_response_help(ops_embedded: Ops) -> None:
    r = ops_embedded.expect(0, "incident-response.py", "help", verdict=False)
    for t in ("pod-crash", "storage-full", "network-issue", "performance", "security", "data-loss"):
        assert t in r.out


def test_security_findings(ops_embedded: Ops) -> None:
    needs(("user", "list"))
    env = ops_embedded.env
    subprocess.run(
        [
            sys.executable,
            "-m",
            "s3gw.cli",
            "admin",
            "user",
            "add",
            "ops-alice",
            "alice-secret-0123456789",
            "--policy",
            "readwrite",
            "--endpoint",
            ops_embedded.endpoint,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    r = ops_embedded.expect(0, "incident-response.py", "security")
    assert "with readwrite/consoleAdmin: ops-alice" in r.out
    # a burst of refused requests since the previous run is a WARNING
    for _ in range(6):
        subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-H",
                "Authorization: AWS4-HMAC-SHA256 Credential=nobody/20260101/us-east-1/s3/aws4_request, "
                "SignedHeaders=host, Signature=00",
                ops_embedded.endpoint + "/",
            ],
            check=False,
        )
    r = ops_embedded.run("incident-response.py", "security", "--max-auth-failures", "5")
    assert r.code == 1 and "authentication failure(s) since the last check" in r.out, r
    # the well-known default credentials are an incident even on loopback
    r = ops_embedded.run(
        "incident-response.py", "security", env={"S3GW_ROOT_USER": "minioadmin", "S3GW_ROOT_PASSWORD": "minioadmin"}
    )
    assert r.code == 2 and "default credentials" in r.out


def test_maintenance_on_refuses_writes_then_off(ops_embedded: Ops) -> None:
    needs(("maintenance", "status"))
    ops_embedded.expect(0, "maintenance.py", "check")
    try:
        r = ops_embedded.expect(0, "maintenance.py", "on", "--reason", "ops test")
        assert "writes refused" in r.out and "reads served" in r.out
        r = ops_embedded.expect(1, "maintenance.py", "check")
        assert "ops test" in r.out
        ops_embedded.expect(1, "health-check.py", *LENIENT)  # maintenance is a WARNING, not an outage
    finally:
        ops_embedded.run("maintenance.py", "off")
    ops_embedded.expect(0, "maintenance.py", "check")


def test_backup_run_and_verify_with_restore_test(ops_embedded: Ops, tmp_path) -> None:
    needs(("backup",), ("export-manifest",), ("restore",))
    d = str(tmp_path / "backups")
    ops_embedded.expect(2, "backup.py", "verify", "--dir", d)  # nothing there yet
    ops_embedded.expect(0, "backup.py", "run", "--dir", d)
    r = ops_embedded.expect(0, "backup.py", "verify", "--dir", d, "--restore-test")
    assert "restored into a scratch directory" in r.out


def test_scale_plan_and_verify_embedded(ops_embedded: Ops) -> None:
    r = ops_embedded.run("scale.py", "plan", "--add-bytes", "0", "--target-pct", "99.5")
    assert r.code == 0 and "embedded" in r.out, r
    ops_embedded.expect(0, "scale.py", "verify")


def test_update_check_reports_the_version(ops_embedded: Ops) -> None:
    needs_endpoints(ops_embedded.endpoint, "/health/live")
    r = ops_embedded.expect(0, "update.py", "check")
    assert "s3gw 0.1" in r.out


def test_rolling_restart_refuses_a_single_gateway(ops_embedded: Ops) -> None:
    r = ops_embedded.expect(2, "update.py", "rolling-restart", "--restart-gateway-cmd", "true", "--only", "gateways")
    assert "one gateway" in r.out


def test_daily_weekly_emergency_runbooks(ops_embedded: Ops) -> None:
    needs(("user", "list"))
    needs_endpoints(ops_embedded.endpoint, "/health/live", "/health/ready")
    r = ops_embedded.expect(0, "runbooks/daily.py", "--warn-pct", "99.5", "--crit-pct", "99.9", "--perf-objects", "4")
    for step in ("health-check.py", "capacity-monitor.py", "perf-check.py", "incident-response.py"):
        assert step in r.out
    ops_embedded.expect(0, "runbooks/emergency.py")
    r = ops_embedded.run("runbooks/weekly.py", "--warn-pct", "99.5", "--crit-pct", "99.9")
    assert "no --backup-dir" in r.out and r.code == 1, r  # the restore test was not run: a WARNING


def test_helm_paths_drive_helm_and_kubectl(ops_embedded: Ops, tmp_path) -> None:
    """No Kubernetes here: helm and kubectl are stubs that record their arguments, so the
    Kubernetes paths of update.py and scale.py run against the live gateway all the same."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.log"
    for tool in ("helm", "kubectl"):
        stub = bindir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\necho "{tool} ok"\n')
        stub.chmod(0o755)
    env = {"PATH": f"{bindir}:{os.environ['PATH']}"}
    r = ops_embedded.expect(
        0,
        "update.py",
        "helm-upgrade",
        "--namespace",
        "objectstore",
        "--release",
        "prod",
        "--set",
        "image.tag=0.2.0",
        "--canary-interval",
        "0.1",
        env=env,
    )
    assert "none failed" in r.out
    r = ops_embedded.expect(
        0, "update.py", "helm-rollback", "--namespace", "objectstore", "--release", "prod", "--revision", "3", env=env
    )
    ops_embedded.expect(
        0, "scale.py", "helm", "--namespace", "objectstore", "--release", "prod", "--nodes", "1", env=env
    )
    calls = log.read_text().splitlines()
    assert any(c.startswith("helm upgrade prod ") and "--reuse-values --set image.tag=0.2.0" in c for c in calls)
    assert "helm rollback prod 3 -n objectstore" in calls
    assert any(c.startswith("helm upgrade prod ") and "--set nodes.replicas=1" in c for c in calls)
    assert "kubectl rollout status statefulset/prod-s3gw-node -n objectstore --timeout=60m" in calls
    assert "kubectl rollout status deployment/prod-s3gw-gateway -n objectstore --timeout=60m" in calls
    ops_embedded.expect(3, "update.py", "helm-upgrade", "--set", "image.tag=0.2.0")  # no --namespace
