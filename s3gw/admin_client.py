"""``s3gw admin``: a small client of the gateway's admin endpoints
(``s3gw/api/s3gw_admin.py``), signing with SigV4 like any S3 client.

Written from the AWS SigV4 documentation with the standard library only, so the
command needs nothing the gateway does not already install.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, TextIO
from urllib.parse import urlsplit

from .common import sigv4sign

ADMIN = "/minio/admin/s3gw/v1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def signed_request(
    method: str,
    endpoint: str,
    path: str,
    query: dict[str, str],
    access: str,
    secret: str,
    region: str = "us-east-1",
    now: dt.datetime | None = None,
    body: bytes = b"",
) -> urllib.request.Request:
    """A SigV4-signed request (the body's SHA-256 is signed, as madmin does)."""
    u = urlsplit(endpoint)
    payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    headers = sigv4sign.sign(method, path, query, {"host": u.netloc}, payload_hash, access, secret, region, now)
    qs = sigv4sign.canonical_query(query)
    url = f"{u.scheme}://{u.netloc}{path}" + (f"?{qs}" if qs else "")
    req = urllib.request.Request(url, method=method, data=body if body or method in ("POST", "PUT") else None)
    for k, v in headers.items():
        if k != "host":
            req.add_header(k, v)
    return req


class AdminClient:
    def __init__(self, endpoint: str, access: str, secret: str, region: str = "us-east-1") -> None:
        self.endpoint = endpoint.rstrip("/")
        self.access, self.secret, self.region = access, secret, region

    def _open(self, method: str, name: str, query: dict[str, str] | None = None, timeout: float | None = 30):
        req = signed_request(
            method, self.endpoint, f"{ADMIN}/{name}", query or {}, self.access, self.secret, self.region
        )
        try:
            return urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", "replace")
            raise RuntimeError(f"{e.code}: {body}") from None

    def info(self) -> dict[str, Any]:
        with self._open("GET", "info") as r:
            return json.loads(r.read())

    def heal(
        self, bucket: str = "", prefix: str = "", *, deep: bool = False, dry_run: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Progress documents, the last one with ``done``."""
        q = {k: v for k, v in (("bucket", bucket), ("prefix", prefix)) if v}
        if deep:
            q["deep"] = "true"
        if dry_run:
            q["dry-run"] = "true"
        with self._open("POST", "heal", q, timeout=None) as r:
            for line in r:
                if line.strip():
                    yield json.loads(line)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def print_info(info: dict[str, Any], out: TextIO = sys.stdout) -> None:
    e, q = info["erasure"], info["quorum"]
    print(
        f"erasure coding {e['data']}+{e['parity']}  write quorum {e['write_quorum']} "
        f"({'ok' if q['write'] else 'LOST'})  read quorum {e['read_quorum']} ({'ok' if q['read'] else 'LOST'})",
        file=out,
    )
    print("nodes:", file=out)
    for n in info["nodes"]:
        state = "online " if n["online"] else "OFFLINE"
        err = f"  ({n['error']})" if n.get("error") and not n["online"] else ""
        print(f"  {state} {n['url']:<28} id={n['node_id']}  drives={','.join(n['drives'])}{err}", file=out)
    print("drives:", file=out)
    for d in info["drives"]:
        print(
            f"  {d['state']:<8} {d['id']:<32} used {_size(d.get('used')):>10}  free {_size(d.get('free')):>10}",
            file=out,
        )
    h = info["healing"]
    print(
        f"healing: queued {h.get('heal_queued')}, failed {h.get('heal_failed')}, "
        f"gc queued {h.get('gc_queued')}, open write intents {h.get('write_intents')}, "
        f"orphans removed {h['orphans_removed']}, worker healed {h['worker']['healed']} "
        f"(retries {h['worker']['retried']}, failed {h['worker']['failed']})",
        file=out,
    )
    for label in ("scan_running", "last_scan", "admin_heal"):
        s = h.get(label)
        if s:
            print(
                f"  {label.replace('_', ' ')}: scanned {s['scanned']}, healthy {s['healthy']}, "
                f"queued {s['queued']}, healed {s['healed']}, failed {s['failed']}, "
                f"unrecoverable {s['unrecoverable']}",
                file=out,
            )


def progress_line(d: dict[str, Any]) -> str:
    return (
        f"scanned {d['scanned']}  healed {d['healed']}  failed {d['failed']}  "
        f"unrecoverable {d['unrecoverable']}  offline {d['offline']}"
        + (f"  would heal {d['would_heal']}" if d.get("would_heal") else "")
        + (f"  at {d['current']}" if d.get("current") else "")
    )
