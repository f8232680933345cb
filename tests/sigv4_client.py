"""A small, independent SigV4 client for tests: headers, aws-chunked bodies, trailers.

Written from the AWS documentation (Signature Version 4 for S3, "Transferring
payload in multiple chunks"), not from s3gw's verifier, so the two check each
other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import quote

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str = "us-east-1", service: str = "s3") -> bytes:
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def amz_now(offset: dt.timedelta = dt.timedelta()) -> str:
    return (dt.datetime.now(dt.UTC) + offset).strftime("%Y%m%dT%H%M%SZ")


def sign(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    payload_hash: str,
    access: str,
    secret: str,
    amz_date: str,
    region: str = "us-east-1",
) -> tuple[dict[str, str], str, bytes, str]:
    """Return (headers with Authorization, seed signature, signing key, scope)."""
    h = {k.lower(): v for k, v in headers.items()}
    h["x-amz-date"] = amz_date
    h["x-amz-content-sha256"] = payload_hash
    signed = sorted(h)
    canonical_headers = "".join(f"{k}:{' '.join(h[k].split())}\n" for k in signed)
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query))
    canonical = "\n".join(
        [method, quote(path, safe="/-_.~"), canonical_query, canonical_headers, ";".join(signed), payload_hash]
    )
    date = amz_date[:8]
    scope = f"{date}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = signing_key(secret, date, region)
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    )
    return h, sig, key, scope


def chunked_body(
    data: bytes,
    chunk_size: int,
    seed: str,
    key: bytes,
    amz_date: str,
    scope: str,
    trailer: tuple[str, str] | None = None,
    signed: bool = True,
    tamper_chunk: int | None = None,
) -> bytes:
    """aws-chunked framing of ``data``: signed chunks (or unsigned), then an optional trailer."""
    out = bytearray()
    prev = seed
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    for n, chunk in enumerate(chunks):
        if signed:
            sts = "\n".join(
                ["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY_SHA256, hashlib.sha256(chunk).hexdigest()]
            )
            sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            if tamper_chunk == n:
                sig = ("0" if sig[0] != "0" else "1") + sig[1:]
            prev = sig
            out += f"{len(chunk):x};chunk-signature={sig}\r\n".encode()
        else:
            out += f"{len(chunk):x}\r\n".encode()
        out += chunk
        if chunk or not trailer:
            out += b"\r\n"
    if trailer is not None:
        name, value = trailer
        out += f"{name}:{value}\r\n".encode()
        if signed:
            # the trailer signature covers "name:value\n" (LF only), per the AWS example
            tbytes = f"{name}:{value}\n".encode()
            sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev, hashlib.sha256(tbytes).hexdigest()])
            tsig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            out += f"x-amz-trailer-signature:{tsig}\r\n".encode()
        out += b"\r\n"
    return bytes(out)
