"""The target: one s3gw endpoint and the root credentials to talk to it, with a small SigV4 client for
timed S3 requests (so latencies measure s3gw, not a client's start-up), ``s3gw admin`` and ``mc``."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import importlib.util
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlsplit

from .tools import Unavailable, mc_cmd, s3gw_cmd, state_dir

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
MC_ALIAS = "s3gwops"  # the alias name the scripts give mc through MC_HOST_<alias>
#: the source tree these scripts came with (ops/ sits beside s3gw/)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _enc(v: str) -> str:
    return quote(v, safe="-_.~")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    error: str | None = None  # connection-level failure (status 0)


class Target:
    """One s3gw endpoint and the root credentials to talk to it."""

    def __init__(
        self,
        endpoint: str,
        access: str,
        secret: str,
        region: str = "us-east-1",
        alias: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.access, self.secret, self.region = access, secret, region
        self.alias = alias
        self.timeout = timeout
        u = urlsplit(self.endpoint)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise ValueError(f"not an http(s) endpoint: {endpoint!r}")
        self.host = u.netloc

    def with_endpoint(self, endpoint: str) -> Target:
        return Target(endpoint, self.access, self.secret, self.region, None, self.timeout)

    # -- plain HTTP ----------------------------------------------------------
    def probe(self, path: str, method: str = "GET", timeout: float | None = None) -> Response:
        """An unauthenticated request (health endpoints); never raises."""
        req = urllib.request.Request(self.endpoint + path, method=method)
        return self._send(req, timeout)

    def _send(self, req: urllib.request.Request, timeout: float | None) -> Response:
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as r:
                body = r.read()
                return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, body, time.monotonic() - t0)
        except urllib.error.HTTPError as e:
            body = e.read()
            return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, body, time.monotonic() - t0)
        except (OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            return Response(0, {}, b"", time.monotonic() - t0, error=str(reason))

    # -- signed S3 requests (SigV4, UNSIGNED-PAYLOAD, path style) ---------------
    def s3(
        self,
        method: str,
        bucket: str = "",
        key: str = "",
        query: dict[str, str] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        anonymous: bool = False,
    ) -> Response:
        path = "/" + bucket + ("/" + key if key else "") if bucket else "/"
        qs = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted((query or {}).items()))
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        if not anonymous:
            hdrs.update(self._sign(method, path, qs, hdrs))
        url = self.endpoint + quote(path, safe="/-_.~") + (f"?{qs}" if qs else "")
        req = urllib.request.Request(
            url, method=method, data=body if body is not None else (b"" if method in ("PUT", "POST") else None)
        )
        for k, v in hdrs.items():
            if k != "host":
                req.add_header(k, v)
        return self._send(req, timeout)

    def _sign(self, method: str, path: str, qs: str, extra: dict[str, str]) -> dict[str, str]:
        now = dt.datetime.now(dt.UTC)
        amz = now.strftime("%Y%m%dT%H%M%SZ")
        date = amz[:8]
        h = {**extra, "host": self.host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": amz}
        names = sorted(h)
        canonical = "\n".join(
            [
                method,
                quote(path, safe="/-_.~"),
                qs,
                "".join(f"{n}:{str(h[n]).strip()}\n" for n in names),
                ";".join(names),
                "UNSIGNED-PAYLOAD",
            ]
        )
        scope = f"{date}/{self.region}/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        k = ("AWS4" + self.secret).encode()
        for part in (date, self.region, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        h["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"
        )
        return h

    def list_buckets(self) -> list[str]:
        r = self.s3("GET")
        if r.status != 200:
            raise RuntimeError(f"ListBuckets: {describe(r)}")
        import xml.etree.ElementTree as ET

        root = ET.fromstring(r.body)
        return [e.text for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Name" and e.text]

    def list_objects(self, bucket: str, prefix: str = "", limit: int | None = None) -> Iterable[dict[str, Any]]:
        """ListObjectsV2, every page: dicts with key, size, last_modified."""
        import xml.etree.ElementTree as ET

        token = None
        seen = 0
        while True:
            q = {"list-type": "2", "max-keys": "1000"}
            if prefix:
                q["prefix"] = prefix
            if token:
                q["continuation-token"] = token
            r = self.s3("GET", bucket, query=q, timeout=60)
            if r.status != 200:
                raise RuntimeError(f"ListObjectsV2 {bucket}: {describe(r)}")
            root = ET.fromstring(r.body)
            ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            for c in root.findall(f"{ns}Contents"):
                yield {
                    "key": c.findtext(f"{ns}Key"),
                    "size": int(c.findtext(f"{ns}Size") or 0),
                    "last_modified": c.findtext(f"{ns}LastModified"),
                }
                seen += 1
                if limit is not None and seen >= limit:
                    return
            if root.findtext(f"{ns}IsTruncated") != "true":
                return
            token = root.findtext(f"{ns}NextContinuationToken")

    # -- s3gw admin --------------------------------------------------------
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "S3GW_ROOT_USER": self.access,
            "S3GW_ROOT_PASSWORD": self.secret,
            "S3GW_ENDPOINT": self.endpoint,
            f"MC_HOST_{MC_ALIAS}": self.mc_host_url(),
        }

    def admin(self, *args: str, timeout: float = 120, json_out: bool = True, endpoint: bool = True) -> Any:
        """``s3gw admin ARGS --endpoint E [--json]``; the parsed JSON (or stdout).

        Raises Unavailable when this s3gw has no such admin command, RuntimeError
        when the command ran and failed."""
        cmd = (
            [*s3gw_cmd(), "admin", *args]
            + (["--endpoint", self.endpoint] if endpoint else [])
            + (["--json"] if json_out else [])
        )
        try:
            cp = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"`s3gw admin {' '.join(args)}` did not answer in {timeout:.0f}s") from None
        if cp.returncode == 2 and ("invalid choice" in cp.stderr or "unrecognized arguments" in cp.stderr):
            raise Unavailable(
                f"this s3gw has no `s3gw admin {' '.join(a for a in args if not a.startswith('-'))}`"
                f" ({cp.stderr.strip().splitlines()[-1]})"
            )
        if json_out:
            try:
                doc = json.loads(cp.stdout) if cp.stdout.strip() else None
            except json.JSONDecodeError:
                doc = None
            if cp.returncode not in (0, 1) or doc is None:
                raise RuntimeError(
                    f"`s3gw admin {' '.join(args)}` failed ({cp.returncode}): {(cp.stderr or cp.stdout).strip()[-400:]}"
                )
            return doc
        if cp.returncode != 0:
            raise RuntimeError(
                f"`s3gw admin {' '.join(args)}` failed ({cp.returncode}): {(cp.stderr or cp.stdout).strip()[-400:]}"
            )
        return cp.stdout

    def info(self) -> dict[str, Any]:
        return self.admin("info")

    # -- mc --------------------------------------------------------------------
    def mc_host_url(self) -> str:
        u = urlsplit(self.endpoint)
        return f"{u.scheme}://{_enc(self.access)}:{_enc(self.secret)}@{u.netloc}"

    def mc(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Run mc with the target as alias ``s3gwops`` (through MC_HOST_s3gwops, no config written)."""
        cmd = [*mc_cmd(), "--no-color", "--disable-pager", *args]
        env = self.env()
        env.setdefault("MC_CONFIG_DIR", os.path.join(state_dir(), "mc"))
        try:
            cp = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"`mc {' '.join(args)}` did not answer in {timeout:.0f}s") from None
        if check and cp.returncode != 0:
            raise RuntimeError(f"`mc {' '.join(args)}` failed: {(cp.stderr or cp.stdout).strip()[-400:]}")
        return cp

    def mc_json(self, *args: str, timeout: float = 120) -> list[dict[str, Any]]:
        cp = self.mc("--json", *args, timeout=timeout, check=False)
        docs = [json.loads(line) for line in cp.stdout.splitlines() if line.strip().startswith("{")]
        errors = [d for d in docs if d.get("status") == "error"]
        if cp.returncode != 0 and (errors or not docs):
            msg = errors[0].get("error", {}).get("message") if errors else (cp.stderr or cp.stdout).strip()
            raise RuntimeError(f"`mc {' '.join(args)}` failed: {msg}")
        return docs


def describe(r: Response) -> str:
    if r.status == 0:
        return f"no answer ({r.error})"
    code = ""
    if r.body.startswith(b"<?xml") or b"<Code>" in r.body[:300]:
        import re

        m = re.search(rb"<Code>([^<]+)</Code>", r.body)
        code = f" {m.group(1).decode()}" if m else ""
    return f"HTTP {r.status}{code}"


def gateway_list(t: Target, extra: str) -> list[Target]:
    """The endpoint and every other gateway named in a comma-separated list."""
    out = [t]
    for u in (x.strip().rstrip("/") for x in (extra or "").split(",")):
        if u and u != t.endpoint:
            out.append(t.with_endpoint(u))
    return out


def _credentials_module() -> ModuleType:
    """s3gw's own credentials module (standard library only): the installed one, else the one of the
    source tree these scripts came with."""
    try:
        from s3gw import credentials

        return credentials
    except ImportError:
        pass
    path = os.path.join(REPO, "s3gw", "credentials.py")
    spec = importlib.util.spec_from_file_location("_s3gw_credentials", path)
    if spec is None or spec.loader is None or not os.path.isfile(path):
        raise Unavailable("s3gw is not installed and these scripts are not beside its source (s3gw/credentials.py)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def credentials(env: Mapping[str, str]) -> tuple[str, str]:
    """The root credentials exactly as the gateway reads them (``s3gw.credentials.root_credentials``: the
    S3GW_ROOT_* and MINIO_ROOT_* variables and their *_FILE forms), else the AWS CLI's variables;
    ``""`` where none is set (there is no default here: a script never guesses credentials)."""
    user, password = _credentials_module().root_credentials(env, default=False)
    return user or env.get("AWS_ACCESS_KEY_ID", ""), password or env.get("AWS_SECRET_ACCESS_KEY", "")


def target_from(args: argparse.Namespace) -> Target:
    if args.alias and not args.endpoint:
        cp = subprocess.run(
            [*mc_cmd(), "alias", "list", args.alias, "--json"], capture_output=True, text=True, timeout=30
        )
        docs = [json.loads(x) for x in cp.stdout.splitlines() if x.strip().startswith("{")]
        doc = next((d for d in docs if d.get("status") == "success"), None)
        if doc is None:
            raise Unavailable(f"mc alias {args.alias!r} not found")
        return Target(doc["URL"], doc["accessKey"], doc["secretKey"], args.region, args.alias, args.timeout)
    endpoint = args.endpoint or os.environ.get("S3GW_ENDPOINT") or DEFAULT_ENDPOINT
    access, secret = credentials(os.environ)
    if not access or not secret:
        raise Unavailable("no credentials: set S3GW_ROOT_USER and S3GW_ROOT_PASSWORD, or use --alias")
    return Target(endpoint, access, secret, args.region, None, args.timeout)
