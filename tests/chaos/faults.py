"""The fault schedule, played while the workload runs, and the deterministic probes.

Faults (one at a time, each held for a while, then undone; the next starts once the
cluster is whole again):

* ``kill_node``: SIGKILL a node, restart it on the same data;
* ``kill_gateway``: SIGKILL a gateway, restart it on the same port;
* ``freeze_node``: SIGSTOP a node (it accepts connections, never answers), then SIGCONT;
* ``bitrot``: flip bytes in the blocks of random shard files (past the 256-byte header),
  at most one shard of any shard set over the whole run;
* ``full_disk``: restart a node with ``--reserve-mb`` larger than its disk (every new
  shard refused with DiskFull), then restart it normally;
* ``postgres_restart``: stop PostgreSQL (``-m fast`` or ``-m immediate``: a crash), start it.

Probes (a few requests whose outcome does not depend on timing, so the checks they feed
fail every run while a defect is there, and pass once it is fixed):

* ``probe_uploads_given_up`` (during ``freeze_node``): shard uploads sent straight to the
  frozen node, their connections dropped before it resumes (as a gateway's stall timeout
  drops them);
* ``probe_degraded_writes`` (during ``kill_node``, once every gateway has seen the node
  down): a PUT and a multipart upload, each with a shard on the dead node missing;
* ``probe_read_during_overwrite``: a large GET on gateway 0 reads its first MiB, the key
  is overwritten through gateway 1, the GET pauses (well within the GC grace and the
  gateway's 30 s idle timeout), then reads the rest: it must get the whole old version;
* ``probe_part_intents`` (after the faults): a multipart upload, then whether the write
  intents of its parts are still open.

Holding a fault is a plain sleep: the workload runs meanwhile; nothing is asserted after it.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nodes.protocol import AUTH_HEADER, BODY_MACS, sign_request
from tests.chaos.conftest import FULL_DISK_RESERVE_MB, GC_GRACE, NODE_READ_TIMEOUT, ORPHAN_GRACE, ChaosCluster, data_ids
from tests.chaos.ledger import Ledger
from tests.chaos.workload import PART, PLAIN, MiB, Stream, body, multipart, put, s3_client
from tests.cluster.conftest import SECRET
from tests.waiting import deadline


def corrupt(path: str) -> str:
    """Flip bytes inside the blocks of a shard file (past its 256-byte header), as
    tests/cluster/test_cluster.py does; returns the SHA-256 of the corrupt file."""
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    for off in range(256 + 40, len(raw), 65536):
        raw[off] ^= 0x5A
    with open(path, "wb") as f:
        f.write(raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass
class Chaos:
    """What the schedule needs: the cluster, the ledger, a random source, and what it did."""

    cluster: ChaosCluster
    ledger: Ledger
    rng: random.Random
    hold: tuple[float, float] = (4.0, 6.0)  # seconds a fault is held (uniform)
    bitrot_files: int = 6  # shard files corrupted per bitrot fault
    #: shard path -> (data id, shard index, SHA-256 of the corrupt file)
    corrupted: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    probes: dict[str, Any] = field(default_factory=dict)

    def s3(self, gateway: int):
        return s3_client(self.cluster.urls[gateway])

    def pause(self) -> None:
        time.sleep(self.rng.uniform(*self.hold))

    def count(self, fault: str) -> None:
        self.faults[fault] = self.faults.get(fault, 0) + 1


# --------------------------------------------------------------------------- faults


def kill_node(ch: Chaos) -> None:
    c = ch.cluster
    i = ch.rng.randrange(c.nodes.n)
    c.kill_node(i)
    c.wait_online(c.nodes.n - 1)
    probe_degraded_writes(ch)
    ch.pause()
    c.start_node(i)
    c.wait_online(c.nodes.n)


def kill_gateway(ch: Chaos) -> None:
    c = ch.cluster
    g = ch.rng.randrange(len(c.gateways))
    ch.ledger.gateway_kills.append((g, c.kill_gateway(g)))
    ch.pause()
    c.start_gateway(g)
    c.log(f"start gateway {g}")
    c.wait_online(c.nodes.n)


def freeze_node(ch: Chaos) -> None:
    c = ch.cluster
    i = ch.rng.randrange(c.nodes.n)
    c.freeze_node(i)
    try:
        given_up = probe_uploads_given_up(ch, i)
        # long enough for reads to time out on it and the probes to mark it down
        time.sleep(max(ch.rng.uniform(*ch.hold), 2 * NODE_READ_TIMEOUT))
        for sock in given_up:  # what a gateway's stall timeout does: the connection is dropped
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
    finally:
        c.thaw_node(i)
    c.wait_online(c.nodes.n)


def bitrot(ch: Chaos) -> None:
    """Corrupt ``bitrot_files`` shard files of distinct shard sets never corrupted before (so no
    object ever has more than one corrupt shard from this fault)."""
    c = ch.cluster
    done = {d for d, _, _ in ch.corrupted.values()}
    files = [(d, p) for d, paths in c.shard_files().items() if d not in done for p in paths]
    ch.rng.shuffle(files)
    picked: dict[str, str] = {}
    for d, p in files:
        if d not in picked and os.path.getsize(p) > 4096:
            picked[d] = p
        if len(picked) == ch.bitrot_files:
            break
    for d, p in picked.items():
        try:
            ch.corrupted[p] = (d, int(p.rsplit(".", 1)[1]), corrupt(p))
        except FileNotFoundError:
            pass  # garbage-collected meanwhile
    c.log(f"bitrot in {len(picked)} shard files")


def full_disk(ch: Chaos) -> None:
    c = ch.cluster
    i = ch.rng.randrange(c.nodes.n)
    c.kill_node(i)
    c.start_node(i, reserve_mb=FULL_DISK_RESERVE_MB)
    c.wait_online(c.nodes.n)
    ch.pause()
    c.kill_node(i)
    c.start_node(i)
    c.wait_online(c.nodes.n)


def postgres_restart(ch: Chaos, mode: str = "") -> None:
    """``mode``: ``fast`` (a clean shutdown) or ``immediate`` (a crash: WAL replay at start); default
    either at random."""
    c = ch.cluster
    c.stop_postgres(mode or ch.rng.choice(["fast", "immediate"]))
    ch.pause()
    c.start_postgres()
    c.wait_serving()


FAULTS: dict[str, Callable[..., None]] = {
    "bitrot": bitrot,
    "kill_node": kill_node,
    "freeze_node": freeze_node,
    "kill_gateway": kill_gateway,
    "full_disk": full_disk,
    "postgres_restart": postgres_restart,
}


def play(ch: Chaos, name: str, **kw: Any) -> None:
    ch.count(name)
    FAULTS[name](ch, **kw)


# --------------------------------------------------------------------------- probes


def probe_degraded_writes(ch: Chaos) -> None:
    """With a node down (every gateway knows): a PUT and a multipart upload through gateway 0;
    both miss a shard. Recorded in the ledger under keys of their own."""
    n = ch.probes.setdefault("degraded_writes", 0) + 1
    ch.probes["degraded_writes"] = n
    s3 = ch.s3(0)
    data, sha = body(ch.rng, 3 * MiB)
    put(s3, ch.ledger, 0, PLAIN, f"probe/degraded-put-{n}", data, sha, probe="degraded_put")
    data, sha = body(ch.rng, PART + MiB)
    multipart(s3, ch.ledger, 0, PLAIN, f"probe/degraded-mpu-{n}", data, sha, probe="degraded_mpu")


def probe_uploads_given_up(ch: Chaos, i: int, count: int = 3) -> list[socket.socket]:
    """While node ``i`` is frozen: shard uploads as a gateway sends them (signed with the cluster
    secret), their bodies not finished; the caller drops the connections, as a gateway's stall
    timeout does, before the node resumes. The node must leave no temp file for them."""
    node = ch.cluster.nodes.nodes[i]
    socks = []
    for j in range(count):
        path = f"/v1/drives/d1/shards/chaos-probe-{secrets.token_hex(8)}.{j}?block_size=65536&hash=sha256"
        auth = sign_request(SECRET.encode(), "PUT", path, body=BODY_MACS[0])[0]
        sock = socket.create_connection(("127.0.0.1", node.port), timeout=10)
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: {node.node_id}\r\n{AUTH_HEADER}: {auth}\r\nContent-Length: {1 << 20}\r\n\r\n"
        )
        sock.sendall(head.encode() + bytes(4096))
        socks.append(sock)
    ch.probes["uploads_given_up"] = ch.probes.get("uploads_given_up", 0) + count
    return socks


def probe_read_during_overwrite(ch: Chaos, size: int = 40 * MiB) -> dict[str, Any]:
    """A GET that has started must return the whole version it started with, even when the key is
    overwritten on another gateway and the old version's shards are garbage-collected meanwhile.

    The object is large enough that what the gateway has read ahead and the sockets hold (about
    16 MiB here) is well short of the whole body."""
    c = ch.cluster
    n = len(ch.probes.setdefault("read_during_overwrite", [])) + 1
    key = f"probe/read-during-overwrite-{n}"
    a, b = ch.s3(0), ch.s3(1 % len(c.gateways))
    data, sha = body(ch.rng, size)
    first = put(a, ch.ledger, 0, PLAIN, key, data, sha, probe="read_during_overwrite")
    result: dict[str, Any] = {"key": key, "written": bool(first.ok)}
    ch.probes["read_during_overwrite"].append(result)
    if not first.ok:
        return result
    old = {
        d
        for *_, lay in c.layouts(f"AND bucket = '{PLAIN}' AND key = convert_to('{key}', 'UTF8')")
        for d in data_ids(lay)
    }
    stream = Stream(a, ch.ledger, 0, PLAIN, key, probe="read_during_overwrite")
    stream.read(MiB)
    data, sha = body(ch.rng, 3 * MiB)
    second = put(b, ch.ledger, 1 % len(c.gateways), PLAIN, key, data, sha, probe="read_during_overwrite")
    # a store that collected the old shards at once would remove them now; one that keeps them for
    # the GC grace (GC_GRACE) does not. The pause stays short of that grace and of the gateway's
    # 30 s idle timeout for a client that stops reading (which would end the response, rightly).
    end = deadline(min(8.0, GC_GRACE / 3))
    while time.monotonic() < end and any(d in c.shard_files() for d in old):
        time.sleep(0.2)
    result["old_shards_collected"] = not any(d in c.shard_files() for d in old)
    result["overwrite_acked"] = bool(second.ok)
    result["outcome"] = stream.finish()
    result["got"], result["length"], result["cut_error"] = stream.r.got, stream.r.length, stream.r.cut_error
    return result


def probe_part_intents(ch: Chaos, attempts: int = 3) -> dict[str, Any]:
    """A multipart upload with nothing failing; then whether its parts' write intents are still open.

    An intent stays until the orphan reaper drops it once it is older than the grace period (it
    finds the data referenced), so "gone" is conclusive only while the parts are younger than that:
    otherwise the probe is repeated."""
    c = ch.cluster
    result: dict[str, Any] = {"outcome": "inconclusive"}
    for n in range(1, attempts + 1):
        key = f"probe/part-intents-{n}"
        data, sha = body(ch.rng, PART + MiB)
        t0 = time.monotonic()
        op = multipart(ch.s3(0), ch.ledger, 0, PLAIN, key, data, sha, probe="part_intents")
        if not op.ok:
            continue
        ids = {
            d
            for *_, lay in c.layouts(f"AND bucket = '{PLAIN}' AND key = convert_to('{key}', 'UTF8')")
            for d in data_ids(lay)
        }
        open_ = ids & c.write_intents()
        young = time.monotonic() - t0 < ORPHAN_GRACE * 0.75
        result = {"key": key, "parts": len(ids), "open_intents": len(open_)}
        if open_:
            result["outcome"] = "kept"
            break
        if young:
            result["outcome"] = "cleared"
            break
    return result


# --------------------------------------------------------------------------- schedules


def short_schedule(ch: Chaos) -> None:
    """One of each fault, in a fixed order (bitrot first, so the run's reads meet it; PostgreSQL
    crashed rather than shut down)."""
    for name in ("bitrot", "kill_node", "freeze_node", "kill_gateway", "full_disk", "postgres_restart"):
        play(ch, name, **({"mode": "immediate"} if name == "postgres_restart" else {}))
        time.sleep(1.0)
    probe_read_during_overwrite(ch)


def long_schedule(ch: Chaos, seconds: float) -> None:
    """Rounds of every fault in a random order, with pauses between, until ``seconds`` have passed
    (the fault in progress is finished, the rest of its round dropped); the read probe after each
    round."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        names = list(FAULTS)
        ch.rng.shuffle(names)
        for name in names:
            play(ch, name)
            time.sleep(ch.rng.uniform(1.0, 8.0))
            if time.monotonic() >= end:
                break
        probe_read_during_overwrite(ch)
