"""Administration of a running deployment through mc, against a real gateway of several
worker processes (``s3gw serve --workers 2``: two processes on one port): the live trace
(``mc admin trace``), run-time configuration (``mc admin config``) and data usage
(``mc admin info``, ``mc du``, ``mc stat``).

The gateway is this module's own: what these tests change is deployment-wide.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3gw.admin_cli import OpsClient
from s3gw.api.trace import trace_dir
from tests.conftest import ACCESS_KEY, SECRET_KEY, Server, start_server
from tests.functional.drivers import Mc, metric_samples, s3
from tests.functional.rawhttp import sign
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(str(tmp_path_factory.mktemp("live")), "--workers", "2")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def mc(mc_bin: str, gw: Server, tmp_path_factory: pytest.TempPathFactory) -> Mc:
    return Mc(mc_bin, str(tmp_path_factory.mktemp("mc")), gw)


def fresh_request(gw: Server, method: str, path: str) -> int:
    """One signed request on a new connection (the kernel picks a worker per connection)."""
    headers = sign(gw, method, path)
    req = urllib.request.Request(gw.url + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture(scope="module")
def bucket(gw: Server) -> str:
    name = f"live-{uuid.uuid4().hex[:8]}"
    s3(gw).create_bucket(Bucket=name)
    return name


# --------------------------------------------------------------------------- trace


class Trace:
    """``mc admin trace ARGS`` running in the background, its output in a file."""

    def __init__(self, mc: Mc, out: Path, *args: str) -> None:
        self.out = out
        self._f = open(out, "w")
        self.proc = subprocess.Popen(mc.argv("admin", "trace", *args, "s3gw"), stdout=self._f, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.out.read_text()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text().splitlines() if line.startswith("{")]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._f.close()


def _subscribed(gw: Server, bucket: str, t: Trace, marker: str) -> None:
    """Until the trace shows a request (and so, after a scan, every worker sends to it)."""
    wait_until(
        lambda: fresh_request(gw, "HEAD", f"/{bucket}/{marker}") and marker in t.text(),
        "mc admin trace to show a request",
        interval=0.5,
    )


def _workers_seen(t: Trace) -> set[str]:
    return {r.get("extra", {}).get("pid", "") for r in t.records()} - {""}


def test_trace_shows_the_requests_of_every_worker(gw: Server, mc: Mc, bucket: str, tmp_path) -> None:
    """One subscriber, served by one of the two processes, sees what both answer."""
    t = Trace(mc, tmp_path / "trace.json", "--json")
    try:
        # until requests answered by both processes show (the other one found the subscriber)
        wait_until(
            lambda: fresh_request(gw, "HEAD", f"/{bucket}/probe") and len(_workers_seen(t)) == 2,
            "requests of both worker processes in the trace",
            interval=0.3,
        )
        keys = [f"k-{uuid.uuid4().hex[:8]}" for _ in range(40)]
        for k in keys:  # each once, on its own connection: the kernel spreads them over both
            assert fresh_request(gw, "HEAD", f"/{bucket}/{k}") == 404
        wait_until(lambda: [k for k in keys if k not in t.text()] == [], "every request in the trace", timeout=30)
        recs = [r for r in t.records() if r.get("path", "").rsplit("/", 1)[-1] in keys]
        assert len(recs) == 40 and len({r["extra"]["pid"] for r in recs}) == 2
        r = recs[0]
        assert (r["api"], r["statusCode"], r["host"], r["type"]) == ("s3.HeadObject", 404, f"127.0.0.1:{gw.port}", "S3")
    finally:
        t.stop()
    # nobody traces any more: the subscriber's socket is gone, so no process sends anything
    d = trace_dir(gw.data, "127.0.0.1", gw.port)
    wait_until(lambda: not [n for n in os.listdir(d) if n.endswith(".sock")], "the trace sockets removed")


def test_trace_filters_and_details(gw: Server, mc: Mc, bucket: str, tmp_path) -> None:
    s3(gw).put_object(Bucket=bucket, Key="there", Body=b"x")
    errors = Trace(mc, tmp_path / "errors.json", "--json", "--errors")
    internal = Trace(mc, tmp_path / "internal.json", "--json", "--call", "internal")
    verbose = Trace(mc, tmp_path / "verbose.txt", "-v")
    try:
        for t in (errors, verbose):
            _subscribed(gw, bucket, t, f"probe-{uuid.uuid4().hex[:6]}")
        wait_until(
            lambda: mc("admin", "user", "list", "s3gw") and "admin.ListUsers" in internal.text(),
            "an admin call in the internal trace",
            interval=0.5,
        )
        marker = f"ok-{uuid.uuid4().hex[:6]}"
        s3(gw).put_object(Bucket=bucket, Key=marker, Body=b"y")
        wait_until(
            lambda: fresh_request(gw, "GET", f"/{bucket}/{marker}") and marker in verbose.text(),
            "the verbose trace of a GET",
        )
    finally:
        for t in (errors, internal, verbose):
            t.stop()
    assert errors.records() and all(r["statusCode"] >= 400 for r in errors.records())
    assert not any(r["api"].startswith("s3.") for r in internal.records())
    v = verbose.text()
    assert "[REQUEST s3.GetObject]" in v and "[RESPONSE]" in v and "200 OK" in v
    assert "Signature=REDACTED" in v and "Credential=" + ACCESS_KEY in v


def test_trace_needs_its_admin_action(gw: Server, mc: Mc) -> None:
    admin = OpsClient(gw.url, ACCESS_KEY, SECRET_KEY)
    admin.add_user("tracer-ro", "tracer-secret-1", ["readwrite"])
    admin.add_user("tracer-diag", "tracer-secret-2", ["diagnostics"])
    mc("alias", "set", "ro", gw.url, "tracer-ro", "tracer-secret-1")
    cp = mc("admin", "trace", "ro", check=False, timeout=30)
    # (madmin closes a refused trace's answer before reading it: mc cannot show the error's words)
    assert cp.returncode != 0 and "Unable to listen to http trace" in cp.stderr
    headers = sign(gw, "GET", "/minio/admin/v3/trace?s3=true", access="tracer-ro", secret="tracer-secret-1")
    req = urllib.request.Request(gw.url + "/minio/admin/v3/trace?s3=true", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 403 and json.loads(e.value.read())["Code"] == "AccessDenied"
    headers = sign(gw, "GET", "/minio/admin/v3/trace?s3=true", access="tracer-diag", secret="tracer-secret-2")
    req = urllib.request.Request(gw.url + "/minio/admin/v3/trace?s3=true", headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:  # diagnostics may trace
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        assert r.read(1) == b" "  # the idle keep-alive


# --------------------------------------------------------------------------- run-time configuration


def preflight(gw: Server, origin: str) -> str | None:
    """A CORS preflight on a new connection: the Access-Control-Allow-Origin it answers."""
    req = urllib.request.Request(
        gw.url + "/any-bucket/key", method="OPTIONS", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.headers.get("Access-Control-Allow-Origin")
    except urllib.error.HTTPError as e:
        return e.headers.get("Access-Control-Allow-Origin")


def test_config_get_set_reset_history(gw: Server, mc: Mc) -> None:
    subsystems = mc("admin", "config", "get", "s3gw").stdout
    for name in ("api", "heal", "scanner", "site", "storage_class"):
        assert name in subsystems
    assert mc("admin", "config", "get", "s3gw", "api").stdout.strip() == (
        "api requests_max=1024 cors_allow_origin=* stale_uploads_expiry=24h stale_uploads_cleanup_interval=6h"
    )
    out = mc("admin", "config", "set", "s3gw", "heal", "interval=2s").stdout
    assert "Successfully applied new settings" in out
    doc = mc.json("admin", "config", "get", "s3gw", "heal")
    assert doc["config"][0]["kv"] == [{"key": "interval", "value": "2s"}]
    mc("admin", "config", "set", "s3gw", "scanner", "cycle=30m", "deep_every=4")
    assert mc("admin", "config", "get", "s3gw", "scanner").stdout.strip() == "scanner cycle=30m pace=10ms deep_every=4"
    hist = mc("admin", "config", "history", "s3gw").stdout
    assert "scanner cycle=30m deep_every=4" in hist and "heal interval=2s" in hist
    rid = next(line.split()[-1] for line in hist.splitlines() if line.startswith("RestoreId:"))  # the newest
    mc("admin", "config", "reset", "s3gw", "scanner")
    assert mc("admin", "config", "get", "s3gw", "scanner").stdout.strip() == "scanner cycle=1h pace=10ms deep_every=0"
    mc("admin", "config", "restore", "s3gw", rid)
    assert "cycle=30m" in mc("admin", "config", "get", "s3gw", "scanner").stdout
    mc("admin", "config", "reset", "s3gw", "scanner", "deep_every")
    assert mc("admin", "config", "get", "s3gw", "scanner").stdout.strip() == "scanner cycle=30m pace=10ms deep_every=0"
    for args, words in (
        (("site", "region=eu-west-1"), "is static in s3gw"),
        (("storage_class", "standard=EC:2"), "is static in s3gw"),
        (("api", "nope=1"), "found invalid keys (nope=1) for 'api' sub-system"),
        (("heal", "interval=abc"), "invalid duration"),
        (("api", "requests_max=-1"), "is not a whole number"),
        (("nosuch", "a=b"), "unknown sub-system nosuch"),
    ):
        cp = mc("admin", "config", "set", "s3gw", *args, check=False)
        assert cp.returncode != 0 and words in cp.stderr, (args, cp.stderr)
    assert "site region=us-east-1" in mc("admin", "config", "export", "s3gw").stdout
    mc("admin", "config", "history", "s3gw", "--clear")
    assert "RestoreId" not in mc("admin", "config", "history", "s3gw").stdout
    mc("admin", "config", "reset", "s3gw", "heal")
    mc("admin", "config", "reset", "s3gw", "scanner")


def test_config_applies_to_every_worker(gw: Server, mc: Mc) -> None:
    """Set through whichever process mc reaches, applied by both, within their poll; persisted
    in the metadata store; a reset brings the start-up value back everywhere."""
    evil, app = "https://evil.example", "https://app.example"
    assert preflight(gw, evil) == evil  # the default: any origin
    mc("admin", "config", "set", "s3gw", "api", f"cors_allow_origin={app}")

    def answers() -> list[str | None]:
        return [preflight(gw, evil) for _ in range(20)]  # 20 connections: both processes

    wait_until(lambda: answers() == [None] * 20, "both workers refusing the old origin", interval=0.3)
    assert all(preflight(gw, app) == app for _ in range(10))
    import sqlite3

    db = sqlite3.connect(os.path.join(gw.data, "meta", "s3gw.db"))
    try:
        assert db.execute(
            "SELECT value FROM config_kv WHERE subsys = 'api' AND name = 'cors_allow_origin'"
        ).fetchone() == (app,)
    finally:
        db.close()
    mc("admin", "config", "reset", "s3gw", "api", "cors_allow_origin")
    wait_until(lambda: answers() == [evil] * 20, "both workers back to any origin", interval=0.3)


def test_config_needs_its_admin_action(gw: Server, mc: Mc) -> None:
    OpsClient(gw.url, ACCESS_KEY, SECRET_KEY).add_user("config-rw", "config-secret-1", ["readwrite"])
    mc("alias", "set", "cfgrw", gw.url, "config-rw", "config-secret-1")
    for args in (("get", "cfgrw", "api"), ("set", "cfgrw", "api", "requests_max=1"), ("history", "cfgrw")):
        cp = mc("admin", "config", *args, check=False)
        assert cp.returncode != 0 and "Access Denied" in cp.stderr, args


# --------------------------------------------------------------------------- data usage


def _scrape(gw: Server, mc: Mc, path: str) -> dict[str, float]:
    token = next(
        line.split()[-1]
        for line in mc("admin", "prometheus", "generate", "s3gw", "bucket").stdout.splitlines()
        if "bearer_token:" in line
    )
    req = urllib.request.Request(gw.url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return metric_samples(r.read().decode())


def test_usage_agrees_with_reality(gw: Server, mc: Mc) -> None:
    """mc stat BUCKET, mc admin info, mc du and the minio_bucket_usage_* series all say what the
    bucket holds, after overwrites, delete markers and version deletes, through both workers."""
    c = s3(gw)
    b = f"usage-{uuid.uuid4().hex[:8]}"
    c.create_bucket(Bucket=b)
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    sizes = {"a": [100, 250, 400], "b": [1000], "c": [7, 9], "d/e": [4096]}
    vids = {}
    for key, ss in sizes.items():
        for n in ss:
            vids.setdefault(key, []).append(c.put_object(Bucket=b, Key=key, Body=b"x" * n)["VersionId"])
    c.delete_object(Bucket=b, Key="b")  # a delete marker: b is gone
    c.delete_object(Bucket=b, Key="c", VersionId=vids["c"][1])  # c's latest goes: the older is back
    want = {"objects": 3, "bytes": 400 + 7 + 4096, "versions": 3 + 1 + 1 + 1 + 1, "markers": 1}

    def stat() -> dict:
        return mc.json("stat", f"s3gw/{b}")["Usage"]

    u = wait_until(stat, "mc stat's usage", until=lambda u: u.get("objectsCount") == want["objects"])
    assert (u["size"], u["objectsCount"], u["versionsCount"], u["deleteMarkersCount"]) == (
        want["bytes"],
        want["objects"],
        want["versions"],
        want["markers"],
    )
    du = mc.json("du", f"s3gw/{b}")
    assert (du["size"], du["objects"]) == (want["bytes"], want["objects"])
    info = mc.json("admin", "info", "s3gw")["info"]
    assert info["buckets"]["count"] >= 1 and info["objects"]["count"] >= want["objects"]
    m = _scrape(gw, mc, "/minio/v2/metrics/bucket")
    assert m[f'minio_bucket_usage_total_bytes{{bucket="{b}"}}'] == want["bytes"]
    assert m[f'minio_bucket_usage_object_total{{bucket="{b}"}}'] == want["objects"]
    assert m[f'minio_bucket_usage_version_total{{bucket="{b}"}}'] == want["versions"]
    assert m[f'minio_bucket_usage_deletemarker_total{{bucket="{b}"}}'] == want["markers"]
    # emptied: everything at zero (a version delete of each, the marker too)
    for v in c.list_object_versions(Bucket=b).get("Versions", []) + c.list_object_versions(Bucket=b).get(
        "DeleteMarkers", []
    ):
        c.delete_object(Bucket=b, Key=v["Key"], VersionId=v["VersionId"])
    wait_until(stat, "usage back to zero", until=lambda u: (u.get("versionsCount", 0), u.get("size", 0)) == (0, 0))


# --------------------------------------------------------------------------- what s3gw does not do


UNSUPPORTED = [
    ("admin", "service", "stop", "s3gw"),
    ("admin", "service", "freeze", "s3gw"),
    ("admin", "service", "unfreeze", "s3gw"),
    ("admin", "update", "s3gw"),
    ("admin", "replicate", "info", "s3gw"),
    ("admin", "replicate", "status", "s3gw"),
    ("admin", "replicate", "add", "s3gw", "s3gw"),
    ("admin", "replicate", "rm", "s3gw", "--all", "--force"),
    ("admin", "decommission", "status", "s3gw"),
    ("admin", "rebalance", "status", "s3gw"),
    ("admin", "rebalance", "start", "s3gw"),
    ("admin", "tier", "ls", "s3gw"),
    ("admin", "logs", "s3gw"),
]


def test_what_s3gw_does_not_do_answers_minios_error(gw: Server, mc: Mc) -> None:
    """mc admin calls s3gw does not implement answer MinIO's error for an admin API a server does not
    have (426 XMinioAdminVersionMismatch, "not supported by server"); KMS calls, MinIO's answer when
    no KMS is configured (501 NotImplemented). docs/operations.md lists every mc admin command."""
    for args in UNSUPPORTED:
        cp = mc(*args, check=False, timeout=60)
        assert cp.returncode != 0 and "This 'admin' API is not supported by server in 'mode-server-xl'" in cp.stderr, (
            args,
            cp.stderr,
        )
    for args in (
        ("admin", "kms", "key", "create", "s3gw", "k1"),
        ("admin", "kms", "key", "status", "s3gw"),
        ("admin", "kms", "key", "list", "s3gw"),
    ):
        cp = mc(*args, check=False)
        assert cp.returncode != 0 and "KMS is not configured" in cp.stderr, (args, cp.stderr)
    # (madmin reads these two answers after closing them: mc cannot show the words)
    for path in ("/minio/admin/v3/export-iam", "/minio/admin/v3/export-bucket-metadata"):
        headers = sign(gw, "GET", path)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(gw.url + path, headers=headers), timeout=30)
        assert e.value.code == 426 and json.loads(e.value.read())["Code"] == "XMinioAdminVersionMismatch"
    # unsigned, a KMS call is refused like any admin call, before anything is looked up
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(gw.url + "/minio/kms/v1/key/list", timeout=30)
    assert e.value.code == 403 and json.loads(e.value.read())["Code"] == "AccessDenied"
