"""Repair: the heal queue worker, the background scanner, the orphan reaper,
and the on-demand heal behind ``s3gw admin heal``.

* Heal queue (``heal_queue`` table, durable): versions whose shards were found
  missing or corrupt on a read, or that missed shards on a write. The worker
  verifies each one deeply and rebuilds its bad shards onto their drives (or
  onto a replacement drive when the original is gone from the set, storing the
  new placement). Shards on drives that are merely down are retried with
  backoff; an object with fewer than k good shards is kept as ``failed``.
  A shard set written with parity raised (drives were down) is re-encoded
  into the store's normal geometry once enough drives are online
  (``Repair._reencode``; docs/cluster.md).
* Scanner: walks every version at a throttled pace (``scan_pace`` seconds per
  object), checks its shards exist with the right geometry (``deep``: every
  block's hash, on the nodes) and queues what it finds. One pass every
  ``scan_interval`` seconds; every ``deep_every``-th pass is deep.
* Orphans: a write records an intent (data id and placement) before its first
  shard; committing the version clears it. An intent older than
  ``orphan_grace`` whose data id no stored layout references is a write that
  never committed (a gateway killed mid-PUT): its shards are deleted.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..common.records import ObjectLayout, ShardSet
from ..meta.base import MetaStore
from ..meta.model import VersionRecord
from ..storage import InsufficientReadQuorum, Storage, shard_name

log = logging.getLogger(__name__)

RETRY_MIN = 5.0
RETRY_MAX = 600.0
UNRECOVERABLE_AFTER = 4  # heal attempts that found < k shards before an object is marked failed


def retry_delay(attempts: int) -> float:
    """Backoff before healing an item again: 5 s doubling, at most 10 min.

    >>> [retry_delay(a) for a in (0, 1, 2, 10)]
    [5.0, 10.0, 20.0, 600.0]
    """
    return min(RETRY_MAX, RETRY_MIN * 2**attempts)


#: heal_version's outcomes, from best to worst (a version's is its worst shard set's)
RANK = {"ok": 0, "healed": 1, "bad": 2, "offline": 3, "failed": 4, "unrecoverable": 5}


def _segment(rec: VersionRecord, index: int) -> str:
    """How a log line names shard set ``index`` of a version: "part N" or "the object"."""
    parts = rec.layout.parts if rec.layout is not None else None
    return f"part {parts[index].number}" if parts else "the object"


class _IntentKeeper:
    """Refreshes a write intent while a long re-encode runs (at most every
    ``every`` seconds), so the orphan reaper never takes it for a crashed write."""

    def __init__(self, meta: MetaStore, data_id: str, every: float) -> None:
        self.meta, self.data_id, self.every = meta, data_id, every
        self.last = time.monotonic()

    async def tick(self) -> None:
        if time.monotonic() - self.last >= self.every:
            await self.touch()

    async def touch(self) -> None:
        await self.meta.touch_writes([self.data_id])
        self.last = time.monotonic()


@dataclass
class HealSummary:
    """Counters of one heal or scan pass (what ``admin heal`` prints)."""

    scanned: int = 0  # versions looked at (inline ones and delete markers included)
    healthy: int = 0
    healed: int = 0
    queued: int = 0  # scanner: queued for the heal worker
    would_heal: int = 0  # dry run: found bad
    offline: int = 0  # shards on drives that are down: retried later
    failed: int = 0
    unrecoverable: int = 0
    shards_healed: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None
    current: str = ""
    problems: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- heal sequences (mc admin heal)

#: a finished heal sequence is kept this long for its last status poll
SEQUENCE_KEEP = 600.0


@dataclass
class DriveHeal:
    """One drive of a version's erasure set, as a heal sequence saw it:
    ``ok``, ``missing``, ``corrupt`` or ``offline``, before and after."""

    endpoint: str
    before: str
    after: str


@dataclass
class HealItem:
    """One version a heal sequence looked at, with the state of each of its drives."""

    result_id: int
    bucket: str
    key: str
    version_id: str
    size: int
    outcome: str  # heal_version's: ok, healed, bad, offline, failed, unrecoverable
    detail: str
    data_blocks: int
    parity_blocks: int
    drives: list[DriveHeal]


@dataclass
class HealSequence:
    """One ``mc admin heal -r`` run: walked in a task, items kept until polled."""

    token: str
    bucket: str
    prefix: str
    deep: bool = False
    dry_run: bool = False
    client_settings: Any = None  # what the client asked, opaque here (echoed in its status answers)
    started: float = field(default_factory=time.time)
    items: list[HealItem] = field(default_factory=list)
    status: str = "running"  # running / finished / stopped
    detail: str = ""
    count: int = 0
    task: asyncio.Task[None] | None = None
    done_at: float | None = None

    def take_items(self) -> list[HealItem]:
        """The items found since the last call."""
        items, self.items = self.items, []
        return items

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()


class Repair:
    def __init__(
        self,
        meta: MetaStore,
        storage: Storage,
        *,
        heal_interval: float = 5.0,
        scan_interval: float = 3600.0,
        scan_pace: float = 0.01,
        deep_every: int = 0,
        orphan_grace: float = 3600.0,
        orphan_interval: float | None = None,
    ) -> None:
        self.meta = meta
        self.storage = storage
        self.heal_interval = heal_interval
        self.scan_interval = scan_interval
        self.scan_pace = scan_pace
        self.deep_every = deep_every
        self.orphan_grace = orphan_grace
        self.orphan_interval = orphan_interval or max(1.0, min(60.0, orphan_grace / 4))
        self.last_scan: HealSummary | None = None
        self.scan_running: HealSummary | None = None
        self.admin_heal: HealSummary | None = None
        self.worker_totals = {"healed": 0, "retried": 0, "failed": 0}
        self.orphans_removed = 0
        self.sequences: dict[str, HealSequence] = {}
        self.sequence_totals = {"healed": 0, "failed": 0}  # objects healed / not healable by heal sequences
        self.drive_heal: HealSummary | None = None  # the last heal pass for drives formatted while running
        self._online_epoch = storage.online_epoch
        self._wakeup = asyncio.Event()

    # -- one version ------------------------------------------------------------

    async def heal_version(
        self, rec: VersionRecord, *, deep: bool = True, dry_run: bool = False, verify_only: bool = False
    ) -> tuple[str, int, str]:
        """(outcome, shards rebuilt, detail) for one version. Outcomes: ``ok``,
        ``healed``, ``bad`` (verify_only / dry_run found bad shards),
        ``offline``, ``failed``, ``unrecoverable``."""
        if rec.layout is None:
            return "ok", 0, ""
        outcome, rebuilt, details = "ok", 0, []
        new_layout = rec.layout
        rank = RANK
        moved: dict[str, dict[int, str]] = {}  # data id -> shard index -> the drive it left
        in_place: list[tuple[ShardSet, list[int]]] = []  # shards rebuilt where they belong
        st = self.storage
        # shard sets written with parity raised (drives were down): re-encoded
        # into the normal geometry once enough drives are online (_reencode)
        raised = [i for i, lay in enumerate(rec.layout.layouts()) if st.raised(lay)]
        reencode = bool(raised) and st.can_reencode()
        for index, lay in enumerate(rec.layout.layouts()):
            if index in raised and reencode:
                if verify_only or dry_run:
                    details.append(f"{_segment(rec, index)} is {lay.k}+{lay.m}: to re-encode as {st.k}+{st.m}")
                    outcome = outcome if rank[outcome] >= rank["bad"] else "bad"
                continue  # (rebuilding its missing shards first would be wasted work)
            if verify_only:
                bad = await st.verify(lay, deep)
                seg = "bad" if bad else "ok"
                if bad:
                    details.append(f"shards {bad} bad")
            else:
                res = await st.heal_object(lay, deep=deep, dry_run=dry_run)
                rebuilt += len(res.healed)
                if res.unrecoverable:
                    seg = "unrecoverable"
                elif res.failed:
                    seg = "failed"
                elif res.offline:
                    seg = "offline"
                elif dry_run and res.bad:
                    seg = "bad"
                elif res.healed:
                    seg = "healed"
                else:
                    seg = "ok"
                if res.bad:
                    details.append(f"bad {res.bad} healed {res.healed} offline {res.offline} failed {res.failed}")
                if res.layout is not None:
                    new_layout = new_layout.with_layout(index, res.layout)
                    moved[lay.data_id] = res.moved
                    details.append(f"moved shards {sorted(res.moved)}")
                elif res.healed and not dry_run:
                    in_place.append((lay, list(res.healed)))
            if index in raised and seg in ("ok", "healed"):
                # heal again once every drive is back, to re-encode it
                details.append(f"{_segment(rec, index)} is {lay.k}+{lay.m}: re-encoded when enough drives are online")
                seg = "offline"
            if rank[seg] > rank[outcome]:
                outcome = seg
        if new_layout is not rec.layout:
            stored = await self.meta.update_layout(rec.bucket, rec.key, rec.version_id, rec.layout, new_layout)
            await self._settle_moves(new_layout, moved, stored)
            if not stored:
                details.append("object changed while healing: new placement not stored")
                log.warning("heal of %s/%s: layout changed underneath, new placement dropped", rec.bucket, rec.key)
                outcome = "failed" if rank[outcome] < rank["failed"] else outcome
            else:
                rec.layout = new_layout
        for lay, healed in in_place:
            await self._drop_if_collected(rec, lay, healed)
        if reencode and not (verify_only or dry_run) and rank[outcome] < rank["failed"]:
            seg, n, detail = await self._reencode(rec, raised)
            rebuilt += n
            details.append(detail)
            if rank[seg] > rank[outcome]:
                outcome = seg
        return outcome, rebuilt, "; ".join(details)

    async def _reencode(self, rec: VersionRecord, indices: list[int]) -> tuple[str, int, str]:
        """Write each raised-parity shard set ``indices`` of ``rec`` (the object's,
        or a part's) again in the normal geometry, a part at a time: a new shard
        set under a write intent (a crash leaves nothing the orphan reaper does
        not find), then the version's layout swapped by compare-and-swap, the old
        shard set queued for GC in the same transaction (so a read in progress
        keeps it for the GC grace). Lost the race (the version was overwritten
        or deleted meanwhile): the new shards go. Returns (outcome, shards
        written, detail); ``rec.layout`` is the stored layout afterwards."""
        st, meta = self.storage, self.meta
        written, done = 0, []
        for index in indices:
            assert rec.layout is not None
            old = rec.layout.layouts()[index]
            what = _segment(rec, index)
            data_id = uuid.uuid4().hex
            placement = st.new_placement(data_id)
            await meta.begin_write(data_id, placement)
            keeper = _IntentKeeper(meta, data_id, min(60.0, self.orphan_grace / 3))
            try:
                new = await st.reencode(old, data_id, placement, progress=keeper.tick)
                await keeper.touch()
                new_layout = rec.layout.with_layout(index, new)
                stored = await meta.update_layout(
                    rec.bucket, rec.key, rec.version_id, rec.layout, new_layout, garbage=[old]
                )
            except Exception as e:
                log.warning("re-encode of %s/%s (%s) failed: %s", rec.bucket, rec.key, what, e)
                await self._drop_new(data_id, placement)
                seg = "unrecoverable" if isinstance(e, InsufficientReadQuorum) else "failed"
                return seg, written, "; ".join([*done, f"{what}: re-encode failed: {type(e).__name__}: {e}"])
            if not stored:
                log.info("re-encode of %s/%s: the version changed meanwhile; new shards dropped", rec.bucket, rec.key)
                await self._drop_new(data_id, placement)
                return "failed", written, "; ".join([*done, "object changed while re-encoding: new layout not stored"])
            await meta.end_write([data_id])
            rec.layout = new_layout
            written += new.n
            done.append(f"{what} re-encoded from {old.k}+{old.m} to {new.k}+{new.m}")
            log.info("re-encoded %s/%s (%s) from %d+%d to %d+%d", rec.bucket, rec.key, what, old.k, old.m, new.k, new.m)
        return "healed", written, "; ".join(done)

    async def _drop_if_collected(self, rec: VersionRecord, lay: ShardSet, healed: list[int]) -> None:
        """Shards rebuilt in place for a version that was replaced meanwhile. Still
        referenced: the GC of a later replacement removes them with the rest. No
        longer referenced: the GC may have run between the heal's read and its
        write, so nothing would remove them -- the heal does (only the shards it
        wrote: the others are the GC's, kept for reads in progress)."""
        try:
            now = await self.meta.get_version(rec.bucket, rec.key, rec.version_id)
            if now is not None and now.layout is not None:
                if any(s.data_id == lay.data_id for s in now.layout.layouts()):
                    return
            st = self.storage
            for i in healed:
                drive = st.drive(lay.placement[i])
                if drive is not None and st.drive_online(lay.placement[i]):
                    await drive.delete_shard(shard_name(lay.data_id, i))
            log.info("heal of %s/%s: the version was replaced meanwhile; rebuilt shards removed", rec.bucket, rec.key)
        except Exception:
            log.warning("heal: removing the rebuilt shards of a replaced version failed", exc_info=True)

    async def _drop_new(self, data_id: str, placement: list[str]) -> None:
        """Remove the shards of a re-encode that was not stored; its write intent
        goes when every drive could be asked (else the orphan reaper finishes)."""
        try:
            if not await self.storage.delete_shards(data_id, placement):
                await self.meta.end_write([data_id])
        except Exception:
            log.warning("could not remove the shards of re-encode %s", data_id, exc_info=True)

    async def _settle_moves(self, new_layout: ObjectLayout, moved: dict[str, dict[int, str]], stored: bool) -> None:
        """After the layout compare-and-swap. Stored: a shard rebuilt on another
        drive leaves a stale copy on the drive it left (removed when that drive
        answers). Lost the race: the new copies are the ones that must go."""
        st = self.storage
        sets = {s.data_id: s for s in new_layout.layouts()}
        try:
            for data_id, shards in moved.items():
                for i, old_drive in shards.items():
                    target = old_drive if stored else sets[data_id].placement[i]
                    drive = st.drive(target)
                    if drive is not None and st.drive_online(target):
                        await drive.delete_shard(shard_name(data_id, i))
        except Exception:
            log.warning("heal: cleanup after moving shards failed", exc_info=True)

    # -- walking ----------------------------------------------------------------

    async def walk(self, bucket: str | None = None, prefix: str = "") -> AsyncIterator[VersionRecord]:
        """Every version (every bucket, or one bucket under a prefix), a page at a time."""
        buckets = [bucket] if bucket else [b.name for b in await self.meta.list_buckets()]
        for b in buckets:
            key_marker, version_marker = "", ""
            while True:
                page = await self.meta.list_versions(b, prefix, "", key_marker, version_marker, 500)
                for rec in page.entries:
                    yield rec
                if not page.truncated:
                    break
                key_marker, version_marker = page.next_marker, page.next_version_marker

    async def run_heal(
        self,
        bucket: str | None = None,
        prefix: str = "",
        *,
        deep: bool = False,
        dry_run: bool = False,
        progress: Callable[[HealSummary], Any] | None = None,
        pace: float = 0.0,
        summary: HealSummary | None = None,
    ) -> HealSummary:
        """Verify (and unless ``dry_run`` rebuild) every version under
        bucket/prefix, reporting progress; the admin heal (shown as
        ``admin_heal``, unless another ``summary`` is given to fill)."""
        s = summary or HealSummary()
        if summary is None:
            self.admin_heal = s
        last = 0.0
        async for rec in self.walk(bucket, prefix):
            s.scanned += 1
            s.current = f"{rec.bucket}/{rec.key}"
            try:
                outcome, rebuilt, detail = await self.heal_version(rec, deep=deep, dry_run=dry_run)
            except Exception as e:  # one bad object must not stop the pass
                log.exception("heal of %s failed", s.current)
                outcome, rebuilt, detail = "failed", 0, f"{type(e).__name__}: {e}"
            s.shards_healed += rebuilt
            self._count(s, outcome)
            if outcome != "ok":
                s.problems.append(
                    {"object": s.current, "version_id": rec.version_id, "outcome": outcome, "detail": detail}
                )
                del s.problems[:-1000]
            if outcome in ("ok", "healed") and not dry_run:
                await self.meta.clear_heal(rec.bucket, rec.key, rec.version_id)
            if progress is not None and time.monotonic() - last > 0.5:
                last = time.monotonic()
                await _maybe_await(progress(s))
            if pace:
                await asyncio.sleep(pace)
        s.finished = time.time()
        s.current = ""
        return s

    @staticmethod
    def _count(s: HealSummary, outcome: str) -> None:
        if outcome == "ok":
            s.healthy += 1
        elif outcome == "healed":
            s.healed += 1
        elif outcome == "bad":
            s.would_heal += 1
        elif outcome == "offline":
            s.offline += 1
        elif outcome == "failed":
            s.failed += 1
        else:
            s.unrecoverable += 1

    # -- heal sequences (mc admin heal) ---------------------------------------------

    def heal_sequence(self, token: str) -> HealSequence | None:
        self._expire_sequences()
        return self.sequences.get(token)

    def running_sequences(self, bucket: str, prefix: str) -> list[HealSequence]:
        """The sequences still walking exactly this bucket/prefix."""
        self._expire_sequences()
        return [
            s for s in self.sequences.values() if (s.bucket, s.prefix) == (bucket, prefix) and s.status == "running"
        ]

    def start_sequence(
        self, bucket: str, prefix: str, *, deep: bool = False, dry_run: bool = False, client_settings: Any = None
    ) -> HealSequence:
        """Start walking bucket/prefix (every bucket when empty) in a task; poll it by its token."""
        self._expire_sequences()
        seq = HealSequence(secrets.token_hex(16), bucket, prefix, deep, dry_run, client_settings)
        seq.task = asyncio.create_task(self._run_sequence(seq))
        self.sequences[seq.token] = seq
        return seq

    def stop_sequences(self) -> list[asyncio.Task[None]]:
        """Cancel every sequence still walking (shutdown); returns their tasks to await."""
        tasks = [s.task for s in self.sequences.values() if s.task is not None]
        for t in tasks:
            t.cancel()
        return tasks

    def _expire_sequences(self) -> None:
        now = time.time()
        for t in [t for t, s in self.sequences.items() if s.done_at and now - s.done_at > SEQUENCE_KEEP]:
            del self.sequences[t]

    async def _run_sequence(self, seq: HealSequence) -> None:
        try:
            async for rec in self.walk(seq.bucket or None, seq.prefix):
                if seq.status != "running":
                    return
                try:
                    outcome, rebuilt, detail = await self.heal_version(rec, deep=seq.deep, dry_run=seq.dry_run)
                except Exception as e:
                    outcome, rebuilt, detail = "failed", 0, f"{type(e).__name__}: {e}"
                if outcome == "healed":
                    self.sequence_totals["healed"] += 1
                elif outcome in ("unrecoverable", "failed"):
                    self.sequence_totals["failed"] += 1
                seq.count += 1
                k, parity = self._geometry(rec)
                seq.items.append(
                    HealItem(
                        seq.count,
                        rec.bucket,
                        rec.key,
                        rec.version_id,
                        rec.size,
                        outcome,
                        detail or outcome,
                        k,
                        parity,
                        self._drive_states(rec, outcome, rebuilt),
                    )
                )
                if seq.count % 100 == 0:
                    await asyncio.sleep(0)
            seq.status = "finished"
        except asyncio.CancelledError:
            seq.status, seq.detail = "stopped", "heal sequence stopped"
            raise
        except Exception as e:
            seq.status, seq.detail = "stopped", f"{type(e).__name__}: {e}"
        finally:
            seq.done_at = time.time()

    def _geometry(self, rec: VersionRecord) -> tuple[int, int]:
        """(data, parity) of a version's first shard set -- raised parity when it
        was written with drives down -- or the store's for one without shards."""
        segs = rec.layouts()
        k, m = (segs[0].k, segs[0].m) if segs else (self.storage.k, self.storage.m)
        return k, max(1, m)

    def _drive_states(self, rec: VersionRecord, outcome: str, rebuilt: int) -> list[DriveHeal]:
        """Each drive of the version's first shard set, before and after, as madmin's heal
        result shows them. The store does not record which shard was bad, so the outcome
        is spread over the healthy drives: ``rebuilt`` of them were missing (healed),
        one is (dry run found bad), parity + 1 are (unrecoverable: missing; failed:
        corrupt); drives down now are offline. A version without shards (inline, a
        delete marker) is shown on ``drive1..N``."""
        k, parity = self._geometry(rec)
        n = k + parity
        segs = rec.layouts()
        placement = list(segs[0].placement) if segs else []
        placement = (placement + [f"drive{i + 1}" for i in range(n)])[:n]
        before, after = ["ok"] * n, ["ok"] * n
        for i, d in enumerate(placement):
            if segs and not self.storage.drive_online(d):
                before[i] = after[i] = "offline"
        healthy = [i for i in range(n) if before[i] == "ok"]
        if outcome == "healed":
            for i in healthy[: rebuilt or 1]:
                before[i] = "missing"
        elif outcome == "bad":
            for i in healthy[:1]:
                before[i] = after[i] = "missing"
        elif outcome in ("unrecoverable", "failed"):
            for i in healthy[: parity + 1]:
                before[i] = after[i] = "missing" if outcome == "unrecoverable" else "corrupt"
        return [DriveHeal(d, b, a) for d, b, a in zip(placement, before, after)]

    # -- background work ----------------------------------------------------------

    def kick(self) -> None:
        self._wakeup.set()

    async def heal_worker(self) -> None:
        """Drain the heal queue (every ``heal_interval`` seconds, or when kicked).
        When a drive or node comes back, the items waiting out their backoff
        are due at once: what waited for it is healed now, not minutes later."""
        while True:
            try:
                await asyncio.wait_for(self._wakeup.wait(), self.heal_interval)
            except TimeoutError:
                pass
            self._wakeup.clear()
            try:
                epoch = self.storage.online_epoch
                if epoch != self._online_epoch:
                    await self.meta.heal_due_now()
                    self._online_epoch = epoch
                await self.drain_heal_queue()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("heal queue pass failed")

    async def drain_heal_queue(self, batch: int = 20) -> int:
        done = 0
        while True:
            items = await self.meta.take_heal(batch)
            if not items:
                return done
            for item in items:
                rec = await self.meta.get_version(item.bucket, item.key, item.version_id)
                if rec is None or rec.delete_marker:
                    await self.meta.finish_heal(item.id, "done")
                    continue
                try:
                    outcome, rebuilt, detail = await self.heal_version(rec, deep=True)
                except Exception as e:
                    outcome, rebuilt, detail = "failed", 0, f"{type(e).__name__}: {e}"
                if outcome in ("ok", "healed"):
                    await self.meta.finish_heal(item.id, "done")
                    self.worker_totals["healed"] += outcome == "healed"
                    if rebuilt:
                        log.info("healed %s/%s: %d shards", item.bucket, item.key, rebuilt)
                elif outcome == "unrecoverable" and item.attempts + 1 < UNRECOVERABLE_AFTER:
                    # fewer than k shards answered: a node that has just gone away can look like
                    # that before the health probes mark it offline, so retry before giving up
                    await self.meta.finish_heal(item.id, "retry", detail, time.time() + retry_delay(item.attempts))
                    self.worker_totals["retried"] += 1
                elif outcome == "unrecoverable":
                    log.error("%s/%s (%s) is unrecoverable: %s", item.bucket, item.key, item.version_id, detail)
                    await self.meta.finish_heal(item.id, "failed", detail)
                    self.worker_totals["failed"] += 1
                else:  # offline / failed: try again later
                    await self.meta.finish_heal(item.id, "retry", detail, time.time() + retry_delay(item.attempts))
                    self.worker_totals["retried"] += 1
                done += 1

    async def scan_once(self, deep: bool = False) -> HealSummary:
        """One throttled pass over every version, queueing what is bad."""
        s = HealSummary()
        self.scan_running = s
        try:
            async for rec in self.walk():
                s.scanned += 1
                s.current = f"{rec.bucket}/{rec.key}"
                if rec.layout:
                    try:
                        outcome, _, detail = await self.heal_version(rec, deep=deep, verify_only=True)
                    except Exception as e:
                        outcome, detail = "bad", f"{type(e).__name__}: {e}"
                    if outcome == "ok":
                        s.healthy += 1
                    else:
                        s.queued += 1
                        await self.meta.enqueue_heal(rec.bucket, rec.key, rec.version_id, f"scanner: {detail}"[:500])
                        self.kick()
                else:
                    s.healthy += 1
                if self.scan_pace:
                    await asyncio.sleep(self.scan_pace)
        finally:
            s.finished = time.time()
            s.current = ""
            self.scan_running = None
            self.last_scan = s
        return s

    async def scanner(self) -> None:
        cycle = 0
        while True:
            await asyncio.sleep(self.scan_interval)
            cycle += 1
            deep = bool(self.deep_every) and cycle % self.deep_every == 0
            try:
                s = await self.scan_once(deep)
                log.info(
                    "scan pass (%s): %d versions, %d queued for heal",
                    "deep" if deep else "shallow",
                    s.scanned,
                    s.queued,
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scanner pass failed")

    async def reap_orphans(self, batch: int = 100) -> int:
        """Remove the shards of writes that never committed; returns shard sets removed."""
        removed = 0
        stale = await self.meta.stale_writes(time.time() - self.orphan_grace, batch)
        for intent in stale:
            if await self.meta.data_referenced(intent.data_id):
                await self.meta.end_write([intent.data_id])  # committed; the intent was left over
                continue
            failed = await self.storage.delete_shards(intent.data_id, intent.placement)
            if failed:
                log.info("orphan %s: shards %s not removable yet", intent.data_id, failed)
                continue
            await self.meta.end_write([intent.data_id])
            log.info(
                "removed orphan shard set %s (write started %.0fs ago, never committed)",
                intent.data_id,
                time.time() - intent.started,
            )
            removed += 1
        self.orphans_removed += removed
        return removed

    async def orphan_worker(self) -> None:
        while True:
            await asyncio.sleep(self.orphan_interval)
            try:
                await self.reap_orphans()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("orphan pass failed")

    async def drive_heal_worker(self) -> None:
        """Heal the drives the embedded form formatted while running (a wiped or
        replaced drive: ``Storage.probe_local``): a heal pass over every version,
        at the scanner's pace, until one ends with nothing left offline or failed."""
        attempts = 0
        while True:
            await asyncio.sleep(self.heal_interval if not attempts else retry_delay(attempts))
            if not self.storage.healing:
                attempts = 0
                continue
            started = time.time()
            drives = sorted(self.storage.healing)
            log.info("healing drives %s: a heal pass over every version", drives)
            s = HealSummary()
            self.drive_heal = s
            try:
                await self.run_heal(pace=self.scan_pace, summary=s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("heal pass for drives %s failed", drives)
                attempts += 1
                continue
            if s.offline or s.failed:
                log.warning("heal pass for drives %s: %d offline, %d failed; again later", drives, s.offline, s.failed)
                attempts += 1
                continue
            attempts = 0
            self.storage.healed(drives, started)
            log.info(
                "drives %s healed: %d versions, %d healed, %d shards rebuilt, %d unrecoverable",
                drives,
                s.scanned,
                s.healed,
                s.shards_healed,
                s.unrecoverable,
            )

    def workers(self) -> list[Callable[[], Any]]:
        """The background loops to run for the life of the gateway."""
        return [self.heal_worker, self.scanner, self.orphan_worker, self.drive_heal_worker]

    # -- reporting ----------------------------------------------------------------

    def quorum(self) -> dict[str, Any]:
        """Whether a new write / a read can reach quorum with the drives online now."""
        st = self.storage
        return {
            "write": st.write_quorum_possible(),
            "read": st.read_quorum_possible(),
            "write_quorum": st.write_drives,
            "read_quorum": st.k,
        }

    async def info(self) -> dict[str, Any]:
        """What ``s3gw admin info`` shows: nodes, drives, healing state."""
        st = self.storage
        drives = await st.drive_health()
        nodes = (
            st.cluster.info()
            if st.cluster is not None
            else [
                {
                    "url": "(embedded)",
                    "node_id": "local",
                    "online": True,
                    "error": None,
                    "drives": [d.id for d in st.drives],
                }
            ]
        )
        try:
            stats = await self.meta.maintenance_stats()
        except Exception as e:
            stats = {"error": str(e)}
        return {
            # write_quorum: drives online for writes to be taken (parity is raised
            # with fewer than k+m); write_shards: shards a write must make durable
            # when every drive is up (k+1)
            "erasure": {
                "data": st.k,
                "parity": st.m,
                "write_quorum": st.write_drives,
                "write_shards": st.write_quorum,
                "read_quorum": st.k,
            },
            "quorum": {"write": st.write_quorum_possible(), "read": st.read_quorum_possible()},
            "nodes": nodes,
            "drives": [{**d, "state": st.drive_state(d["id"]), "status": st.drive_status(d["id"])} for d in drives],
            "healing": {
                **stats,
                "worker": dict(self.worker_totals),
                "orphans_removed": self.orphans_removed,
                "drives_healing": sorted(st.healing),
                "drives_formatted": st.formatted,
                "drive_heal": self.drive_heal.to_dict() if self.drive_heal else None,
                "scan_running": self.scan_running.to_dict() if self.scan_running else None,
                "last_scan": self.last_scan.to_dict() if self.last_scan else None,
                "admin_heal": self.admin_heal.to_dict() if self.admin_heal else None,
            },
        }


async def _maybe_await(x: Any) -> None:
    if asyncio.iscoroutine(x) or isinstance(x, asyncio.Future):
        await x
