"""The gateway's HTTPS, with real processes and certificates from throwaway CAs:

- a certificate replaced on disk (a Kubernetes Secret volume's link swap, as
  cert-manager renews it; or the files rewritten in place) is what the next new
  connection sees, without a restart; SIGHUP reloads at once;
- a new pair that does not load leaves the old certificate in service, and says so in the log;
- ``security.encryption.encryption_in_transit: true`` serves HTTPS only, and refuses to
  start while any hop is plain text, naming every one.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config

from tests.conftest import ACCESS_KEY, SECRET_KEY, Server, free_port, start_server
from tests.tlscerts import SecretVolume, issue, presented
from tests.waiting import wait_until


def https_client(port: int, ca_file: str):
    return boto3.client(
        "s3",
        endpoint_url=f"https://127.0.0.1:{port}",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        verify=ca_file,
        config=Config(retries={"max_attempts": 1}),
    )


def log_of(srv: Server) -> str:
    with open(os.path.join(srv.data, f"server-{srv.port}.log"), errors="replace") as f:
        return f.read()


def tls_env(cert: str, key: str, port: int, interval: str) -> dict[str, str]:
    return {
        "S3GW_SECURITY_TLS_CERT_FILE": cert,
        "S3GW_SECURITY_TLS_KEY_FILE": key,
        "S3GW_SERVER_TLS_PORT": str(port),
        "S3GW_SECURITY_TLS_RELOAD_INTERVAL": interval,
    }


def test_renewed_certificate_serves_new_connections_without_restart(tmp_path) -> None:
    first, second = issue(), issue()  # two CAs: a client trusting only the new one can tell
    vol = SecretVolume(str(tmp_path / "tls"), first)
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    srv = start_server(str(data), env=tls_env(vol.cert, vol.key, port, "0.2s"))
    try:
        wait_until(lambda: presented(port), "the HTTPS port to answer", ignore=(OSError,))
        assert presented(port) == first.fingerprint
        s3 = https_client(port, str(tmp_path / "tls" / "..gen1" / "ca.crt"))
        s3.create_bucket(Bucket="tls")
        s3.put_object(Bucket="tls", Key="k", Body=b"before")

        vol.update(second)  # cert-manager's renewal: the ..data link swapped
        wait_until(lambda: presented(port), "the renewed certificate", until=lambda fp: fp == second.fingerprint)
        s3 = https_client(port, str(tmp_path / "tls" / "..gen2" / "ca.crt"))
        assert s3.get_object(Bucket="tls", Key="k")["Body"].read() == b"before"

        # a broken renewal (a key that is not the certificate's): the old certificate stays
        third = issue()
        with open(os.path.join(tmp_path, "tls", "..gen2", "tls.crt"), "wb") as f:
            f.write(third.cert_pem)  # in place, through the link: the key file still holds the old key
        wait_until(lambda: log_of(srv), "the refused reload in the log", until=lambda text: "do not load" in text)
        assert presented(port) == second.fingerprint
        assert s3.get_object(Bucket="tls", Key="k")["Body"].read() == b"before"
        with open(os.path.join(tmp_path, "tls", "..gen2", "tls.key"), "wb") as f:
            f.write(third.key_pem)  # the pair complete again: it loads
        wait_until(lambda: presented(port), "the repaired certificate", until=lambda fp: fp == third.fingerprint)
        assert srv.proc.poll() is None
    finally:
        srv.stop()


def test_sighup_reloads_the_certificate(tmp_path) -> None:
    first, second = issue(), issue()
    paths = first.write(str(tmp_path / "tls"))
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    srv = start_server(str(data), env=tls_env(paths["cert"], paths["key"], port, "0"))  # 0: only on SIGHUP
    try:
        wait_until(lambda: presented(port), "the HTTPS port to answer", ignore=(OSError,))
        second.write(str(tmp_path / "tls"))  # replaced in place
        assert presented(port) == first.fingerprint  # not watched: nothing changes by itself
        os.kill(srv.proc.pid, signal.SIGHUP)
        wait_until(
            lambda: presented(port), "the certificate reloaded on SIGHUP", until=lambda fp: fp == second.fingerprint
        )
        assert srv.proc.poll() is None and "certificate reloaded" in log_of(srv)
        # plain HTTP still answers beside HTTPS without encryption_in_transit
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/minio/health/live", timeout=10) as r:
            assert r.status == 200
    finally:
        srv.stop()


def test_encryption_in_transit_serves_https_only(tmp_path) -> None:
    pair = issue()
    paths = pair.write(str(tmp_path / "tls"))
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    env = {
        **tls_env(paths["cert"], paths["key"], port, "10s"),
        "S3GW_SECURITY_ENCRYPTION_ENCRYPTION_IN_TRANSIT": "true",
    }
    # the embedded default (local drives, SQLite): the clients' hop is the only one, and it has a certificate.
    # The plain port is not opened: start_server waits on the port it is given, so give it the HTTPS one.
    plain = free_port()
    srv = start_server(str(data), "--address", f"127.0.0.1:{plain}", env=env, port=port)
    try:
        s3 = https_client(port, paths["ca"])
        s3.create_bucket(Bucket="secure")
        s3.put_object(Bucket="secure", Key="k", Body=b"x")
        assert s3.get_object(Bucket="secure", Key="k")["Body"].read() == b"x"
        with pytest.raises(OSError):  # nothing listens in plain text
            urllib.request.urlopen(f"http://127.0.0.1:{plain}/minio/health/live", timeout=10)
        assert f"https://127.0.0.1:{port}" in log_of(srv)
    finally:
        srv.stop()


def test_encryption_in_transit_refuses_every_plain_hop_by_name(tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("cluster-secret-for-tests-0123456789abcdef\n")
    env = {
        **os.environ,
        "S3GW_ROOT_USER": ACCESS_KEY,
        "S3GW_ROOT_PASSWORD": SECRET_KEY,
        "S3GW_SECURITY_ENCRYPTION_ENCRYPTION_IN_TRANSIT": "true",
        "S3GW_DATABASE_HOST": "127.0.0.1",
        "S3GW_DATABASE_SSLMODE": "prefer",
        "S3GW_DB_PASSWORD": "unused",
        "S3GW_CACHE_REDIS_ENDPOINTS": "127.0.0.1:6379",
    }
    nodes = "https://127.0.0.1:9091,http://127.0.0.1:9092"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "s3gw.cli",
            "serve",
            "--data",
            str(tmp_path / "d"),
            "--address",
            f"127.0.0.1:{free_port()}",
        ]
        + ["--nodes", nodes, "--secret-file", str(secret)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    err = r.stderr
    assert "encryption_in_transit: refusing to start with plain-text hops" in err
    assert "no HTTPS certificate" in err
    assert "http://127.0.0.1:9092" in err and "https://127.0.0.1:9091" not in err
    assert "database.sslmode is prefer" in err and "cache.redis.tls is false" in err
    assert not (tmp_path / "d").exists()  # refused before touching anything


def test_a_certificate_that_does_not_load_stops_the_start(tmp_path) -> None:
    paths = issue().write(str(tmp_path / "tls"))
    with open(paths["key"], "wb") as f:
        f.write(issue().key_pem)  # another certificate's key
    r = subprocess.run(
        [sys.executable, "-m", "s3gw.cli", "serve", "--data", str(tmp_path), "--address", f"127.0.0.1:{free_port()}"],
        env={**os.environ, **tls_env(paths["cert"], paths["key"], free_port(), "10s")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "security.tls:" in r.stderr and "do not load" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_https_verifies_against_the_ca(tmp_path) -> None:
    """A client trusting another CA is refused the handshake (what the reload tests rely on)."""
    pair = issue()
    paths = pair.write(str(tmp_path / "tls"))
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    srv = start_server(str(data), env=tls_env(paths["cert"], paths["key"], port, "10s"))
    try:
        wait_until(lambda: presented(port), "the HTTPS port to answer", ignore=(OSError,))
        other = issue().write(str(tmp_path / "other"))
        ctx = ssl.create_default_context(cafile=other["ca"])
        with pytest.raises(urllib.error.URLError) as refused:
            urllib.request.urlopen(f"https://127.0.0.1:{port}/minio/health/live", timeout=10, context=ctx)
        assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
        ok = ssl.create_default_context(cafile=paths["ca"])
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/minio/health/live", timeout=10, context=ok) as r:
            assert r.status == 200
    finally:
        srv.stop()


def test_sighup_reaches_every_worker_process(tmp_path) -> None:
    """--workers 2: the supervisor passes SIGHUP on; whichever worker takes a connection shows the new one."""
    first, second = issue(), issue()
    paths = first.write(str(tmp_path / "tls"))
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    srv = start_server(str(data), "--workers", "2", env=tls_env(paths["cert"], paths["key"], port, "0"))
    try:
        wait_until(lambda: presented(port), "the HTTPS port to answer", ignore=(OSError,))
        second.write(str(tmp_path / "tls"))
        os.kill(srv.proc.pid, signal.SIGHUP)
        # the kernel spreads connections over the workers: twenty in a row, all with the new certificate
        wait_until(
            lambda: {presented(port) for _ in range(20)},
            "every worker to serve the new certificate",
            until=lambda seen: seen == {second.fingerprint},
        )
        assert srv.proc.poll() is None
    finally:
        srv.stop()
