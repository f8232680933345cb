"""The serve command itself: safety on non-loopback addresses, the banner, virtual-hosted style."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

from s3gw.common.version import VERSION
from tests.conftest import free_port, start_server
from tests.functional.rawhttp import send
from tests.sigv4_client import amz_now, sign


def test_refuses_public_address_with_default_credentials(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_ROOT_USER", "_ROOT_PASSWORD"))}
    r = subprocess.run(
        [sys.executable, "-m", "s3gw.cli", "serve", "--data", str(tmp_path), "--address", f"0.0.0.0:{free_port()}"],
        env=env,
        capture_output=True,
        timeout=30,
    )
    assert r.returncode == 2
    assert b"default credentials" in r.stderr
    assert not (tmp_path / "drive1").exists()  # it stopped before touching the data directory


def test_banner_and_virtual_hosted_style(tmp_path) -> None:
    srv = start_server(str(tmp_path), "--domain", "s3.test")
    try:
        log = open(os.path.join(srv.data, f"server-{srv.port}.log")).read()
        assert f"http://127.0.0.1:{srv.port}" in log and "aws" in log and "mc alias set" in log
        assert f"s3gw {VERSION}: S3 API on" in log and VERSION == importlib.metadata.version("s3gw")
        host = f"vhost.s3.test:{srv.port}"
        for method, path, body in (("PUT", "/", b""), ("PUT", "/obj", b"hello"), ("GET", "/obj", b"")):
            hdrs, *_ = sign(
                method, path, [], {"host": host}, "UNSIGNED-PAYLOAD", srv.access_key, srv.secret_key, amz_now()
            )
            hdrs["content-length"] = str(len(body))
            r = send(srv, method, path, hdrs, body)
            assert r.status == 200, (method, path, r.body)
        assert r.body == b"hello"
        # the same object, path style
        hdrs, *_ = sign(
            "GET",
            "/vhost/obj",
            [],
            {"host": f"127.0.0.1:{srv.port}"},
            "UNSIGNED-PAYLOAD",
            srv.access_key,
            srv.secret_key,
            amz_now(),
        )
        assert send(srv, "GET", "/vhost/obj", hdrs).body == b"hello"
    finally:
        srv.stop()
