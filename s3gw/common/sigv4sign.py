"""SigV4 signing for s3gw's own clients: the ``s3gw admin`` command (``admin_client.py``)
and bucket replication's client of remote targets (``remote_s3.py``).

Written from the AWS SigV4 documentation with the standard library only, apart from the
server's verifier (``s3gw/auth/sigv4.py``), so that the two sides check each other in the
tests instead of sharing a mistake.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import quote


def enc(v: str) -> str:
    """A query name or value as SigV4 encodes it (RFC 3986 unreserved characters kept)."""
    return quote(v, safe="-_.~")


def canonical_query(query: dict[str, str]) -> str:
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()))


def canonical_path(path: str) -> str:
    return quote(path, safe="/-_.~")


def sign(
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    payload_hash: str,
    access: str,
    secret: str,
    region: str,
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """``headers`` (lower-case names, ``host`` among them) signed: every one of them, with
    ``x-amz-content-sha256`` and ``x-amz-date`` added, and the ``authorization`` header."""
    t = now or dt.datetime.now(dt.UTC)
    amz_date = t.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    h = dict(headers)
    h.update({"x-amz-content-sha256": payload_hash, "x-amz-date": amz_date})
    signed = sorted(h)
    canonical = "\n".join(
        [
            method,
            canonical_path(path),
            canonical_query(query),
            "".join(f"{k}:{h[k]}\n" for k in signed),
            ";".join(signed),
            payload_hash,
        ]
    )
    scope = f"{date}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    )
    return h
