"""The KMS's admin surfaces on a real gateway started with a built-in master key
(``S3GW_KMS_SECRET_KEY``) and a key file: ``mc admin kms key status|list`` (MinIO's KMS API,
its IAM actions), ``s3gw admin kms status|rotate``, versions that survive a restart, and
the rotation period making new versions by itself."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server
from tests.functional.conftest import s3_client
from tests.functional.drivers import Mc, admin
from tests.functional.rawhttp import signed_request
from tests.waiting import wait_until

MASTER = "my-key:" + base64.b64encode(bytes(range(32))).decode()
SECOND = "second-key:" + base64.b64encode(bytes(range(1, 33))).decode()


def kms_env(data: str) -> dict[str, str]:
    key_file = os.path.join(data, "kms.keys")
    with open(key_file, "w") as f:
        f.write(f"# more master keys\n{SECOND}\n")
    return {"S3GW_KMS_SECRET_KEY": MASTER, "S3GW_SECURITY_ENCRYPTION_KEY_FILE": key_file}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("kms"))


@pytest.fixture(scope="module")
def gw(data: str) -> Iterator[Server]:
    srv = start_server(data, env=kms_env(data))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def mc(mc_bin: str, gw: Server, tmp_path_factory: pytest.TempPathFactory) -> Mc:
    return Mc(mc_bin, str(tmp_path_factory.mktemp("mc")), gw)


def s3gw_admin(gw: Server, *args: str) -> subprocess.CompletedProcess:
    return admin(gw, "kms", *args, check=False)


def status(gw: Server, key: str = "") -> dict:
    cp = s3gw_admin(gw, "status", *([key] if key else []), "--json")
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


def kms_metrics(gw: Server) -> dict[str, float]:
    """The ``s3gw_kms_*`` samples of the gateway's /metrics (started with ``--metrics-auth public``)."""
    with urllib.request.urlopen(gw.url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    return {m[1]: float(m[2]) for m in re.finditer(r"^(s3gw_kms_\S+) (\S+)$", text, re.M)}


def test_mc_admin_kms_key_status(mc: Mc) -> None:
    """MinIO's KMSKeyStatusHandler: a data key made and opened with the key; the default key when none is named."""
    assert mc.json("admin", "kms", "key", "status", "s3gw") == {"keyId": "my-key", "status": "success"}
    assert mc.json("admin", "kms", "key", "status", "s3gw", "second-key")["keyId"] == "second-key"
    text = mc("admin", "kms", "key", "status", "s3gw").stdout
    assert "Key: my-key" in text and "Encryption ✔" in text and "Decryption ✔" in text
    # an unknown key: MinIO reports the failed step in the answer
    bad = mc.json("admin", "kms", "key", "status", "s3gw", "no-such-key")
    assert bad["keyId"] == "no-such-key" and "does not exist" in bad["encryptionError"]


def test_mc_admin_kms_key_list(mc: Mc) -> None:
    cp = mc("admin", "kms", "key", "list", "s3gw")
    assert "my-key" in cp.stdout and "second-key" in cp.stdout


def test_minios_older_admin_kms_paths(gw: Server) -> None:
    """madmin's /minio/admin/v3/kms/... (admin:KMSKeyStatus): the same answers as the KMS API's."""
    r = signed_request(gw, "GET", "/minio/admin/v3/kms/key/status?key-id=second-key")
    assert r.status == 200 and json.loads(r.body) == {
        "key-id": "second-key",
        "encryption-error": "",
        "decryption-error": "",
    }
    r = signed_request(gw, "POST", "/minio/admin/v3/kms/status")
    assert r.status == 200 and json.loads(r.body)["default-key-id"] == "my-key"
    r = signed_request(gw, "POST", "/minio/admin/v3/kms/key/create?key-id=new")
    assert r.status == 501 and json.loads(r.body)["Code"] == "NotImplemented"
    r = signed_request(gw, "GET", "/minio/kms/v1/version")  # a KMS API s3gw does not serve
    assert r.status == 501 and json.loads(r.body)["Code"] == "kms:NotSupported"


def test_a_user_needs_the_kms_actions(mc: Mc) -> None:
    """MinIO checks kms:KeyStatus (admin:KMSKeyStatus on its older path): readwrite does not allow it."""
    mc("admin", "user", "add", "s3gw", "kms-reader", "kms-reader-secret-0123")
    mc("admin", "policy", "attach", "s3gw", "readwrite", "--user", "kms-reader")
    mc("alias", "set", "reader", mc.gw.url, "kms-reader", "kms-reader-secret-0123")
    cp = mc("admin", "kms", "key", "status", "reader", check=False)
    assert cp.returncode != 0 and "Access Denied" in cp.stderr, cp.stderr
    policy = os.path.join(mc.config_dir, "kms-status.json")
    with open(policy, "w") as f:
        json.dump({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["kms:KeyStatus"]}]}, f)
    mc("admin", "policy", "create", "s3gw", "kms-status", policy)
    mc("admin", "policy", "attach", "s3gw", "kms-status", "--user", "kms-reader")
    assert mc.json("admin", "kms", "key", "status", "reader")["status"] == "success"


def test_s3gw_admin_kms_status_rotate_and_restart(gw: Server, data: str) -> None:
    st = status(gw)
    assert (st["key_id"], st["backend"], st["default"], st["current"]) == ("my-key", "builtin", True, "1")
    assert [v["version"] for v in st["versions"]] == ["1"] and st["versions"][0]["created"] > 0
    assert st["rotation_period"] == 90 * 86400 and st["next_rotation"] == st["versions"][0]["created"] + 90 * 86400
    cp = s3gw_admin(gw, "status")  # the text form
    assert cp.returncode == 0 and "key my-key (builtin, default)" in cp.stdout and "every 90 days" in cp.stdout
    cp = s3gw_admin(gw, "rotate", "--json")
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout)["current"] == "2"
    assert status(gw, "second-key")["current"] == "1"  # only the key named rotates
    missing = s3gw_admin(gw, "status", "no-such-key")
    assert missing.returncode == 1 and "kms:KeyNotFound" in missing.stderr
    gw.stop()  # a restart keeps the versions (they live in the metadata store)
    again = start_server(data, env=kms_env(data), port=gw.port)
    try:
        st = status(again)
        assert [v["version"] for v in st["versions"]] == ["1", "2"] and st["current"] == "2"
        mc_ok = s3gw_admin(again, "status", "second-key")
        assert mc_ok.returncode == 0
    finally:
        again.stop()


def test_another_master_key_under_the_same_name_does_not_start(tmp_path) -> None:
    """The versions in the store were made with MASTER: a gateway given another secret named my-key stops."""
    data = str(tmp_path)
    start_server(data, env={"S3GW_KMS_SECRET_KEY": MASTER}).stop()
    other = "my-key:" + base64.b64encode(bytes(32)).decode()
    with pytest.raises(RuntimeError):
        start_server(data, env={"S3GW_KMS_SECRET_KEY": other}).stop()
    log = "".join(open(os.path.join(data, n), errors="replace").read() for n in os.listdir(data) if n.endswith(".log"))
    assert "is not the one version 1 was made with" in log


def test_the_rotation_period_makes_versions(tmp_path) -> None:
    srv = start_server(
        str(tmp_path), env={"S3GW_KMS_SECRET_KEY": MASTER, "S3GW_SECURITY_ENCRYPTION_KEY_ROTATION_PERIOD": "2s"}
    )
    try:
        wait_until(lambda: len(status(srv)["versions"]) >= 3, "two rotations by the rotation worker")
        st = status(srv)
        made = [v["created"] for v in st["versions"]]
        assert made == sorted(made) and st["current"] == st["versions"][-1]["version"]
    finally:
        srv.stop()


def test_rotation_then_rewrap_keeps_every_object_readable(tmp_path) -> None:
    """Objects sealed under version 1 (single-part and multipart, SSE-S3 and SSE-KMS); a rotation;
    a write under version 2; ``rewrap`` moves the old ones to version 2 (status counts follow),
    a second ``rewrap`` has nothing left to do, and every object reads back its exact bytes.
    /metrics follows: KMS calls by operation and outcome, their latency, the rewraps' results."""
    data = str(tmp_path)
    gw = start_server(data, "--metrics-auth", "public", env={"S3GW_KMS_SECRET_KEY": MASTER})
    gen_ok = 's3gw_kms_requests_total{operation="generate",outcome="ok"}'
    open_ok = 's3gw_kms_requests_total{operation="open",outcome="ok"}'
    rewrap_ok = 's3gw_kms_requests_total{operation="rewrap",outcome="ok"}'
    resealed = 's3gw_kms_rewrap_objects_total{result="resealed"}'
    skipped = 's3gw_kms_rewrap_objects_total{result="skipped"}'
    try:
        s3 = s3_client(gw)
        m0 = kms_metrics(gw)
        assert m0[gen_ok] == m0[open_ok] == m0[resealed] == 0
        assert m0['s3gw_kms_requests_total{operation="open",outcome="unavailable"}'] == 0
        s3.create_bucket(Bucket="rot")
        bodies = {"a": os.urandom(1000), "b": os.urandom(300_000), "mp": os.urandom(6 * 1024 * 1024)}
        s3.put_object(Bucket="rot", Key="a", Body=bodies["a"], ServerSideEncryption="AES256")
        s3.put_object(Bucket="rot", Key="b", Body=bodies["b"], ServerSideEncryption="aws:kms")
        up = s3.create_multipart_upload(Bucket="rot", Key="mp", ServerSideEncryption="AES256")["UploadId"]
        half = 5 * 1024 * 1024
        parts = [
            {
                "PartNumber": n,
                "ETag": s3.upload_part(Bucket="rot", Key="mp", UploadId=up, PartNumber=n, Body=chunk)["ETag"],
            }
            for n, chunk in ((1, bodies["mp"][:half]), (2, bodies["mp"][half:]))
        ]
        s3.complete_multipart_upload(Bucket="rot", Key="mp", UploadId=up, MultipartUpload={"Parts": parts})
        s3.put_object(Bucket="rot", Key="plain", Body=b"not encrypted")
        m1 = kms_metrics(gw)
        assert m1[gen_ok] >= 3  # a, b and the upload's data key
        assert m1['s3gw_kms_request_seconds_count{operation="generate"}'] == m1[gen_ok]
        assert s3.get_object(Bucket="rot", Key="a")["Body"].read() == bodies["a"]
        assert kms_metrics(gw)[open_ok] == m1[open_ok] + 1  # the GET opened a's data key
        assert {v["version"]: v["objects"] for v in status(gw)["versions"]} == {"1": 3}
        assert s3gw_admin(gw, "rotate").returncode == 0
        bodies["c"] = os.urandom(2000)
        s3.put_object(Bucket="rot", Key="c", Body=bodies["c"], ServerSideEncryption="AES256")
        assert {v["version"]: v["objects"] for v in status(gw)["versions"]} == {"1": 3, "2": 1}
        cp = s3gw_admin(gw, "rewrap", "--json")
        assert cp.returncode == 0, cp.stderr
        doc = json.loads(cp.stdout)
        assert (doc["encrypted"], doc["rewrapped"], doc["current"], doc["failed"]) == (4, 3, 1, 0)
        m2 = kms_metrics(gw)  # the rewrap ran in the gateway: its /metrics shows it
        assert (m2[resealed], m2[skipped], m2['s3gw_kms_rewrap_objects_total{result="failed"}']) == (3, 1, 0)
        assert m2[rewrap_ok] == m2['s3gw_kms_request_seconds_count{operation="rewrap"}'] == 3
        assert {v["version"]: v["objects"] for v in status(gw)["versions"]} == {"1": 0, "2": 4}
        again = json.loads(s3gw_admin(gw, "rewrap", "--json").stdout)
        assert (again["rewrapped"], again["current"]) == (0, 4)
        m3 = kms_metrics(gw)
        assert (m3[resealed], m3[skipped], m3[rewrap_ok]) == (3, 5, 3)
        for key, body in bodies.items():
            assert s3.get_object(Bucket="rot", Key=key)["Body"].read() == body, key
        assert (
            s3.get_object(Bucket="rot", Key="mp", Range="bytes=5242000-5243000")["Body"].read()
            == (bodies["mp"][5242000:5243001])
        )
    finally:
        gw.stop()
