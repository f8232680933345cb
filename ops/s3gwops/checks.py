"""Checks several scripts share: the health endpoints, a canary write, the cluster's state, drive usage."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from typing import Any

from .report import CRITICAL, WARNING, Report, fmt_bytes, ms
from .target import Response, Target, describe


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
            rep.warn(
                f"/health/live answers {describe(live)} (the Kubernetes liveness probe would fail); "
                f"/minio/health/live is 200"
            )
        else:
            rep.crit(f"liveness: /health/live {describe(live)}, /minio/health/live {describe(mlive)}")
    ready = t.probe("/health/ready")
    body = _json_body(ready)
    if ready.status == 200:
        rep.ok(
            f"/health/ready 200 in {ms(ready.seconds)}"
            + (
                f" (nodes {body['nodes'].get('online')}/{body['nodes'].get('total')}, drives "
                f"{body['drives'].get('online')}/{body['drives'].get('total')})"
                if isinstance(body.get("nodes"), dict) and isinstance(body.get("drives"), dict)
                else ""
            )
        )
    elif ready.status == 503:
        why = ", ".join(f"{k}: {body[k]}" for k in ("metadata", "read_quorum", "write_quorum") if k in body)
        rep.crit(
            "/health/ready 503: the gateway is not ready"
            + (f" ({why})" if why else "")
            + " - Kubernetes takes it out of the Service"
        )
    else:
        rep.warn(f"/health/ready answers {describe(ready)}: this s3gw has no readiness endpoint")
    maint = live.headers.get("x-s3gw-maintenance") == "on" or body.get("maintenance") is True
    for path, what, hdr in (
        ("/minio/health/cluster", "write quorum", "x-minio-write-quorum"),
        ("/minio/health/cluster/read", "read quorum", "x-minio-read-quorum"),
    ):
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
        rep.crit(
            f"canary GET {bucket}/{key}: {describe(get)}"
            + ("" if get.status != 200 else " (content differs from what was written)")
        )
        return False
    dele = t.s3("DELETE", bucket, key)
    if dele.status not in (200, 204):
        rep.warn(f"canary DELETE {bucket}/{key}: {describe(dele)}")
    took = put.seconds + get.seconds
    msg = (
        f"canary {fmt_bytes(size)} object: PUT {ms(put.seconds)}, GET {ms(get.seconds)} (verified), "
        f"DELETE {ms(dele.seconds)}"
    )
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
        rep.add(
            lvl,
            f"{len(down)} of {len(nodes)} storage nodes offline: "
            + ", ".join(f"{n['url']} ({n.get('error') or 'no answer'})" for n in down),
        )
    else:
        rep.ok(f"{len(nodes)} storage node(s) online")
    bad = [d for d in drives if d.get("state") not in ("ok", "online") or not d.get("ok", True)]
    if bad:
        lvl = CRITICAL if not q.get("write", True) else WARNING
        rep.add(
            lvl,
            f"{len(bad)} of {len(drives)} drives not healthy: "
            + ", ".join(f"{d['id']} ({d.get('state')}{': ' + d['error'] if d.get('error') else ''})" for d in bad[:9])
            + (" ..." if len(bad) > 9 else ""),
        )
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
        out.append(
            {
                "id": d["id"],
                "node_id": d.get("node_id"),
                "total": total,
                "free": free,
                "used": d.get("used"),
                "pct": pct,
                "ok": d.get("ok", True) and d.get("state") in (None, "ok", "online"),
            }
        )
    return out
