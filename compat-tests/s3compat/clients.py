"""The real clients a case drives, built for one target.

- ``boto3``     boto3 with its current defaults (flexible checksums: CRC32 on
                every upload, sent as an aws-chunked trailer; response checksum
                validation when supported)
- ``boto3-wr``  boto3 with request_checksum_calculation="when_required" (plain
                payloads, checksums only where an operation requires one)
- ``minio-py``  the MinIO Python SDK
- ``aws-cli``   awscli v1 (`python -m awscli`), `aws s3` and `aws s3api`
- ``mc``        the pinned MinIO client, `--json` output
- ``http``      raw HTTP with a hand-made SigV4 signature, for the auth corner
                cases (skewed clocks, bad signatures, expired presigned URLs)
                that no SDK will produce on purpose
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .targets import Target, go_tool

CLIENTS = ("boto3", "boto3-wr", "minio-py", "aws-cli", "mc", "http")

TIMEOUT = 60  # seconds for one request or one CLI command


# ---------------------------------------------------------------- boto3


def boto3_client(t: Target, variant: str = "boto3", **config: Any):
    key = ("boto3", variant, tuple(sorted(config.items())))
    if key not in t.cache:
        import boto3
        from botocore.config import Config

        extra: dict[str, Any] = {}
        if variant == "boto3-wr":
            extra = {"request_checksum_calculation": "when_required", "response_checksum_validation": "when_required"}
        cfg = Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=TIMEOUT,
            s3={"addressing_style": "path"},
            **extra,
            **config,
        )
        t.cache[key] = boto3.client(
            "s3",
            endpoint_url=t.url,
            aws_access_key_id=t.access_key,
            aws_secret_access_key=t.secret_key,
            region_name=t.region,
            verify=t.ca_file or None,
            config=cfg,
        )
    return t.cache[key]


def boto3_with_keys(
    t: Target, access_key: str, secret_key: str, variant: str = "boto3-wr", session_token: str | None = None
):
    import boto3
    from botocore.config import Config

    extra: dict[str, Any] = {}
    if variant == "boto3-wr":
        extra = {"request_checksum_calculation": "when_required", "response_checksum_validation": "when_required"}
    return boto3.client(
        "s3",
        endpoint_url=t.url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        region_name=t.region,
        verify=t.ca_file or None,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, **extra),
    )


def sts_with_keys(t: Target, access_key: str, secret_key: str):
    """An STS client (AssumeRole on the target's S3 port, as MinIO serves it)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sts",
        endpoint_url=t.url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=t.region,
        verify=t.ca_file or None,
        config=Config(retries={"max_attempts": 1}),
    )


# ---------------------------------------------------------------- minio-py


def minio_client(t: Target):
    if "minio-py" not in t.cache:
        import urllib3
        from minio import Minio

        tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED", "ca_certs": t.ca_file} if t.ca_file else {}
        http_client = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=TIMEOUT), retries=urllib3.Retry(total=0), **tls
        )
        t.cache["minio-py"] = Minio(
            t.hostport,
            access_key=t.access_key,
            secret_key=t.secret_key,
            secure=t.secure,
            region=t.region,
            http_client=http_client,
        )
    return t.cache["minio-py"]


# ---------------------------------------------------------------- aws CLI


@dataclass
class CliResult:
    rc: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.out) if self.out.strip() else None
        except ValueError:
            return None

    @property
    def code(self) -> str | None:
        """The S3 error code an aws CLI error names, e.g. NoSuchKey or 404."""
        m = re.search(r"An error occurred \(([^)]+)\)", self.err)
        return m.group(1) if m else None


def aws(t: Target, *args: str, cwd: Path | None = None, input: bytes | None = None) -> CliResult:
    home = t.cache.get("aws-home")
    if home is None:
        home = Path(t.workdir or "/tmp") / f"aws-{t.name}-{os.getpid()}"
        home.mkdir(parents=True, exist_ok=True)
        (home / "config").write_text(f"[default]\nregion = {t.region}\n")
        t.cache["aws-home"] = home
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=t.access_key,
        AWS_SECRET_ACCESS_KEY=t.secret_key,
        AWS_DEFAULT_REGION=t.region,
        AWS_CONFIG_FILE=str(home / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
        AWS_MAX_ATTEMPTS="1",
        AWS_RETRY_MODE="standard",
        AWS_PAGER="",
    )
    if t.ca_file:
        env["AWS_CA_BUNDLE"] = t.ca_file  # as --ca-bundle
    r = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", t.url, *args],
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=TIMEOUT * 3,
        input=input,
    )
    return CliResult(r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"))


# ---------------------------------------------------------------- mc


@dataclass
class McResult:
    rc: int
    lines: list[dict]
    raw: str
    err: str

    @property
    def errors(self) -> list[str]:
        """S3 error codes (or messages) of the error lines, in order."""
        out = []
        for ln in self.lines:
            if ln.get("status") == "error":
                e = ln.get("error", {})
                cause = (e.get("cause") or {}).get("error") or {}
                out.append(cause.get("Code") or e.get("message", "error"))
        return out


def mc_available() -> bool:
    return go_tool("mc") is not None


def mc(t: Target, *args: str, cwd: Path | None = None) -> McResult:
    binary = go_tool("mc")
    assert binary, "mc not available"
    cfg = t.cache.get("mc-config")
    env = {**os.environ, "MC_UPDATE": "off", "MC_NO_COLOR": "1"}
    for k in list(env):
        if k.startswith("MC_HOST_"):
            env.pop(k)
    if cfg is None:
        cfg = Path(t.workdir or "/tmp") / f"mc-{t.name}-{os.getpid()}"
        cfg.mkdir(parents=True, exist_ok=True)
        if t.ca_file:
            # mc trusts the CAs in its config dir's certs/CAs/ (no --insecure)
            (cfg / "certs" / "CAs").mkdir(parents=True, exist_ok=True)
            shutil.copy(t.ca_file, cfg / "certs" / "CAs" / "ca.crt")
        r = subprocess.run(
            [
                binary,
                "--config-dir",
                str(cfg),
                "alias",
                "set",
                "t",
                t.url,
                t.access_key,
                t.secret_key,
                "--api",
                "S3v4",
                "--path",
                "on",
            ],
            capture_output=True,
            env=env,
            timeout=TIMEOUT,
        )
        assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
        t.cache["mc-config"] = cfg
    r = subprocess.run(
        [binary, "--config-dir", str(cfg), "--json", "--no-color", "--disable-pager", *args],
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=TIMEOUT * 3,
    )
    out = r.stdout.decode("utf-8", "replace")
    lines = []
    for ln in out.splitlines():
        ln = ln.strip()
        if ln.startswith("{"):
            try:
                lines.append(json.loads(ln))
            except ValueError:
                pass
    return McResult(r.returncode, lines, out, r.stderr.decode("utf-8", "replace"))


# ---------------------------------------------------------------- raw HTTP + SigV4

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def uri_encode(s: str, safe: str = "-_.~") -> str:
    return quote(s, safe=safe)


def canonical_query(params: list[tuple[str, str]]) -> str:
    enc = sorted((uri_encode(k), uri_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in enc)


def _signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def _sign(secret: str, when: dt.datetime, region: str, canonical: str) -> str:
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{when:%Y%m%d}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    return hmac.new(_signing_key(secret, f"{when:%Y%m%d}", region), sts.encode(), hashlib.sha256).hexdigest()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str | None:
        m = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return m.group(1).decode() if m else None


@dataclass
class Raw:
    """Raw S3 requests against one target, signed (or mis-signed) on purpose."""

    t: Target
    extra: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        sign: bool = True,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        when: dt.datetime | None = None,
        payload_hash: str | None = None,
        tamper_signature: bool = False,
        signed_host: str | None = None,
    ) -> RawResponse:
        """``path`` is the unencoded path ("/bucket/key"); it is URI-encoded here."""
        query = list(query or [])
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        epath = uri_encode(path, safe="/-_.~")
        if sign:
            when = when or dt.datetime.now(dt.UTC)
            region = region or self.t.region
            ak, sk = access_key or self.t.access_key, secret_key or self.t.secret_key
            ph = payload_hash or hashlib.sha256(body).hexdigest()
            if hdrs.get("x-amz-date") == "":
                del hdrs["x-amz-date"]  # sign the Date header instead (SigV4 allows either)
            else:
                hdrs.setdefault("x-amz-date", when.strftime("%Y%m%dT%H%M%SZ"))
            hdrs.setdefault("x-amz-content-sha256", ph)
            hdrs["host"] = signed_host or self.t.hostport
            names = sorted(hdrs)
            canon_headers = "".join(f"{n}:{' '.join(hdrs[n].strip().split())}\n" for n in names)
            signed = ";".join(names)
            canonical = "\n".join([method, epath, canonical_query(query), canon_headers, signed, ph])
            sig = _sign(sk, when, region, canonical)
            if tamper_signature:
                sig = ("0" if sig[0] != "0" else "1") + sig[1:]
            hdrs["authorization"] = (
                f"AWS4-HMAC-SHA256 Credential={ak}/{when:%Y%m%d}/{region}/s3/aws4_request, "
                f"SignedHeaders={signed}, Signature={sig}"
            )
            hdrs["host"] = self.t.hostport
        return self.send(method, epath, canonical_query(query) if query else "", hdrs, body)

    def presign(
        self,
        method: str,
        path: str,
        expires: int = 300,
        *,
        when: dt.datetime | None = None,
        query: list[tuple[str, str]] | None = None,
        secret_key: str | None = None,
        tamper_signature: bool = False,
        region: str | None = None,
    ) -> str:
        """A presigned path+query for ``path``; send it with ``send_url``."""
        when = when or dt.datetime.now(dt.UTC)
        region = region or self.t.region
        sk = secret_key or self.t.secret_key
        q = list(query or []) + [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{self.t.access_key}/{when:%Y%m%d}/{region}/s3/aws4_request"),
            ("X-Amz-Date", when.strftime("%Y%m%dT%H%M%SZ")),
            ("X-Amz-Expires", str(expires)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        epath = uri_encode(path, safe="/-_.~")
        canonical = "\n".join(
            [method, epath, canonical_query(q), f"host:{self.t.hostport}\n", "host", "UNSIGNED-PAYLOAD"]
        )
        sig = _sign(sk, when, region, canonical)
        if tamper_signature:
            sig = ("0" if sig[0] != "0" else "1") + sig[1:]
        q.append(("X-Amz-Signature", sig))
        return f"{epath}?{canonical_query(q)}"

    def send(self, method: str, epath: str, equery: str, headers: dict[str, str], body: bytes = b"") -> RawResponse:
        if self.t.secure:
            ctx = ssl.create_default_context(cafile=self.t.ca_file)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.t.host, self.t.port, timeout=TIMEOUT, context=ctx
            )
        else:
            conn = http.client.HTTPConnection(self.t.host, self.t.port, timeout=TIMEOUT)
        try:
            conn.putrequest(method, epath + (f"?{equery}" if equery else ""), skip_host=True, skip_accept_encoding=True)
            hdrs = {"host": self.t.hostport, **headers}
            if body or method in ("PUT", "POST"):
                hdrs.setdefault("content-length", str(len(body)))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def send_url(
        self, method: str, url_path_query: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> RawResponse:
        p, _, q = url_path_query.partition("?")
        return self.send(method, p, q, headers or {}, body)
