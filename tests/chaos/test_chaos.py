"""Chaos: a workload with a ledger of every acknowledged write, against nine nodes and two
gateways on PostgreSQL, while nodes and gateways are killed, a node frozen, shards
corrupted, a disk filled and PostgreSQL restarted; then everything acknowledged must read
back byte-exact, redundancy must come back on its own, and nothing may be left over.

The short schedule (one of each fault, small objects, three clients) runs in ``make test``:
``test_short_schedule`` holds the guarantees for any schedule (docs/reliability.md); the tests
after it hold what issue 14 fixed: no GET cut short, degraded multipart writes healed, part
write intents cleared, no temp file left. Two races still open are counted in the figures
and have a test marked ``xfail(strict=False)`` (a heal racing the GC leaves an unreferenced
shard; a node frozen mid-upload leaves a header-only temp file until its sweeper). The long schedule
runs under ``make chaos`` (``CHAOS_SECONDS``, default 600) and prints the figures.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from tests.chaos import faults
from tests.chaos.run import run
from tests.chaos.verify import Report
from tests.chaos.workload import MiB, Shape

#: the findings that are data loss or wrong bytes, at any time: never acceptable
FATAL = ("corrupt", "missing", "lost", "resurrected", "unexpected_version", "unreadable", "listing")


def explain(report: Report, categories: tuple[str, ...] = ()) -> str:
    bad = report.of(*categories) if categories else report.findings
    return "\n".join(bad[:30]) + "\n\n" + report.figures() + "\n\nevents:\n" + "\n".join(report.events)


def check_run(report: Report) -> None:
    """The guarantees that hold today, for any schedule."""
    assert not report.crashes, "the workload itself crashed:\n" + "\n".join(report.crashes)
    # no acknowledged write lost, no 200 with wrong bytes, during the run or after
    assert not report.of(*FATAL), explain(report, FATAL)
    # a 200 whose body ends early is counted under "cut short" (a gateway SIGKILLed mid-read
    # may cut one); the short schedule's own tests below hold that nothing else does.
    # Every version back to full redundancy without an operator (degraded multipart versions
    # are counted apart and tested below)
    other = report.left("other")
    assert not other, (
        "left degraded after the heal queue emptied:\n" + "\n".join(map(str, other[:20])) + explain(report)
    )
    # the deep check finds nothing but bitrot injected into shards no read fetches; a deep heal
    # repairs that and everything else, and then every block of every version checks out
    assert not report.of("deep_unexplained", "data_bitrot_unhealed"), explain(
        report, ("deep_unexplained", "data_bitrot_unhealed")
    )
    assert report.scrub.get("failed") == 0 and report.scrub.get("unrecoverable") == 0, explain(report)
    after = report.after_scrub
    assert after.get("would_heal") == 0 and after.get("healthy") == after.get("scanned"), (
        f"after the deep heal: {after}\n" + explain(report)
    )
    assert report.heal_failed == 0, explain(report)
    # no orphan shard once the reaper's and the GC's grace have passed (temp files and open
    # write intents are counted apart and tested below)
    assert not report.of("orphan_shard"), explain(report, ("orphan_shard",))


# --------------------------------------------------------------------------- short schedule

SHORT = Shape(clients=3, keys=16, max_put=2 * MiB, max_mpu=7 * MiB, mpu_share=0.15)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    report = run(
        str(tmp_path_factory.mktemp("chaos")),
        SHORT,
        faults.short_schedule,
        seed=14,
        warmup=6.0,
        hold=(3.0, 5.0),
        bitrot_files=6,
    )
    print("\n" + report.figures())
    yield report


def test_short_schedule(short_run: Report) -> None:
    assert set(short_run.faults) == set(faults.FAULTS), short_run.faults
    assert short_run.acked["put"] and short_run.acked["mpu"] and short_run.acked["delete"], short_run.figures()
    assert short_run.reads.get("ok"), short_run.figures()
    check_run(short_run)


def test_short_schedule_reads_never_cut_short_by_an_overwrite(short_run: Report) -> None:
    probe = short_run.probes["read_during_overwrite"]
    assert probe and all(p["written"] for p in probe), probe
    assert not short_run.of("cut_short_overwrite"), explain(short_run, ("cut_short_overwrite",))


def test_short_schedule_reads_never_cut_short_otherwise(short_run: Report) -> None:
    assert not short_run.of("cut_short"), explain(short_run, ("cut_short",))


def test_short_schedule_degraded_multipart_writes_are_healed(short_run: Report) -> None:
    assert short_run.probes.get("degraded_writes"), "the probe never ran"
    left = short_run.left("degraded_multipart")
    assert not left, "multipart versions left degraded with an empty heal queue:\n" + "\n".join(map(str, left))
    assert short_run.redundancy_seconds is not None, explain(short_run)


@pytest.mark.xfail(
    strict=False,
    reason="known limit 1 (docs/reliability.md): a heal's shard write given up on a frozen node "
    "and completed by the node after the GC of a replaced version (a race: strict=False)",
)
def test_short_schedule_no_orphan_shard_from_a_heal_racing_the_gc(short_run: Report) -> None:
    assert not short_run.orphans_heal_race, explain(short_run, ("orphan_shard_heal_race",))


@pytest.mark.xfail(
    strict=False,
    reason="known limit 2 (docs/reliability.md), found by the chaos suite: an upload "
    "dropped while its node is frozen leaves a header-only temp file once the "
    "node resumes (the cancellation while creating it is fixed; strict=False until runs show no other path)",
)
def test_short_schedule_no_temp_file_left_by_a_frozen_node(short_run: Report) -> None:
    assert short_run.probes.get("uploads_given_up"), "the probe never ran"
    assert not short_run.temp_after_freeze, explain(short_run, ("temp_file_after_freeze",))


def test_short_schedule_part_write_intents_are_cleared(short_run: Report) -> None:
    probe = short_run.probes["part_intents"]
    assert probe["outcome"] == "cleared", f"a completed multipart upload's part intents: {probe}"
    assert not short_run.of("leftover_queue"), explain(short_run, ("leftover_queue",))


def test_short_schedule_no_other_temp_file_left(short_run: Report) -> None:
    assert not short_run.of("temp_file"), explain(short_run, ("temp_file",))


# --------------------------------------------------------------------------- long schedule


@pytest.mark.skipif(not os.environ.get("CHAOS_SECONDS"), reason="the long schedule runs under `make chaos`")
def test_long_schedule() -> None:
    """The processes' logs are kept (``CHAOS_DIR``, default a new /tmp/s3gw-chaos-*), the shard data
    is not."""
    seconds = float(os.environ["CHAOS_SECONDS"])
    root = os.environ.get("CHAOS_DIR") or tempfile.mkdtemp(prefix="s3gw-chaos-")
    shape = Shape(
        clients=int(os.environ.get("CHAOS_CLIENTS", "6")),
        keys=int(os.environ.get("CHAOS_KEYS", "64")),
        max_put=20 * MiB,
        max_mpu=20 * MiB,
        mpu_share=0.25,
    )
    seed = int(os.environ.get("CHAOS_SEED", "0") or 0) or int.from_bytes(os.urandom(4), "big")
    try:
        report = run(
            root,
            shape,
            lambda ch: faults.long_schedule(ch, seconds),
            seed=seed,
            warmup=20.0,
            hold=(5.0, 20.0),
            bitrot_files=10,
        )
    finally:
        for shards in glob.glob(os.path.join(root, "cluster", "node*", "shards")):
            shutil.rmtree(shards, ignore_errors=True)
    print(f"\nseed {seed}, logs in {root}\n" + report.figures() + "\n\nevents:\n" + "\n".join(report.events))
    out = os.environ.get("CHAOS_REPORT")
    if out:
        with open(out, "w") as f:
            f.write(report.to_json())
    check_run(report)
