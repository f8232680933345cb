"""Metrics scraping: the bearer token mc would make, the Prometheus text format, sums over series."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import urllib.request

from .target import Target


def _b64url(b: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def prometheus_jwt(access: str, secret: str, ttl: float = 300.0) -> str:
    """The bearer token ``mc admin prometheus generate`` makes: HS512 over
    {exp, sub: access key, iss: prometheus}, keyed by the secret key."""
    head = _b64url(json.dumps({"alg": "HS512", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = _b64url(
        json.dumps({"exp": int(time.time() + ttl), "sub": access, "iss": "prometheus"}, separators=(",", ":")).encode()
    )
    sig = hmac.new(secret.encode(), f"{head}.{claims}".encode(), hashlib.sha512).digest()
    return f"{head}.{claims}.{_b64url(sig)}"


def parse_prometheus(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Samples of the Prometheus text format: (name, labels, value)."""
    import re

    out = []
    sample = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
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
