"""The ledger of a chaos run: every write and delete sent, what the store answered, and
every read checked against what may legitimately be there.

Writes to one key are serialised (a client claims the key before it writes and releases
it after the answer), so "the latest acknowledged write" of a key is well defined. A write
answered with an error (a 503, a connection cut by a killed gateway) has an *unknown
outcome*: it may have committed before the answer was lost. The states a read may see
are therefore the result of the last operation acknowledged before the read began, plus
the result of every operation on the key that was sent before the read ended (in flight,
acknowledged meanwhile, or failed with an unknown outcome).

A read that answers 200 must return one of those states' bytes, in full: a body with
other bytes is *corrupt*, a body shorter than its Content-Length is *cut short*, a 404
where every possible state has bytes is *missing*.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

#: the state of a key with no live version (never written, deleted, a delete marker on top)
ABSENT = "absent"


@dataclass
class Op:
    """One write or delete sent to the store."""

    seq: int
    bucket: str
    key: str
    kind: str  # put / mpu (multipart upload) / delete (plain delete or delete marker) / delete_version
    gateway: int
    start: float  # time.monotonic() when sent
    sha: str = ""  # put / mpu: SHA-256 of the whole body
    size: int = 0
    target: str = ""  # delete_version: the version id removed
    probe: str = ""  # set for the schedule's deterministic probes (see faults.py)
    end: float | None = None
    ok: bool | None = None  # None: in flight
    code: str = ""  # the error code of a failed op
    maybe: bool = True  # failed: may still have taken effect (the request reached a gateway)
    version_id: str = ""  # acked put / mpu: its version id; delete in a versioned bucket: the marker's

    @property
    def state(self) -> str:
        """What the key's latest version is once this op took effect (delete_version leaves it alone:
        the workload only removes versions that are not the latest)."""
        return self.sha if self.kind in ("put", "mpu") else ABSENT

    @property
    def writes(self) -> bool:
        return self.kind in ("put", "mpu")

    def describe(self) -> str:
        what = f"{self.kind} #{self.seq} of {self.bucket}/{self.key}"
        if self.writes:
            what += f" ({self.size} B, sha256 {self.sha[:16]}…)"
        if self.target:
            what += f" (version {self.target})"
        if self.version_id:
            what += f" -> version {self.version_id}"
        outcome = "in flight" if self.ok is None else ("acked" if self.ok else f"failed {self.code}")
        return f"{what}, {outcome}"


@dataclass
class ReadResult:
    """One GET as the client saw it."""

    bucket: str
    key: str
    gateway: int
    start: float
    end: float
    version_id: str = ""  # GET of one version; "" for the latest
    status: int = 0  # HTTP status of the answer (0: no answer)
    code: str = ""  # error code, or the exception's name when there was no answer
    sha: str = ""  # 200 read in full: SHA-256 of the body
    got: int = 0  # bytes received
    length: int = -1  # Content-Length announced
    cut_error: str = ""  # 200 whose body ended early: what the client saw
    probe: str = ""


@dataclass
class Finding:
    """A read or a final check that went wrong, with what was expected and what came."""

    category: str  # corrupt / missing / cut_short / cut_short_overwrite / lost / unexpected_version ...
    bucket: str
    key: str
    version_id: str
    expected: str
    got: str
    when: str = ""

    def __str__(self) -> str:
        v = f" version {self.version_id}" if self.version_id else ""
        return f"{self.category}: {self.bucket}/{self.key}{v}{self.when}: expected {self.expected}; got {self.got}"


def describe_states(states: list[str]) -> str:
    names = [s if s == ABSENT else f"sha256 {s[:16]}…" for s in dict.fromkeys(states)]
    return " or ".join(names) if names else "nothing"


@dataclass
class Ledger:
    """Thread-safe record of every operation; the clients and the checks share it."""

    ops: dict[tuple[str, str], list[Op]] = field(default_factory=dict)
    claimed: set[tuple[str, str]] = field(default_factory=set)
    reads: Counter = field(default_factory=Counter)  # outcome -> count
    errors: Counter = field(default_factory=Counter)  # error code -> count (every op and read)
    findings: list[Finding] = field(default_factory=list)
    #: (gateway index, monotonic time) of every SIGKILL of a gateway: a read it was serving ends early
    gateway_kills: list[tuple[int, float]] = field(default_factory=list)
    #: monotonic time the faults started (the fault log's 0 s), to place a finding among the events
    t0: float = 0.0
    _seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- writers -------------------------------------------------------------------
    def claim(self, bucket: str, key: str) -> bool:
        """Take the key for one write (False: another client is writing it)."""
        with self._lock:
            if (bucket, key) in self.claimed:
                return False
            self.claimed.add((bucket, key))
            return True

    def release(self, bucket: str, key: str) -> None:
        with self._lock:
            self.claimed.discard((bucket, key))

    def begin(self, bucket: str, key: str, kind: str, gateway: int, **fields: object) -> Op:
        with self._lock:
            self._seq += 1
            op = Op(self._seq, bucket, key, kind, gateway, time.monotonic(), **fields)  # type: ignore[arg-type]
            self.ops.setdefault((bucket, key), []).append(op)
            return op

    def finish(self, op: Op, ok: bool, code: str = "", version_id: str = "", maybe: bool = True) -> None:
        with self._lock:
            op.end, op.ok, op.code, op.version_id, op.maybe = time.monotonic(), ok, code, version_id, maybe
            if not ok:
                self.errors[code] += 1

    # -- views ---------------------------------------------------------------------
    def key_ops(self, bucket: str, key: str) -> list[Op]:
        with self._lock:
            return list(self.ops.get((bucket, key), ()))

    def key_list(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self.ops)

    def all_ops(self) -> list[Op]:
        with self._lock:
            return [op for ops in self.ops.values() for op in ops]

    @staticmethod
    def _base(ops: list[Op], before: float) -> int:
        """Index of the last op acknowledged before ``before`` (-1: none)."""
        base = -1
        for i, op in enumerate(ops):
            if op.ok and op.end is not None and op.end <= before and op.kind != "delete_version":
                base = i
        return base

    def latest_states(self, bucket: str, key: str, start: float, end: float) -> tuple[str, list[str]]:
        """(the state the last acknowledged op left, every state a read in [start, end] may see)."""
        ops = [op for op in self.key_ops(bucket, key) if op.kind != "delete_version"]
        base = self._base(ops, start)
        settled = ops[base].state if base >= 0 else ABSENT
        states = [settled]
        for op in ops[base + 1 :]:
            if op.start <= end and (op.ok or (op.ok is None) or op.maybe):
                states.append(op.state)
        return settled, states

    def version_states(self, bucket: str, key: str, version_id: str, end: float) -> tuple[str, list[str]]:
        """The same for one version: its bytes, or gone if a delete of it was sent before ``end``."""
        ops = self.key_ops(bucket, key)
        put = next((op for op in ops if op.writes and op.ok and op.version_id == version_id), None)
        settled = put.sha if put is not None else ABSENT
        states = [settled]
        for op in ops:
            if op.kind == "delete_version" and op.target == version_id and op.start <= end:
                if op.ok and op.end is not None and op.end <= end:
                    settled = ABSENT
                states.append(ABSENT)
        return settled, states

    def overwritten_during(self, bucket: str, key: str, start: float, end: float, version_id: str = "") -> bool:
        """Whether an op that replaces or removes what a read in [start, end] was returning was sent
        before the read ended and had not finished before it began."""
        for op in self.key_ops(bucket, key):
            replaces = op.kind != "delete_version" if not version_id else op.target == version_id
            if replaces and op.start <= end and (op.end is None or op.end >= start):
                return True
        return False

    def gateway_killed(self, gateway: int, start: float, end: float) -> bool:
        with self._lock:
            return any(g == gateway and start <= t <= end for g, t in self.gateway_kills)

    # -- reads ---------------------------------------------------------------------
    def check_read(self, r: ReadResult) -> str:
        """Classify one read against the ledger; findings are recorded. Returns the outcome."""
        if r.version_id:
            _, states = self.version_states(r.bucket, r.key, r.version_id, r.end)
        else:
            _, states = self.latest_states(r.bucket, r.key, r.start, r.end)
        v = f" (version {r.version_id})" if r.version_id else ""
        at = f", at {r.start - self.t0:.1f}s of the fault log" if self.t0 else ""
        when = f" [GET{v} on gateway {r.gateway}, {r.end - r.start:.1f}s{at}]"
        if r.cut_error:
            if self.gateway_killed(r.gateway, r.start, r.end):
                outcome = "cut_by_gateway_kill"
            elif self.overwritten_during(r.bucket, r.key, r.start, r.end, r.version_id):
                outcome = "cut_short_overwrite"
            else:
                outcome = "cut_short"
            if outcome != "cut_by_gateway_kill":
                self._find(
                    Finding(
                        outcome,
                        r.bucket,
                        r.key,
                        r.version_id,
                        f"{r.length} bytes (200, Content-Length)",
                        f"{r.got} bytes, then {r.cut_error}",
                        when + (f" probe {r.probe}" if r.probe else ""),
                    )
                )
        elif r.status == 200:
            outcome = "ok" if r.sha in states else "corrupt"
            if outcome == "corrupt":
                self._find(
                    Finding(
                        "corrupt",
                        r.bucket,
                        r.key,
                        r.version_id,
                        describe_states(states),
                        f"200 with {r.got} bytes, sha256 {r.sha[:16]}…",
                        when,
                    )
                )
        elif r.status == 404 and r.code in ("NoSuchKey", "NoSuchVersion"):
            outcome = "ok" if ABSENT in states else "missing"
            if outcome == "missing":
                self._find(
                    Finding("missing", r.bucket, r.key, r.version_id, describe_states(states), f"404 {r.code}", when)
                )
        else:
            outcome = "error"
            with self._lock:
                self.errors[r.code or str(r.status)] += 1
        with self._lock:
            self.reads[outcome] += 1
        return outcome

    def _find(self, f: Finding) -> None:
        with self._lock:
            self.findings.append(f)

    def found(self, *categories: str) -> list[Finding]:
        with self._lock:
            return [f for f in self.findings if f.category in categories]
