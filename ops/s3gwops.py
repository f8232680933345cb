"""Shared plumbing of the ops/ runbook scripts (standard library only).

Every script takes its target the same way:

* ``--endpoint`` / ``S3GW_ENDPOINT`` (default ``http://127.0.0.1:8080``) with
  ``S3GW_ROOT_USER`` / ``S3GW_ROOT_PASSWORD`` (``MINIO_ROOT_USER`` /
  ``MINIO_ROOT_PASSWORD`` and ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``
  are honoured too), or
* ``--alias`` / ``S3GW_MC_ALIAS``: an ``mc`` alias, whose URL and keys are read
  with ``mc alias list ALIAS --json``.

and reports the same way: one line per check, ``[OK]``, ``[WARNING]``,
``[CRITICAL]`` or ``[UNKNOWN]``, then a ``VERDICT:`` line, and the Nagios plugin
exit code of the worst check (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), so any
monitoring system that runs Nagios-style checks can run these unchanged.
``--json`` prints the same report as one JSON document instead.

Three ways to talk to s3gw, each used where it is the natural one:

* plain HTTP for the unauthenticated health endpoints (``/health/live``,
  ``/health/ready``, ``/minio/health/*``), as a load balancer sees them;
* ``s3gw admin ... --json`` (the command from ``S3GW_BIN``, else ``s3gw`` on
  PATH, else ``python3 -m s3gw.cli``) for cluster state, heal, maintenance,
  users and backups;
* ``mc`` (``MC_BIN``, else on PATH, else ``$GOPATH/bin/mc``) for what an
  operator does with mc anyway (``mc ready``, ``mc du``, ``mc ls --versions``),
  and a small SigV4 client here for timed canary and benchmark requests, so
  that latencies measure s3gw and not the start-up of a client process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import quote, urlsplit

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
LEVELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
MC_ALIAS = "s3gwops"          # the alias name the scripts give mc through MC_HOST_<alias>


class Unavailable(RuntimeError):
    """A tool or an s3gw command the check needs is not there."""


# --------------------------------------------------------------------------- report


@dataclass
class Check:
    level: int
    section: str
    message: str


@dataclass
class Report:
    """Collects checks, prints them as they come, and ends with one verdict."""

    title: str
    json_out: bool = False
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    section: str = ""

    def head(self, target: str) -> None:
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.facts.update(target=target, generated=now)
        self._print(f"=== {self.title}: {target} ({now}) ===")

    def _print(self, line: str = "") -> None:
        if not self.json_out:
            print(line, flush=True)

    def begin(self, section: str) -> None:
        self.section = section
        self._print(f"\n-- {section}")

    def info(self, message: str) -> None:
        self._print(f"   {message}")

    def add(self, level: int, message: str) -> None:
        self.checks.append(Check(level, self.section, message))
        self._print(f"   [{LEVELS[level]}] {message}")

    def ok(self, message: str) -> None:
        self.add(OK, message)

    def warn(self, message: str) -> None:
        self.add(WARNING, message)

    def crit(self, message: str) -> None:
        self.add(CRITICAL, message)

    def unknown(self, message: str) -> None:
        self.add(UNKNOWN, message)

    def worst(self) -> int:
        # CRITICAL outranks UNKNOWN (something is known to be broken), UNKNOWN outranks WARNING
        order = {OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3}
        return max((c.level for c in self.checks), key=order.__getitem__, default=OK)

    def finish(self, actions: Iterable[str] = ()) -> int:
        level = self.worst()
        bad = [c for c in self.checks if c.level == level and level != OK]
        actions = list(actions)
        if self.json_out:
            print(json.dumps({"title": self.title, "verdict": LEVELS[level], "exit_code": level, **self.facts,
                              "checks": [{"level": LEVELS[c.level], "section": c.section, "message": c.message}
                                         for c in self.checks], "actions": actions}, indent=2))
            return level
        if actions:
            self._print("\n-- what to do")
            for a in actions:
                self._print(f"   - {a}")
        counts = ", ".join(f"{sum(c.level == lv for c in self.checks)} {LEVELS[lv].lower()}"
                           for lv in (CRITICAL, UNKNOWN, WARNING) if any(c.level == lv for c in self.checks))
        why = f" - {bad[0].message}" if bad else ""
        self._print(f"\nVERDICT: {LEVELS[level]}" + (f" ({counts})" if counts else "") + why)
        return level


# --------------------------------------------------------------------------- tools


def _split_cmd(env_name: str, *fallbacks: list[str]) -> list[str] | None:
    if os.environ.get(env_name):
        return shlex.split(os.environ[env_name])
    for cmd in fallbacks:
        if cmd and (os.path.isabs(cmd[0]) and os.access(cmd[0], os.X_OK) or shutil.which(cmd[0])):
            return cmd
    return None


def s3gw_cmd() -> list[str]:
    cmd = _split_cmd("S3GW_BIN", ["s3gw"])
    if cmd:
        return cmd
    try:  # a source checkout or an installed package without the console script on PATH
        import importlib.util
        if importlib.util.find_spec("s3gw.cli") is not None:
            return [sys.executable, "-m", "s3gw.cli"]
    except (ImportError, ValueError):
        pass
    raise Unavailable("the s3gw command is not installed (set S3GW_BIN, or put s3gw on PATH)")


def mc_cmd() -> list[str]:
    gopath = os.environ.get("GOPATH") or os.path.expanduser("~/go")
    cmd = _split_cmd("MC_BIN", ["mc"], [os.path.join(gopath, "bin", "mc")])
    if cmd is None:
        raise Unavailable("mc is not installed (set MC_BIN; scripts/go-tools.sh mc builds the pinned one)")
    return cmd


def which(name: str) -> str | None:
    return shutil.which(name)


# --------------------------------------------------------------------------- the target


def _enc(v: str) -> str:
    return quote(v, safe="-_.~")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    error: str | None = None      # connection-level failure (status 0)


class Target:
    """One s3gw endpoint and the root credentials to talk to it."""

    def __init__(self, endpoint: str, access: str, secret: str, region: str = "us-east-1",
                 alias: str | None = None, timeout: float = 10.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.access, self.secret, self.region = access, secret, region
        self.alias = alias
        self.timeout = timeout
        u = urlsplit(self.endpoint)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise ValueError(f"not an http(s) endpoint: {endpoint!r}")
        self.host = u.netloc

    def with_endpoint(self, endpoint: str) -> "Target":
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
                return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, body,
                                time.monotonic() - t0)
        except urllib.error.HTTPError as e:
            body = e.read()
            return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, body, time.monotonic() - t0)
        except (OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            return Response(0, {}, b"", time.monotonic() - t0, error=str(reason))

    # -- signed S3 requests (SigV4, UNSIGNED-PAYLOAD, path style) ---------------
    def s3(self, method: str, bucket: str = "", key: str = "", query: dict[str, str] | None = None,
           body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float | None = None,
           anonymous: bool = False) -> Response:
        path = "/" + bucket + ("/" + key if key else "") if bucket else "/"
        qs = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted((query or {}).items()))
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        if not anonymous:
            hdrs.update(self._sign(method, path, qs, hdrs))
        url = self.endpoint + quote(path, safe="/-_.~") + (f"?{qs}" if qs else "")
        req = urllib.request.Request(url, method=method, data=body if body is not None else
                                     (b"" if method in ("PUT", "POST") else None))
        for k, v in hdrs.items():
            if k != "host":
                req.add_header(k, v)
        return self._send(req, timeout)

    def _sign(self, method: str, path: str, qs: str, extra: dict[str, str]) -> dict[str, str]:
        now = dt.datetime.now(dt.timezone.utc)
        amz = now.strftime("%Y%m%dT%H%M%SZ")
        date = amz[:8]
        h = {**extra, "host": self.host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": amz}
        names = sorted(h)
        canonical = "\n".join([method, quote(path, safe="/-_.~"), qs,
                               "".join(f"{n}:{str(h[n]).strip()}\n" for n in names), ";".join(names),
                               "UNSIGNED-PAYLOAD"])
        scope = f"{date}/{self.region}/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        k = ("AWS4" + self.secret).encode()
        for part in (date, self.region, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access}/{scope}, "
                              f"SignedHeaders={';'.join(names)}, Signature={sig}")
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
                yield {"key": c.findtext(f"{ns}Key"), "size": int(c.findtext(f"{ns}Size") or 0),
                       "last_modified": c.findtext(f"{ns}LastModified")}
                seen += 1
                if limit is not None and seen >= limit:
                    return
            if root.findtext(f"{ns}IsTruncated") != "true":
                return
            token = root.findtext(f"{ns}NextContinuationToken")

    # -- s3gw admin --------------------------------------------------------
    def env(self) -> dict[str, str]:
        return {**os.environ, "S3GW_ROOT_USER": self.access, "S3GW_ROOT_PASSWORD": self.secret,
                "S3GW_ENDPOINT": self.endpoint,
                f"MC_HOST_{MC_ALIAS}": self.mc_host_url()}

    def admin(self, *args: str, timeout: float = 120, json_out: bool = True, endpoint: bool = True) -> Any:
        """``s3gw admin ARGS --endpoint E [--json]``; the parsed JSON (or stdout).

        Raises Unavailable when this s3gw has no such admin command, RuntimeError
        when the command ran and failed."""
        cmd = ([*s3gw_cmd(), "admin", *args] + (["--endpoint", self.endpoint] if endpoint else [])
               + (["--json"] if json_out else []))
        try:
            cp = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"`s3gw admin {' '.join(args)}` did not answer in {timeout:.0f}s") from None
        if cp.returncode == 2 and ("invalid choice" in cp.stderr or "unrecognized arguments" in cp.stderr):
            raise Unavailable(f"this s3gw has no `s3gw admin {' '.join(a for a in args if not a.startswith('-'))}`"
                              f" ({cp.stderr.strip().splitlines()[-1]})")
        if json_out:
            try:
                doc = json.loads(cp.stdout) if cp.stdout.strip() else None
            except json.JSONDecodeError:
                doc = None
            if cp.returncode not in (0, 1) or doc is None:
                raise RuntimeError(f"`s3gw admin {' '.join(args)}` failed ({cp.returncode}): "
                                   f"{(cp.stderr or cp.stdout).strip()[-400:]}")
            return doc
        if cp.returncode != 0:
            raise RuntimeError(f"`s3gw admin {' '.join(args)}` failed ({cp.returncode}): "
                               f"{(cp.stderr or cp.stdout).strip()[-400:]}")
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


def state_dir() -> str:
    d = os.environ.get("S3GW_OPS_STATE") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "s3gw-ops")
    os.makedirs(d, exist_ok=True)
    return d


# --------------------------------------------------------------------------- command line


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors exit 3 (UNKNOWN), not 2 (which means CRITICAL here)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(UNKNOWN)


EPILOG_COMMON = """\
target: --endpoint or S3GW_ENDPOINT (default http://127.0.0.1:8080) with S3GW_ROOT_USER /
S3GW_ROOT_PASSWORD (or MINIO_ROOT_*, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); or --alias /
S3GW_MC_ALIAS naming an mc alias. Tools: S3GW_BIN (default: s3gw), MC_BIN (default: mc).
exit codes (Nagios plugin convention): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (could not check)."""


def parser(prog_doc: str, epilog: str = "") -> Parser:
    lines = prog_doc.strip().splitlines()
    p = Parser(description=lines[0], epilog=("\n".join(lines[1:]).strip() + "\n\n" if len(lines) > 1 else "")
               + (epilog + "\n\n" if epilog else "") + EPILOG_COMMON,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", default=None, help="s3gw URL (default: $S3GW_ENDPOINT or http://127.0.0.1:8080)")
    p.add_argument("--alias", default=os.environ.get("S3GW_MC_ALIAS"), help="take URL and keys from this mc alias")
    p.add_argument("--region", default=os.environ.get("S3GW_REGION", "us-east-1"))
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP request (default 10)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def target_from(args: argparse.Namespace) -> Target:
    if args.alias and not args.endpoint:
        cp = subprocess.run([*mc_cmd(), "alias", "list", args.alias, "--json"], capture_output=True, text=True,
                            timeout=30)
        docs = [json.loads(x) for x in cp.stdout.splitlines() if x.strip().startswith("{")]
        doc = next((d for d in docs if d.get("status") == "success"), None)
        if doc is None:
            raise Unavailable(f"mc alias {args.alias!r} not found")
        return Target(doc["URL"], doc["accessKey"], doc["secretKey"], args.region, args.alias, args.timeout)
    endpoint = args.endpoint or os.environ.get("S3GW_ENDPOINT") or DEFAULT_ENDPOINT
    access = (os.environ.get("S3GW_ROOT_USER") or os.environ.get("MINIO_ROOT_USER")
              or os.environ.get("AWS_ACCESS_KEY_ID"))
    secret = (os.environ.get("S3GW_ROOT_PASSWORD") or os.environ.get("MINIO_ROOT_PASSWORD")
              or os.environ.get("AWS_SECRET_ACCESS_KEY"))
    if not access or not secret:
        raise Unavailable("no credentials: set S3GW_ROOT_USER and S3GW_ROOT_PASSWORD, or use --alias")
    return Target(endpoint, access, secret, args.region, None, args.timeout)


def run(main: Any) -> None:
    """Run ``main() -> int`` and exit with its code; tool/usage trouble is UNKNOWN (3)."""
    try:
        code = main()
    except Unavailable as e:
        print(f"UNKNOWN: {e}", file=sys.stderr)
        print(f"VERDICT: UNKNOWN - {e}")
        code = UNKNOWN
    except KeyboardInterrupt:
        code = UNKNOWN
    sys.exit(code)


# --------------------------------------------------------------------------- shared checks


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def first_ok(t: Target, paths: Iterable[str]) -> tuple[str, Response] | None:
    """The first of several equivalent endpoints that exists (not 404/403 from the S3 catch-all)."""
    last = None
    for p in paths:
        r = t.probe(p)
        last = (p, r)
        if r.status not in (403, 404, 405):
            return p, r
    return last


def _json_body(r: Response) -> dict[str, Any]:
    try:
        doc = json.loads(r.body or b"{}")
        return doc if isinstance(doc, dict) else {}
    except ValueError:
        return {}


def check_endpoints(rep: Report, t: Target) -> bool:
    """Liveness, readiness and the cluster quorum checks, as a load balancer and
    ``mc ready`` see them (docs/operations.md, "Endpoints at a glance").
    Returns whether the gateway answered at all."""
    live = t.probe("/health/live")
    if live.status == 0:
        rep.crit(f"gateway does not answer at {t.endpoint}: {live.error}")
        return False
    if live.status == 200:
        rep.ok(f"/health/live 200 in {ms(live.seconds)}")
    else:
        mlive = t.probe("/minio/health/live")
        if mlive.status == 200:
            rep.warn(f"/health/live answers {describe(live)} (the Kubernetes liveness probe would fail); "
                     f"/minio/health/live is 200")
        else:
            rep.crit(f"liveness: /health/live {describe(live)}, /minio/health/live {describe(mlive)}")
    ready = t.probe("/health/ready")
    body = _json_body(ready)
    if ready.status == 200:
        rep.ok(f"/health/ready 200 in {ms(ready.seconds)}"
               + (f" (nodes {body['nodes'].get('online')}/{body['nodes'].get('total')}, drives "
                  f"{body['drives'].get('online')}/{body['drives'].get('total')})"
                  if isinstance(body.get("nodes"), dict) and isinstance(body.get("drives"), dict) else ""))
    elif ready.status == 503:
        why = ", ".join(f"{k}: {body[k]}" for k in ("metadata", "read_quorum", "write_quorum") if k in body)
        rep.crit("/health/ready 503: the gateway is not ready" + (f" ({why})" if why else "")
                 + " - Kubernetes takes it out of the Service")
    else:
        rep.warn(f"/health/ready answers {describe(ready)}: this s3gw has no readiness endpoint")
    maint = (live.headers.get("x-s3gw-maintenance") == "on" or body.get("maintenance") is True)
    for path, what, hdr in (("/minio/health/cluster", "write quorum", "x-minio-write-quorum"),
                            ("/minio/health/cluster/read", "read quorum", "x-minio-read-quorum")):
        r = t.probe(path)
        q = f"(needs {r.headers.get(hdr, '?')} shards)"
        healing = r.headers.get("x-minio-healing-drives")
        if r.status == 200:
            rep.ok(f"{what} reachable {q}: {path} 200" + (f"; {healing} drive(s) healing" if healing else ""))
        elif r.status == 412 or (r.status != 503 and maint):
            maint = True
            rep.warn(f"maintenance mode is on: {path} {r.status}; writes are refused (503), reads are served")
        elif r.status == 503:
            rep.crit(f"{what} LOST {q}: {path} 503")
        else:
            rep.warn(f"{path} answers {describe(r)}")
    rep.facts["maintenance"] = maint
    return True


def canary(rep: Report, t: Target, bucket: str, size: int = 64 << 10, slow: float = 2.0) -> bool:
    """PUT, GET (verified), DELETE one object; CRITICAL on any failure, WARNING when slow."""
    head = t.s3("HEAD", bucket)
    if head.status == 404:
        r = t.s3("PUT", bucket)
        if r.status not in (200, 409):
            rep.crit(f"canary: cannot create bucket {bucket}: {describe(r)}")
            return False
    elif head.status != 200:
        rep.crit(f"canary: HEAD bucket {bucket}: {describe(head)}")
        return False
    key = f"canary/{uuid.uuid4().hex}"
    body = os.urandom(size)
    put = t.s3("PUT", bucket, key, body=body, timeout=60)
    if put.status != 200:
        rep.crit(f"canary PUT {bucket}/{key}: {describe(put)}")
        return False
    get = t.s3("GET", bucket, key, timeout=60)
    if get.status != 200 or get.body != body:
        rep.crit(f"canary GET {bucket}/{key}: {describe(get)}"
                 + ("" if get.status != 200 else " (content differs from what was written)"))
        return False
    dele = t.s3("DELETE", bucket, key)
    if dele.status not in (200, 204):
        rep.warn(f"canary DELETE {bucket}/{key}: {describe(dele)}")
    took = put.seconds + get.seconds
    msg = (f"canary {fmt_bytes(size)} object: PUT {ms(put.seconds)}, GET {ms(get.seconds)} (verified), "
           f"DELETE {ms(dele.seconds)}")
    if took > slow:
        rep.warn(msg + f" - slower than {slow:.1f}s")
    else:
        rep.ok(msg)
    return True


def check_cluster(rep: Report, info: dict[str, Any], heal_backlog_warn: int = 1000) -> None:
    """Nodes, drives, quorum and healing from ``s3gw admin info``."""
    e, q = info.get("erasure", {}), info.get("quorum", {})
    nodes = info.get("nodes", [])
    drives = info.get("drives", [])
    k, m = e.get("data", 0), e.get("parity", 0)
    rep.info(f"erasure coding {k}+{m}, write quorum {e.get('write_quorum')}, read quorum {e.get('read_quorum')}")
    down = [n for n in nodes if not n.get("online")]
    if down:
        lvl = CRITICAL if not q.get("write", True) else WARNING
        rep.add(lvl, f"{len(down)} of {len(nodes)} storage nodes offline: "
                + ", ".join(f"{n['url']} ({n.get('error') or 'no answer'})" for n in down))
    else:
        rep.ok(f"{len(nodes)} storage node(s) online")
    bad = [d for d in drives if d.get("state") not in ("ok", "online") or not d.get("ok", True)]
    if bad:
        lvl = CRITICAL if not q.get("write", True) else WARNING
        rep.add(lvl, f"{len(bad)} of {len(drives)} drives not healthy: "
                + ", ".join(f"{d['id']} ({d.get('state')}{': ' + d['error'] if d.get('error') else ''})"
                            for d in bad[:9]) + (" ..." if len(bad) > 9 else ""))
    else:
        rep.ok(f"{len(drives)} drive(s) healthy")
    online = len(drives) - len(bad)
    tolerance = online - (e.get("write_quorum") or 0)
    if q.get("write") and q.get("read"):
        if tolerance <= 0 and drives:
            rep.warn(f"at the edge of write quorum: {online} drives online, {e.get('write_quorum')} needed")
        else:
            rep.ok(f"write and read quorum held; {max(tolerance, 0)} more drive(s) can fail before writes stop")
    elif q.get("read"):
        rep.crit(f"write quorum lost ({online} drives online, {e.get('write_quorum')} needed): writes fail, reads work")
    else:
        rep.crit(f"read quorum lost ({online} drives online, {e.get('read_quorum')} needed): objects unreadable")
    h = info.get("healing", {})
    if "error" in h:
        rep.crit(f"metadata store error: {h['error']}")
        return
    queued, failed = h.get("heal_queued") or 0, h.get("heal_failed") or 0
    msg = f"heal queue {queued}, failed heals {failed}, GC queue {h.get('gc_queued')}"
    if failed:
        rep.warn(msg + ": some heals failed; run `s3gw admin heal` and read its problem list")
    elif queued > heal_backlog_warn:
        rep.warn(msg + f": backlog over {heal_backlog_warn}")
    else:
        rep.ok(msg)
    last = h.get("last_scan")
    if last and last.get("unrecoverable"):
        rep.crit(f"the last scanner pass found {last['unrecoverable']} unrecoverable object(s)")


def drive_usage(info: dict[str, Any]) -> list[dict[str, Any]]:
    """Per drive: id, node, total, free, used fraction (the free-space reserve counts as used)."""
    out = []
    for d in info.get("drives", []):
        total, free = d.get("total"), d.get("free")
        pct = None if not total or free is None else 100.0 * (total - free) / total
        out.append({"id": d["id"], "node_id": d.get("node_id"), "total": total, "free": free,
                    "used": d.get("used"), "pct": pct, "ok": d.get("ok", True) and d.get("state") in (None, "ok", "online")})
    return out


# --------------------------------------------------------------------------- metrics


def _b64url(b: bytes) -> str:
    import base64
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def prometheus_jwt(access: str, secret: str, ttl: float = 300.0) -> str:
    """The bearer token ``mc admin prometheus generate`` makes: HS512 over
    {exp, sub: access key, iss: prometheus}, keyed by the secret key."""
    head = _b64url(json.dumps({"alg": "HS512", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = _b64url(json.dumps({"exp": int(time.time() + ttl), "sub": access, "iss": "prometheus"},
                                separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{claims}".encode(), hashlib.sha512).digest()
    return f"{head}.{claims}.{_b64url(sig)}"


def parse_prometheus(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Samples of the Prometheus text format: (name, labels, value)."""
    import re
    out = []
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = sample.match(line)
        if not m:
            continue
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        labels = {k: v.replace('\\"', '"').replace("\\\\", "\\") for k, v in label.findall(m.group(3) or "")}
        out.append((m.group(1), labels, value))
    return out


def metrics(t: Target, path: str = "/metrics") -> list[tuple[str, dict[str, str], float]] | None:
    """Scrape a metrics endpoint with S3GW_METRICS_TOKEN, else a JWT made from the
    root credentials; None when this s3gw has no such endpoint or refuses."""
    token = os.environ.get("S3GW_METRICS_TOKEN") or prometheus_jwt(t.access, t.secret)
    req = urllib.request.Request(t.endpoint + path, headers={"Authorization": f"Bearer {token}"})
    r = t._send(req, None)
    if r.status != 200 or b"<Error>" in r.body[:200]:
        return None
    return parse_prometheus(r.body.decode("utf-8", "replace"))


def metric_sum(samples: list[tuple[str, dict[str, str], float]], name: str, **match: str) -> float | None:
    vals = [v for n, lab, v in samples if n == name and all(lab.get(k) == w for k, w in match.items())]
    return sum(vals) if vals else None


# --------------------------------------------------------------------------- Kubernetes (optional)


def kubectl(rep: Report, *args: str, timeout: float = 60) -> str | None:
    """Run kubectl; its output, or None (reported as UNKNOWN) when it cannot."""
    if not which("kubectl"):
        rep.unknown("kubectl not installed: Kubernetes checks not run")
        return None
    cp = subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=timeout)
    if cp.returncode != 0:
        rep.unknown(f"kubectl {' '.join(args[:3])}: {cp.stderr.strip()[-300:]}")
        return None
    return cp.stdout


def gateway_list(t: Target, extra: str) -> list[Target]:
    """The endpoint and every other gateway named in a comma-separated list."""
    out = [t]
    for u in (x.strip().rstrip("/") for x in (extra or "").split(",")):
        if u and u != t.endpoint:
            out.append(t.with_endpoint(u))
    return out


# --------------------------------------------------------------------------- runbooks


OPS_DIR = os.path.dirname(os.path.abspath(__file__))


def target_args(args: argparse.Namespace) -> list[str]:
    """The target options to hand on to another ops script."""
    out = []
    if args.endpoint:
        out += ["--endpoint", args.endpoint]
    if args.alias:
        out += ["--alias", args.alias]
    out += ["--region", args.region, "--timeout", str(args.timeout)]
    return out


def run_step(rep: Report, title: str, script: str, *argv: str, timeout: float = 3600) -> int:
    """Run another ops script as one step of a runbook: its report indented, its
    verdict recorded as this step's check."""
    cmd = [sys.executable, os.path.join(OPS_DIR, script), *argv]
    rep.begin(title)
    rep.info("$ " + " ".join(shlex.quote(c) for c in [os.path.join("ops", script), *argv]))
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        rep.crit(f"{script} did not finish in {timeout:.0f}s")
        return CRITICAL
    verdict = ""
    for line in cp.stdout.splitlines():
        if line.startswith("VERDICT:"):
            verdict = line[len("VERDICT:"):].strip()
        elif line.strip() and not line.startswith("==="):
            rep.info("  " + line)
    code = cp.returncode if cp.returncode in LEVELS else UNKNOWN
    if cp.stderr.strip() and code:
        rep.info("  stderr: " + cp.stderr.strip().splitlines()[-1])
    rep.add(code, f"{script}: {verdict or LEVELS[code]}")
    return code
