"""After the faults: read back everything the ledger says must be there, wait for full
redundancy, check every block, look for orphans; and the figures of the run.

The order matters and is part of what is checked:

1. every acknowledged write is read back (the latest of every key; every acknowledged,
   undeleted version of the versioned bucket) and must be byte-exact. A read that meets
   a corrupt data shard queues the version for heal, as any client's read would;
2. full redundancy: ``s3gw admin heal --dry-run`` (every shard of every version present,
   right geometry) must come clean on its own — heal queue, no operator — within
   ``REDUNDANCY_DEADLINE`` of the end of the faults. When the heal queue is empty and
   problems remain, nothing will fix them (the scanner runs hourly): the wait ends there;
3. every block: ``admin heal --deep --dry-run``. What it finds must be bitrot the schedule
   injected into shards no read fetches (parity shards: reads fetch the data shards only),
   which is found by a deep scan alone (``--deep-scan-every``, or this): ``admin heal --deep``
   must repair it, and a second deep dry run must find nothing;
4. no orphans: once the GC queue and the write intents are empty (the reaper's grace
   passed), every shard file on the nodes belongs to a stored layout (a version, or a part
   of an upload in progress), and no temp file is left but those of a node's own crash (its
   sweeper removes them after an hour: docs/cluster.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

from tests.chaos.conftest import GC_GRACE, ORPHAN_GRACE, SHARD_HEADER, data_ids, missing_shards
from tests.chaos.faults import Chaos, probe_part_intents
from tests.chaos.ledger import ABSENT, Finding, Ledger, describe_states
from tests.chaos.workload import BUCKETS, VERSIONED, Stream, Workload, s3_client
from tests.waiting import SCALE, deadline, wait_until

K = 6  # data shards of the 6+3 code: shard indices below it are what a read fetches
#: the stated bound: every object back to full redundancy this long after the faults end
REDUNDANCY_DEADLINE = 300.0


@dataclass
class Report:
    """Everything a chaos run found; ``figures()`` is what ``make chaos`` prints."""

    seconds: float = 0.0
    clients: int = 0
    gateways: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    acked: Counter = field(default_factory=Counter)  # put / mpu / delete / delete_version
    acked_bytes: int = 0
    unknown: Counter = field(default_factory=Counter)  # failed ops that may have taken effect, by kind
    took_effect: int = 0  # of those, found in effect by the final reads
    reads: dict[str, int] = field(default_factory=dict)  # during the run, by outcome
    final_reads: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)  # str(Finding), by category below
    categories: dict[str, int] = field(default_factory=dict)
    redundancy_seconds: float | None = None  # every version whole again, after the faults ended
    settled_seconds: float | None = None  # the heal queue empty (what is left then stays)
    redundancy_left: list[dict[str, Any]] = field(default_factory=list)
    latent_bitrot: int = 0
    bitrot: dict[str, int] = field(default_factory=dict)  # injected corrupt shards, before the deep heal
    deep_unexplained: list[dict[str, Any]] = field(default_factory=list)
    scrub: dict[str, Any] = field(default_factory=dict)
    after_scrub: dict[str, Any] = field(default_factory=dict)
    heal_failed: int = 0
    leftovers: dict[str, Any] = field(default_factory=dict)
    orphans: list[str] = field(default_factory=list)
    orphans_heal_race: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)
    temp_after_freeze: list[str] = field(default_factory=list)
    temp_diagnosis: dict[str, str] = field(default_factory=dict)
    crash_leftovers: int = 0
    probes: dict[str, Any] = field(default_factory=dict)
    crashes: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds each verification step took

    def of(self, *categories: str) -> list[str]:
        return [f for f in self.findings if f.split(":", 1)[0] in categories]

    def left(self, kind: str) -> list[dict[str, Any]]:
        return [p for p in self.redundancy_left if p["kind"] == kind]

    def figures(self) -> str:
        lost = sum(self.categories.get(c, 0) for c in ("lost", "missing", "resurrected", "unreadable"))
        corrupt = self.categories.get("corrupt", 0) + self.categories.get("unexpected_version", 0)
        cut = {c: self.categories.get(c, 0) for c in ("cut_short_overwrite", "cut_short")}
        red = (
            f"{self.redundancy_seconds:.1f} s after the faults ended"
            if self.redundancy_seconds is not None
            else f"NOT reached: {len(self.redundancy_left)} version(s) left degraded "
            f"({len(self.left('degraded_multipart'))} of them multipart written degraded, never queued), "
            f"the heal queue empty {self.settled_seconds or 0:.1f} s after the faults ended"
        )
        lines = [
            (
                f"chaos run: {self.seconds:.0f} s of workload, {self.clients} clients, {self.gateways} gateways, "
                f"9 nodes, PostgreSQL"
            ),
            "  faults        " + ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())),
            (
                f"  acked         {sum(self.acked[k] for k in ('put', 'mpu'))} writes ({self.acked['put']} PUT, "
                f"{self.acked['mpu']} multipart; {self.acked_bytes / (1 << 20):.0f} MiB), "
                f"{self.acked['delete']} deletes, {self.acked['delete_version']} version deletes"
            ),
            (
                f"  unknown       {sum(self.unknown.values())} writes/deletes answered with an error "
                f"({self.took_effect} found in effect afterwards)"
            ),
            (
                f"  reads         {sum(self.reads.values())} during the run "
                f"({', '.join(f'{k} {v}' for k, v in sorted(self.reads.items()))}), {self.final_reads} after"
            ),
            f"  lost          {lost}",
            f"  corrupt       {corrupt}",
            (
                f"  cut short     {cut['cut_short_overwrite']} by an overwrite or delete (issue 14 item 1), "
                f"{cut['cut_short']} otherwise; {self.reads.get('cut_by_gateway_kill', 0)} by their gateway's SIGKILL"
            ),
            "  errors        "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.errors.items(), key=lambda kv: -kv[1])) or "none"),
            f"  redundancy    {red} (bound {REDUNDANCY_DEADLINE * SCALE:.0f} s)",
            (
                f"  bitrot        {sum(self.bitrot.values())} shards corrupted: {self.bitrot.get('healed', 0)} healed "
                f"after a read met them, {self.bitrot.get('collected', 0)} removed with their version, "
                f"{self.latent_bitrot} latent (parity) left for the deep scan; deep heal: "
                f"healed {self.scrub.get('healed', '?')}, failed {self.scrub.get('failed', '?')}, "
                f"unrecoverable {self.scrub.get('unrecoverable', '?')}"
            ),
            (
                f"  orphans       {len(self.orphans)} shard files (+{len(self.orphans_heal_race)} written by a heal "
                f"after the GC of their version), {len(self.temp_files)} temp files (+{len(self.temp_after_freeze)} "
                f"header-only ones created as a frozen node resumed, +{self.crash_leftovers} left by node crashes "
                f"for the node's sweeper)"
            ),
            f"  probes        {json.dumps(self.probes, sort_keys=True)}",
            "  verification  " + ", ".join(f"{k} {v:.0f} s" for k, v in self.phases.items()),
        ]
        if self.findings:
            lines.append(f"  findings ({len(self.findings)}, first 20):")
            lines += [f"    {f}" for f in self.findings[:20]]
        return "\n".join(lines)

    def to_json(self) -> str:
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.dumps({k: dict(v) if isinstance(v, Counter) else v for k, v in doc.items()}, indent=2, default=str)


class Verifier:
    def __init__(self, ch: Chaos, workload: Workload, report: Report) -> None:
        self.ch, self.c, self.ledger, self.workload, self.report = ch, ch.cluster, ch.ledger, workload, report
        self.findings: list[Finding] = []

    def find(self, f: Finding) -> None:
        self.findings.append(f)

    # -- 1. read back ------------------------------------------------------------------
    def read_final(self, bucket: str, key: str, version_id: str = "") -> None:
        """One final read, retried while it errors (the cluster is whole, but a gateway may still be
        reconnecting); judged against the ledger with every op finished."""
        now = time.monotonic()
        if version_id:
            settled, states = self.ledger.version_states(bucket, key, version_id, now)
        else:
            settled, states = self.ledger.latest_states(bucket, key, now, now)
        what = f" [final GET{' of version ' + version_id if version_id else ''}]"
        for attempt in range(5):
            gw = attempt % len(self.c.gateways)
            s = Stream(s3_client(self.c.urls[gw]), Ledger(), gw, bucket, key, version_id)
            s.read()
            r = s.r
            if r.status == 200 and not r.cut_error:
                got = s.hash.hexdigest()
                break
            if r.status == 404 and r.code in ("NoSuchKey", "NoSuchVersion"):
                got = ABSENT
                break
            time.sleep(1 + attempt)
        else:
            self.find(
                Finding(
                    "unreadable",
                    bucket,
                    key,
                    version_id,
                    describe_states([settled]),
                    f"{r.status} {r.code} {r.cut_error}".strip(),
                    what,
                )
            )
            return
        self.report.final_reads += 1
        if got == settled:
            return
        if got in states:
            self.report.took_effect += 1  # a write or delete answered with an error had committed
            return
        ever = {op.sha for op in self.ledger.key_ops(bucket, key) if op.writes}
        if settled == ABSENT:
            category = "resurrected" if got in ever else "corrupt"  # a delete acknowledged, bytes back
        else:
            category = "lost" if got == ABSENT or got in ever else "corrupt"
        self.find(
            Finding(
                category,
                bucket,
                key,
                version_id,
                describe_states([settled]) + " (acknowledged)",
                describe_states([got]),
                what,
            )
        )

    def read_back(self) -> None:
        jobs: list[tuple[str, str, str]] = []
        for bucket, key in self.ledger.key_list():
            jobs.append((bucket, key, ""))
            if bucket == VERSIONED:
                jobs += [
                    (bucket, key, op.version_id)
                    for op in self.ledger.key_ops(bucket, key)
                    if op.writes and op.ok and op.version_id
                ]
        with ThreadPoolExecutor(4) as ex:
            list(ex.map(lambda j: self.read_final(*j), jobs))
        self.check_listings()

    def check_listings(self) -> None:
        """Every listed version is an acknowledged write or one answered with an error (its bytes are
        then one of those writes'); the plain bucket lists exactly the keys that read back."""
        s3 = s3_client(self.c.urls[0])
        acked = {op.version_id for op in self.ledger.all_ops() if op.ok and op.version_id}
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=VERSIONED):
            for v in page.get("Versions", []):
                if v["VersionId"] in acked:
                    continue
                key, vid = v["Key"], v["VersionId"]
                failed = {op.sha for op in self.ledger.key_ops(VERSIONED, key) if op.writes and not op.ok}
                s = Stream(s3, Ledger(), 0, VERSIONED, key, vid)
                s.read()
                got = s.hash.hexdigest()
                if s.r.status != 200 or s.r.cut_error:
                    self.find(
                        Finding(
                            "unreadable",
                            VERSIONED,
                            key,
                            vid,
                            "a listed version reads",
                            f"{s.r.status} {s.r.code} {s.r.cut_error}".strip(),
                        )
                    )
                elif got in failed:
                    self.report.took_effect += 1  # a write answered with an error had committed
                else:
                    self.find(
                        Finding(
                            "unexpected_version",
                            VERSIONED,
                            key,
                            vid,
                            "only versions the clients wrote",
                            f"sha256 {got[:16]}…",
                        )
                    )
        for bucket in BUCKETS:
            listed: set[str] = set()
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                listed |= {o["Key"] for o in page.get("Contents", [])}
            for key in {k for b, k in self.ledger.key_list() if b == bucket}:
                settled, states = self.ledger.latest_states(bucket, key, time.monotonic(), time.monotonic())
                present = {s != ABSENT for s in states}
                if (key in listed) not in present:
                    self.find(
                        Finding(
                            "listing",
                            bucket,
                            key,
                            "",
                            "listed" if settled != ABSENT else "not listed",
                            "listed" if key in listed else "not listed",
                        )
                    )

    # -- 2. redundancy ------------------------------------------------------------------
    def classify(self, problem: dict[str, Any]) -> dict[str, Any]:
        bucket, key = problem["object"].split("/", 1)
        vid = problem["version_id"]
        rows = self.c.layouts(
            f"AND bucket = '{bucket}' AND key = convert_to('{sql(key)}', 'UTF8') AND version_id = '{sql(vid)}'"
        )
        layout = rows[0][3] if rows else {}
        missing = missing_shards(layout)
        kind = "degraded_multipart" if "parts" in layout and any(part is not None for part, _ in missing) else "other"
        return {**problem, "kind": kind, "recorded_missing": missing, "data_ids": data_ids(layout)}

    def wait_redundancy(self, faults_ended: float) -> None:
        end = deadline(REDUNDANCY_DEADLINE)
        quiet = 0
        while True:
            rep = self.c.admin_json("heal", "--dry-run")
            problems = rep.get("problems", [])
            if not problems and not (
                rep.get("would_heal") or rep.get("offline") or rep.get("failed") or rep.get("unrecoverable")
            ):
                self.report.redundancy_seconds = time.monotonic() - faults_ended
                self.report.settled_seconds = self.report.redundancy_seconds
                self.report.redundancy_left = []
                return
            queued = self.c.info()["healing"].get("heal_queued", 0)
            quiet = quiet + 1 if queued == 0 else 0
            if quiet == 1:
                self.report.settled_seconds = time.monotonic() - faults_ended
            if quiet >= 2 or time.monotonic() > end:
                # nothing queued twice in a row: what is left stays (the scanner runs hourly)
                self.report.redundancy_left = [self.classify(p) for p in problems]
                return
            time.sleep(1.0)

    # -- 3. every block ------------------------------------------------------------------
    def still_corrupt(self, ids: list[str]) -> list[tuple[str, int]]:
        out = []
        for path, (d, index, digest) in self.ch.corrupted.items():
            if d in ids and os.path.exists(path):
                with open(path, "rb") as f:
                    if hashlib.sha256(f.read()).hexdigest() == digest:
                        out.append((path, index))
        return out

    def bitrot_outcomes(self) -> dict[str, int]:
        """What became of each injected corrupt shard: rewritten by a heal, removed with its
        version (overwritten, deleted), or still there."""
        out = {"healed": 0, "collected": 0, "still_corrupt": 0}
        for path, (_, _, digest) in self.ch.corrupted.items():
            try:
                with open(path, "rb") as f:
                    same = hashlib.sha256(f.read()).hexdigest() == digest
            except FileNotFoundError:
                out["collected"] += 1
                continue
            out["still_corrupt" if same else "healed"] += 1
        return out

    def deep(self) -> None:
        self.report.bitrot = self.bitrot_outcomes()
        rep = self.c.admin_json("heal", "--deep", "--dry-run")
        degraded = {(p["object"], p["version_id"]) for p in self.report.left("degraded_multipart")}
        for p in rep.get("problems", []):
            c = self.classify(p)
            bad = self.still_corrupt(c["data_ids"])
            if bad:
                self.report.latent_bitrot += len(bad)
                read_side = [path for path, index in bad if index < K]
                if read_side:
                    self.find(
                        Finding(
                            "data_bitrot_unhealed",
                            *p["object"].split("/", 1),
                            p["version_id"],
                            "a corrupt data shard found by the read-back and healed",
                            f"still corrupt: {read_side}",
                        )
                    )
            elif (p["object"], p["version_id"]) not in degraded:
                self.report.deep_unexplained.append(c)
                self.find(
                    Finding(
                        "deep_unexplained",
                        *p["object"].split("/", 1),
                        p["version_id"],
                        "every block good (no injected bitrot left in it)",
                        f"{p['outcome']}: {p['detail']}",
                    )
                )
        out = self.c.admin("heal", "--deep", "--json")
        self.report.scrub = _summary(out.stdout)
        after = self.c.admin_json("heal", "--deep", "--dry-run")
        self.report.after_scrub = {
            k: after.get(k) for k in ("scanned", "healthy", "would_heal", "offline", "failed", "unrecoverable")
        }
        self.report.after_scrub["problems"] = after.get("problems", [])[:20]

    # -- 4. orphans ----------------------------------------------------------------------
    def leftovers(self) -> None:
        def settled() -> dict[str, Any]:
            h = self.c.info()["healing"]
            return {k: h.get(k) for k in ("gc_queued", "write_intents", "heal_queued", "heal_failed")}

        try:
            h = wait_until(
                settled,
                f"the GC queue and the write intents to empty (reaper grace {ORPHAN_GRACE:.0f} s, "
                f"GC grace {GC_GRACE:.0f} s)",
                timeout=max(ORPHAN_GRACE, GC_GRACE) + 90,
                until=lambda h: h["gc_queued"] == 0 and h["write_intents"] == 0,
                interval=1.0,
            )
        except AssertionError as e:
            self.find(Finding("leftover_queue", "", "", "", "empty GC queue and no write intent", str(e)))
            h = settled()
        self.report.leftovers = h
        self.report.heal_failed = h.get("heal_failed") or 0
        referenced = self.c.referenced_data_ids()
        orphans = {d: paths for d, paths in self.c.shard_files().items() if d not in referenced}
        healed = self.c.healed_data_ids(set(orphans))
        for d, paths in sorted(orphans.items()):
            # a shard set a heal rebuilt (the gateway's log names it) whose version was replaced and
            # garbage-collected meanwhile: the heal's late shard has no write intent, so no reaper sees it
            raced = d in healed
            (self.report.orphans_heal_race if raced else self.report.orphans).extend(paths)
            for p in paths:
                self.find(
                    Finding(
                        "orphan_shard_heal_race" if raced else "orphan_shard",
                        "",
                        "",
                        "",
                        "only shards a stored layout references",
                        p + (" (a heal rebuilt this shard set; its version was gone)" if raced else ""),
                    )
                )

        def temp() -> tuple[list[str], list[str], int]:
            """(temp files unexplained, header-only ones created as a frozen node resumed, crash leftovers)"""
            unexpected, thawed, crash = [], [], 0
            for i, node in enumerate(self.c.nodes.nodes):
                last_kill = max(self.c.node_kills.get(i, [0.0]))
                for name in node.tmp_files():
                    path = os.path.join(node.data, "tmp", name)
                    try:
                        st = os.stat(path)
                    except FileNotFoundError:
                        continue
                    written = time.monotonic() - (time.time() - st.st_mtime)
                    if last_kill and written <= last_kill + 1.0:
                        crash += 1  # last written before the node's last SIGKILL: its sweeper's
                    elif st.st_size <= SHARD_HEADER and any(
                        t - 1.0 <= written <= t + 30.0 for t in self.c.node_thaws.get(i, [])
                    ):
                        # nothing but the header, created as the node came back from SIGSTOP: an upload
                        # the gateway had given up on (its connection gone) whose handler was cancelled
                        # while its temp file was being created
                        thawed.append(path)
                    else:
                        unexpected.append(path)
            return unexpected, thawed, crash

        try:
            unexpected, thawed, crash = wait_until(
                temp, "no temp files on the nodes but crash leftovers", until=lambda t: not t[0], interval=1.0
            )
        except AssertionError:
            unexpected, thawed, crash = temp()
            self.report.temp_diagnosis = self.diagnose_temp(unexpected)
        thaw = "header only, created as the node resumed from SIGSTOP"
        for category, paths in (("temp_file", unexpected), ("temp_file_after_freeze", thawed)):
            for p in paths:
                self.find(
                    Finding(
                        category,
                        "",
                        "",
                        "",
                        "no temp file but a crashed node's",
                        f"{p} ({self.report.temp_diagnosis.get(p, thaw)})",
                    )
                )
        self.report.temp_files, self.report.temp_after_freeze, self.report.crash_leftovers = unexpected, thawed, crash

    def diagnose_temp(self, paths: list[str]) -> dict[str, str]:
        """For temp files that stay: their size and age against the fault log, and whether they go
        once the gateways are restarted (then a gateway held the upload's connection open)."""
        t0 = self.c.events[0][0] if self.c.events else 0.0
        out = {}
        for p in paths:
            try:
                st = os.stat(p)
            except FileNotFoundError:
                continue
            written = time.monotonic() - (time.time() - st.st_mtime) - t0
            out[p] = f"{st.st_size} B, last written at {written:.1f}s of the fault log"
        for g in range(len(self.c.gateways)):
            gw = self.c.gateways[g]
            if gw is not None:
                gw.stop()
            self.c.start_gateway(g)
        gone = [p for p in paths if not os.path.exists(p)]
        end = deadline(30)
        while len(gone) < len(paths) and time.monotonic() < end:
            time.sleep(0.5)
            gone = [p for p in paths if not os.path.exists(p)]
        for p in out:
            out[p] += (
                "; removed once the gateways restarted" if p in gone else "; still there after the gateways restarted"
            )
        return out

    # -- all ----------------------------------------------------------------------------
    def run(self, faults_ended: float) -> Report:
        steps = [
            ("whole", lambda: (self.c.wait_online(self.c.nodes.n), self.c.wait_serving())),
            ("read_back", self.read_back),
            ("part_intents", lambda: self.report.probes.__setitem__("part_intents", probe_part_intents(self.ch))),
            ("redundancy", lambda: self.wait_redundancy(faults_ended)),
            ("deep", self.deep),
            ("leftovers", self.leftovers),
        ]
        for name, step in steps:
            t = time.monotonic()
            step()
            self.report.phases[name] = round(time.monotonic() - t, 1)
        return self.finish()

    def finish(self) -> Report:
        r, led = self.report, self.ledger
        for op in led.all_ops():
            if op.ok:
                r.acked[op.kind] += 1
                r.acked_bytes += op.size
            elif op.maybe:
                r.unknown[op.kind] += 1
        r.reads = dict(led.reads)
        r.errors = dict(led.errors)
        found = led.findings + self.findings
        r.findings = [str(f) for f in found]
        r.categories = dict(Counter(f.category for f in found))
        r.faults = dict(self.ch.faults)
        r.probes.update({k: v for k, v in self.ch.probes.items() if k not in r.probes})
        r.crashes = list(self.workload.crashes)
        t0 = self.c.events[0][0] if self.c.events else 0.0
        r.events = [f"{t - t0:7.1f}s {what}" for t, what in self.c.events]
        return r


def sql(text: str) -> str:
    return text.replace("'", "''")


def _summary(stdout: str) -> dict[str, Any]:
    try:
        doc = json.loads(stdout)
    except ValueError:
        return {"error": stdout[-500:]}
    return {k: doc.get(k) for k in ("scanned", "healthy", "healed", "shards_healed", "failed", "unrecoverable")}
