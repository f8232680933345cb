"""Lesser holes of the security issue (hole 8), against real servers: presigned
V2 URLs live at most a week, metrics tokens must expire, and the data
directory is private to the server's user."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import time
from urllib.parse import quote

from tests.conftest import Server, start_server
from tests.functional.rawhttp import send

DAY = 86400


def host(server: Server) -> dict[str, str]:
    return {"Host": f"127.0.0.1:{server.port}"}


def v2_presigned(server: Server, path: str, expires: int) -> str:
    sts = f"GET\n\n\n{expires}\n{path}"
    sig = base64.b64encode(hmac.new(server.secret_key.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    return f"{path}?AWSAccessKeyId={quote(server.access_key)}&Expires={expires}&Signature={quote(sig)}"


def test_sigv2_presigned_urls_live_at_most_a_week(server, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"shared")
    r = send(server, "GET", v2_presigned(server, f"/{bucket}/k", int(time.time()) + 6 * DAY), host(server))
    assert (r.status, r.body) == (200, b"shared")
    for expires in (int(time.time()) + 8 * DAY, 32503680000):  # next week and the year 3000
        r = send(server, "GET", v2_presigned(server, f"/{bucket}/k", expires), host(server))
        assert r.status == 400 and b"<Code>AuthorizationQueryParametersError</Code>" in r.body, r.body


def jwt(secret: str, claims: dict) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS512", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(hmac.new(secret.encode(), f'{head}.{body}'.encode(), hashlib.sha512).digest())}"


def test_metrics_tokens_must_expire(server) -> None:
    def scrape(claims: dict) -> int:
        token = jwt(server.secret_key, {"sub": server.access_key, "iss": "prometheus", **claims})
        return send(
            server, "GET", "/minio/v2/metrics/cluster", {**host(server), "Authorization": f"Bearer {token}"}
        ).status

    now = int(time.time())
    assert scrape({}) == 403  # no exp: it would never expire
    assert scrape({"exp": now + 3600}) == 200
    assert scrape({"exp": now + 100 * 365 * DAY}) == 200  # what `mc admin prometheus generate` makes
    assert scrape({"exp": now + 200 * 365 * DAY}) == 403  # past the lifetime bound
    assert scrape({"exp": now - 60}) == 403


def test_metrics_token_lifetime_is_configurable(tmp_path) -> None:
    srv = start_server(str(tmp_path), "--metrics-token-max-lifetime", "1d")
    try:

        def scrape(exp: int) -> int:
            token = jwt(srv.secret_key, {"sub": srv.access_key, "exp": exp})
            return send(
                srv, "GET", "/minio/v2/metrics/cluster", {**host(srv), "Authorization": f"Bearer {token}"}
            ).status

        assert scrape(int(time.time()) + 3600) == 200
        assert scrape(int(time.time()) + 2 * DAY) == 403
    finally:
        srv.stop()


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def private(data: str) -> dict[str, int]:
    """Paths under the data directory that others could read or enter."""
    meta = os.path.join(data, "meta")
    paths = [meta, *(os.path.join(meta, f) for f in os.listdir(meta) if f.startswith("s3gw.db"))]
    paths += [os.path.join(data, d) for d in os.listdir(data) if d.startswith("drive")]
    return {p: mode(p) for p in paths if mode(p) & 0o077}


def test_the_data_directory_is_private(tmp_path) -> None:
    data = str(tmp_path / "data")
    srv = start_server(_mkdir(data))
    try:
        assert private(data) == {}
        assert mode(os.path.join(data, "meta", "s3gw.db")) == 0o600
        assert mode(os.path.join(data, "meta")) == 0o700 and mode(os.path.join(data, "drive1")) == 0o700
    finally:
        srv.stop()
    # a data directory made by an older version (world-readable) is tightened on start
    for p in [os.path.join(data, "meta"), *(os.path.join(data, d) for d in os.listdir(data) if d.startswith("drive"))]:
        os.chmod(p, 0o755)
    for f in os.listdir(os.path.join(data, "meta")):
        if f.startswith("s3gw.db"):
            os.chmod(os.path.join(data, "meta", f), 0o644)
    assert private(data)
    srv = start_server(data)
    try:
        assert private(data) == {}
    finally:
        srv.stop()


def _mkdir(path: str) -> str:
    os.makedirs(path)
    return path
